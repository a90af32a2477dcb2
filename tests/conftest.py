from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings

# CI replays the same examples on every run (no flaky property tests); local runs keep exploring
# new examples, which is how edge cases get found and then pinned as regular tests.
settings.register_profile("ci", derandomize=True, deadline=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile("ci" if os.environ.get("CI") else "dev")

ROOT = Path(__file__).resolve().parents[1]
PROTOCOLS = ROOT / "protocols"
REFERENCE = ROOT / "tests" / "reference"


@pytest.fixture(scope="session")
def root() -> Path:
    return ROOT


@pytest.fixture(scope="session")
def example_protocol_paths() -> list[Path]:
    return sorted(p for p in PROTOCOLS.glob("*.yaml") if p.name != "programme.yaml")
