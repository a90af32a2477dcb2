"""Fixtures of the allocation-service tests: protocols, databases (SQLite and a throw-away
PostgreSQL cluster), services with one user per role, and in-process API clients."""

from __future__ import annotations

import itertools
import os
import re
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]
SMS = ROOT / "protocols" / "sms-link-worker.yaml"
CLUSTER = ROOT / "protocols" / "peer-support-neighbourhoods.yaml"
SITES = ("Elm Road", "Hill Surgery", "Market Street", "Riverside")
ROLES = ("enroller", "statistician", "auditor", "admin")

MINIMISATION_BLOCK = """randomisation:
  scheme: minimisation
  minimisation: {factors: [practice, female], weights: {practice: 2, female: 1}, probability: 0.8}
  seed: 99
"""

THREE_ARMS = """  - id: letter
    name: Letter from the link worker
    role: intervention
    ratio: 1
    mechanism: {east: [attractive], mindspace: [messenger], contrast: A signed letter from the link worker.}
"""


def _variant(text: str, *, scheme: str = "stratified_block", three_arms: bool = False, seed: bool = True) -> str:
    if scheme == "minimisation":
        text = re.sub(r"randomisation:\n(  .*\n)+", MINIMISATION_BLOCK, text)
    if three_arms:
        # 2:1:1 with blocks of 4 and 8 (multiples of the ratio sum).
        text = text.replace("    role: control\n    description: The standard appointment letter sent at referral.\n"
                            "    ratio: 1\n", "    role: control\n    description: The standard appointment letter "
                            "sent at referral.\n    ratio: 2\n")
        text = text.replace("\nunit:\n", "\n" + THREE_ARMS + "\nunit:\n", 1)
        text = text.replace("block_sizes: [4, 6, 8]", "block_sizes: [4, 8]")
    if not seed:
        text = re.sub(r"\n  seed: \d+\n", "\n", text, count=1)
    return text


@pytest.fixture(scope="session")
def protocol_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("protocols")
    base = SMS.read_text()
    (d / "sms.yaml").write_text(base)
    (d / "minimisation.yaml").write_text(_variant(base, scheme="minimisation"))
    (d / "minimisation3.yaml").write_text(_variant(base, scheme="minimisation", three_arms=True))
    (d / "block3.yaml").write_text(_variant(base, three_arms=True))
    (d / "seedless.yaml").write_text(_variant(base, seed=False))
    (d / "block.yaml").write_text(base.replace("  scheme: stratified_block\n  strata: [practice]\n"
                                               "  block_sizes: [4, 6, 8]", "  scheme: block\n  block_sizes: [4]"))
    return d


def load(path: Path):
    from bitframe.protocol import load_protocol_with_source

    return load_protocol_with_source(path)


# --------------------------------------------------------------------------- PostgreSQL


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One throw-away cluster per test process (xdist worker), on 127.0.0.1."""
    from bitframe.service.testing import TemporaryPostgres, postgres_bindir

    if postgres_bindir() is None:
        pytest.skip("PostgreSQL server binaries not found (Debian: apt-get install postgresql; "
                    "see requirements-system.txt)")
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        pytest.skip("running as root but `runuser` is missing: cannot start PostgreSQL as user postgres")
    pg = TemporaryPostgres()
    try:
        pg.start()
    except (RuntimeError, OSError, KeyError) as exc:
        pg.stop()
        pytest.skip(f"could not start a throw-away PostgreSQL cluster: {exc}")
    yield pg
    pg.stop()


_db_counter = itertools.count(1)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, empty database of each kind."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'service.db'}"
    pg = request.getfixturevalue("postgres")
    return pg.create_database(f"t{os.getpid()}_{next(_db_counter)}")


@pytest.fixture()
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'service.db'}"


# --------------------------------------------------------------------------- services


@dataclass
class Deployment:
    """A service with one active user per role (enrollers at every site) and their tokens."""

    service: Any
    tokens: dict[str, str]
    users: dict[str, Any]

    def user(self, name: str) -> Any:
        return self.users[name]


def deploy(url: str, protocol: Path, **settings: Any) -> Deployment:
    from bitframe.service.core import Service, cli_actor

    svc = Service.open(url, load(protocol), **settings)
    actor = cli_actor()
    tokens, users = {}, {}
    for role in ROLES:
        if role == "enroller":
            continue
        users[role], tokens[role] = svc.add_user(actor, role, role)
    for i, site in enumerate(SITES):
        name = f"enroller{i + 1}"
        users[name], tokens[name] = svc.add_user(actor, name, "enroller", site=site)
    users["enroller"], tokens["enroller"] = users["enroller1"], tokens["enroller1"]
    return Deployment(svc, tokens, users)


@pytest.fixture()
def sms(sqlite_url: str) -> Iterator[Deployment]:
    """sms-link-worker (stratified blocks by practice = site), 40 slots per stratum, alert at 5 left."""
    d = deploy(sqlite_url, SMS, site_column="practice", list_size=40, low_list=5)
    yield d
    d.service.close()


@pytest.fixture()
def client_for() -> Iterator[Any]:
    """``client_for(deployment)`` -> a Starlette TestClient on the app (in process)."""
    import warnings

    with warnings.catch_warnings():
        # Starlette suggests another HTTP client package for its TestClient; httpx works.
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    from bitframe.service.app import create_app

    clients = []

    def make(d: Deployment) -> TestClient:
        c = TestClient(create_app(d.service), raise_server_exceptions=False)
        clients.append(c)
        return c

    yield make
    for c in clients:
        c.close()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def sign_in(client: Any, token: str, **kwargs: Any) -> Any:
    """Sign in through the page as a browser does: load the form (which sets the pre-session
    cookie its CSRF token is bound to), then post the token with that CSRF token."""
    import re

    page = client.get("/")
    csrf = re.search(r'name="csrf" value="([0-9a-f]*)"', page.text)
    return client.post("/login", data={"token": token, "csrf": csrf.group(1) if csrf else ""}, **kwargs)
