"""Concurrent enrolment against a real server process, on SQLite and on PostgreSQL.

Acceptance (issue): 50 concurrent clients enrol 5,000 participants; no slot used twice, no
slot skipped, blocks intact, every request answered. The full size runs with ``-m slow``;
the default run uses 20 clients x 500 participants and checks the same properties.
The reference for "intact" is the sealed list the randomisation engine generated: every
allocation must be its slot's arm, and every fully used block must hold each arm exactly
``size * r_j / R`` times.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from bitframe.service.core import Service
from bitframe.service.testing import ServerProcess, run_load, sealed_list_problems
from conftest import SITES, SMS, deploy


def participants(n: int, tokens: dict[str, str], seed: int, values=None) -> list[tuple[str, str, dict]]:
    """``n`` participants spread evenly over the four sites, in random order."""
    rng = np.random.default_rng(seed)
    sites = rng.permutation(np.arange(n) % 4)
    out = []
    for i, s in enumerate(sites):
        v = values(rng) if values else {}
        out.append((f"C{i:05d}", tokens[f"enroller{s + 1}"], v))
    return out


def check_sealed_run(url: str, result, n: int) -> Service:
    assert len(result.outcomes) == n
    bad = [o for o in result.outcomes if o.status != 200]
    assert not bad, bad[:5]  # every request answered, and answered with an allocation
    svc = Service.open(url)
    alloc = svc.allocations_frame()
    slots = svc.sealed_list_frame()
    assert len(alloc) == n and alloc["participant_id"].is_unique
    assert sorted(alloc["sequence"]) == list(range(1, n + 1))
    problems = sealed_list_problems(alloc, slots, svc.plan.ratio, svc.plan.arms)
    assert problems == []
    acked = {pid: body["arm"] for pid, body in result.acknowledged.items()}
    assert acked == dict(zip(alloc["participant_id"], alloc["arm"]))
    refs = {pid: body["reference"] for pid, body in result.acknowledged.items()}
    assert refs == dict(zip(alloc["participant_id"], alloc["reference"]))
    report = svc.verify_audit()
    assert report.ok, report.report()
    return svc


def run_sealed(db_url: str, n: int, clients: int, tmp_path) -> None:
    per_stratum = n // 4
    d = deploy(db_url, SMS, site_column="practice", list_size=per_stratum + 50)
    d.service.close()
    with ServerProcess(SMS, db_url, log_path=tmp_path / "server.log") as server:
        result = run_load(server.base_url, participants(n, d.tokens, seed=n), clients=clients)
    svc = check_sealed_run(db_url, result, n)
    try:
        counts = svc.status(d.user("statistician"))
        assert all(s["used"] == per_stratum for s in counts["strata"])
    finally:
        svc.close()
    print(f"\n{clients} clients x {n} enrolments on {db_url.split(':')[0]}: {result.summary()}")


def test_concurrent_enrolment(db_url, tmp_path):
    run_sealed(db_url, 500, 20, tmp_path)


@pytest.mark.slow
def test_concurrent_enrolment_full_size(db_url, tmp_path):
    run_sealed(db_url, 5000, 50, tmp_path)


def test_concurrent_enrolment_fails_closed_when_a_stratum_runs_out(sqlite_url, tmp_path):
    """Riverside's list has 30 slots and 60 people arrive at once: exactly 30 are allocated,
    the rest get 503, and no slot is used twice."""
    d = deploy(sqlite_url, SMS, site_column="practice", list_size=30, low_list=5)
    d.service.close()
    people = [(f"R{i:03d}", d.tokens["enroller4"], {}) for i in range(60)]
    with ServerProcess(SMS, sqlite_url, log_path=tmp_path / "server.log") as server:
        result = run_load(server.base_url, people, clients=20)
    statuses = sorted(o.status for o in result.outcomes)
    assert statuses == [200] * 30 + [503] * 30
    assert {o.body["error"]["code"] for o in result.outcomes if o.status == 503} == {"list_exhausted"}
    svc = Service.open(sqlite_url)
    try:
        alloc = svc.allocations_frame()
        assert sorted(alloc["position"]) == list(range(1, 31))
        assert sealed_list_problems(alloc, svc.sealed_list_frame(), svc.plan.ratio, svc.plan.arms) == []
        actions = svc.audit_frame()["action"].value_counts().to_dict()
        assert actions["enrol"] == 30 and actions["enrol_refused"] == 30
        assert actions["low_list_alert"] == 1 and actions["list_exhausted_alert"] == 1
        assert svc.verify_audit().ok
    finally:
        svc.close()


def test_concurrent_minimisation_through_the_server(db_url, tmp_path, protocol_dir):
    """20 clients x 300 minimised enrolments; the engine's batch minimisation, replayed in the
    service's sequence order with the same seed, reproduces every arm and probability."""
    from bitframe.randomise.minimisation import assign

    proto = protocol_dir / "minimisation3.yaml"
    d = deploy(db_url, proto, site_column="practice")
    d.service.close()
    people = participants(300, d.tokens, seed=3, values=lambda rng: {"female": int(rng.integers(0, 2))})
    with ServerProcess(proto, db_url, log_path=tmp_path / "server.log") as server:
        result = run_load(server.base_url, people, clients=20)
    assert [o.status for o in result.outcomes] == [200] * 300
    svc = Service.open(db_url)
    try:
        frame = svc.allocations_frame().sort_values("sequence")
        replay = assign({"practice": frame["practice"].to_numpy(), "female": frame["female"].to_numpy()},
                        (2, 1, 1), weights=(2.0, 1.0), imbalance="range", p=0.8, rng=99)
        assert [("usual", "sms", "letter")[i] for i in replay.arm] == frame["arm"].tolist()
        np.testing.assert_allclose(np.array([json.loads(p) for p in frame["probabilities"]]), replay.probabilities,
                                   atol=1e-12)
        assert {pid: b["arm"] for pid, b in result.acknowledged.items()} == dict(zip(frame["participant_id"],
                                                                                      frame["arm"]))
        assert svc.verify_audit().ok
    finally:
        svc.close()


def test_sites_are_spread_evenly_by_the_generator():
    """The load generator's own contract (so the per-stratum checks above mean what they say)."""
    people = participants(400, {f"enroller{i}": f"t{i}" for i in range(1, 5)}, seed=1)
    tokens = [p[1] for p in people]
    assert {t: tokens.count(t) for t in set(tokens)} == {f"t{i}": 100 for i in range(1, 5)}
    assert len(SITES) == 4
