"""Crash safety: the server is killed with SIGKILL in the middle of a load run; after a
restart every acknowledged enrolment is present, unchanged, the sealed list has no gap or
double use, and the audit chain verifies. Then the unacknowledged requests are resent:
each one is either found (committed just before the kill: returned as a repeat) or newly
allocated, never twice.
"""

from __future__ import annotations

import threading
import time

import pytest
from test_service_concurrency import participants

from bitframe.service.core import Service
from bitframe.service.testing import LoadResult, ServerProcess, run_load, sealed_list_problems
from conftest import SMS, deploy


def crash_and_recover(db_url: str, tmp_path, n: int, clients: int, kill_after: int) -> None:
    d = deploy(db_url, SMS, site_column="practice", list_size=n // 4 + 50)
    d.service.close()
    people = participants(n, d.tokens, seed=11)
    server = ServerProcess(SMS, db_url, log_path=tmp_path / "server.log").start()
    live = LoadResult()
    loader = threading.Thread(target=run_load, args=(server.base_url, people),
                              kwargs={"clients": clients, "result": live, "timeout": 30})
    loader.start()
    deadline = time.monotonic() + 120
    while len(live.acknowledged) < kill_after and time.monotonic() < deadline:
        time.sleep(0.005)
    server.kill()  # SIGKILL: no shutdown handler, no flush, mid-transaction
    loader.join(timeout=120)
    acked = live.acknowledged
    assert kill_after <= len(acked) < n, "the kill must land during the run"
    assert any(o.status is None for o in live.outcomes), "some requests must have been cut off"

    svc = Service.open(db_url)
    try:
        alloc = svc.allocations_frame()
        stored = dict(zip(alloc["participant_id"], zip(alloc["arm"], alloc["reference"])))
        for pid, body in acked.items():
            assert stored.get(pid) == (body["arm"], body["reference"]), pid
        assert sealed_list_problems(alloc, svc.sealed_list_frame(), svc.plan.ratio, svc.plan.arms) == []
        report = svc.verify_audit()
        assert report.ok, report.report()
        committed_unacked = set(stored) - set(acked)
    finally:
        svc.close()

    with ServerProcess(SMS, db_url, log_path=tmp_path / "server2.log") as again:
        resend = [p for p in people if p[0] not in acked]
        result = run_load(again.base_url, resend, clients=clients)
    assert [o.status for o in result.outcomes] == [200] * len(resend)
    repeats = {o.participant_id for o in result.outcomes if o.body["repeat"]}
    assert repeats == committed_unacked
    svc = Service.open(db_url)
    try:
        alloc = svc.allocations_frame()
        assert len(alloc) == n and alloc["participant_id"].is_unique
        assert sealed_list_problems(alloc, svc.sealed_list_frame(), svc.plan.ratio, svc.plan.arms) == []
        assert svc.verify_audit().ok
    finally:
        svc.close()
    print(f"\nkilled after {len(acked)} acknowledged of {n}; {len(committed_unacked)} committed but unacknowledged")


def test_sigkill_during_load(db_url, tmp_path):
    crash_and_recover(db_url, tmp_path, n=800, clients=20, kill_after=150)


@pytest.mark.slow
def test_sigkill_during_full_load(db_url, tmp_path):
    crash_and_recover(db_url, tmp_path, n=5000, clients=50, kill_after=2000)
