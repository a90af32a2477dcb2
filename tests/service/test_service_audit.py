"""The audit trail: the hash chain against an independent recomputation, the database's
refusal to update or delete, detection of every kind of tampering, and the migrations.

Reference: the chain construction (Haber & Stornetta 1991) as documented in
:mod:`bitframe.service.audit` is recomputed here with ``hashlib`` and ``json`` directly,
not with the service's code.
"""

from __future__ import annotations

import hashlib
import json

import pytest
import sqlalchemy as sa

from bitframe.service.audit import parse_anchor, verify_chain
from bitframe.service.core import Service
from bitframe.service.errors import Conflict
from conftest import SMS, deploy


@pytest.fixture()
def busy(db_url):
    """A deployment on each database with enrolments, a repeat, a conflict, a user change, an unblinding."""
    d = deploy(db_url, SMS, site_column="practice", list_size=20, low_list=2)
    svc = d.service
    for i in range(6):
        svc.enrol(d.user(f"enroller{i % 4 + 1}"), f"P{i}", {"female": i % 2}, eligible=True)
    svc.enrol(d.user("enroller1"), "P0", {"female": 0}, eligible=True)
    with pytest.raises(Conflict):
        svc.enrol(d.user("enroller1"), "P0", {"female": 1}, eligible=True)
    svc.revoke_user(d.user("admin"), "auditor")
    svc.unblind(d.user("admin"), "P3", "adverse event reported by the GP")
    yield d
    svc.close()


def raw_events(engine):
    with engine.connect() as conn:
        return [dict(r) for r in conn.execute(sa.text("SELECT * FROM audit_events ORDER BY seq")).mappings()]


def test_chain_matches_an_independent_recomputation(busy):
    events = raw_events(busy.service.engine)
    assert [e["seq"] for e in events] == list(range(1, len(events) + 1))
    prev = "0" * 64
    for e in events:
        record = {k: e[k] for k in ("seq", "ts", "actor", "role", "action", "target", "before_json", "after_json")}
        record["prev_hash"] = prev
        text = json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert e["prev_hash"] == prev
        assert e["hash"] == hashlib.sha256(text.encode("utf-8")).hexdigest()
        assert e["ts"].endswith("Z") and len(e["ts"]) == 27
        prev = e["hash"]
    with busy.service.engine.connect() as conn:
        head = conn.execute(sa.text("SELECT seq, hash FROM audit_head")).one()
    assert tuple(head) == (len(events), prev)
    actions = [e["action"] for e in events]
    assert actions[:1] == ["service_init"] and actions.count("enrol") == 6
    assert {"enrol_repeat", "enrol_conflict", "user_revoke", "unblind"} <= set(actions)
    # Each enrol event's 'after' is the allocation row as stored.
    first = json.loads(next(e for e in events if e["action"] == "enrol")["after_json"])
    assert first["participant_id"] == "P0" and first["sequence"] == 1 and first["position"] == 1
    report = busy.service.verify_audit()
    assert report.ok and report.n_allocations == 6 and report.head_hash == prev


def _refused(engine, sql):
    with pytest.raises(sa.exc.DBAPIError) as exc, engine.begin() as conn:
        conn.execute(sa.text(sql))
    return str(exc.value.orig)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE allocations SET arm = 'usual'",
        "DELETE FROM allocations WHERE participant_id = 'P1'",
        "UPDATE audit_events SET actor = 'someone' WHERE seq = 2",
        "DELETE FROM audit_events WHERE seq = 3",
        "UPDATE slots SET arm = 'sms' WHERE position = 10",
        "DELETE FROM slots WHERE position = 20",
        "UPDATE service_meta SET value = '1' WHERE key = 'seed'",
        "DELETE FROM service_meta",
    ],
)
def test_database_refuses_updates_and_deletes(busy, sql):
    message = _refused(busy.service.engine, sql)
    assert "append-only" in message
    assert busy.service.verify_audit().ok


def test_postgres_refuses_truncate(busy):
    if busy.service.engine.dialect.name != "postgresql":
        pytest.skip("TRUNCATE is PostgreSQL only")
    for table in ("allocations", "audit_events", "slots", "audit_head"):
        assert "refused" in _refused(busy.service.engine, f"TRUNCATE {table} CASCADE")


def test_audit_head_only_moves_forward_to_an_existing_event(busy):
    engine = busy.service.engine
    assert "advance" in _refused(engine, "UPDATE audit_head SET seq = seq - 1")
    assert "advance" in _refused(engine, "UPDATE audit_head SET seq = seq + 1, hash = 'x'")
    msg = _refused(engine, "INSERT INTO audit_events (seq, ts, actor, role, action, prev_hash, hash) "
                           "VALUES (1000, 't', 'a', 'admin', 'forged', 'x', 'y')")
    assert "does not extend the chain head" in msg
    assert "refused" in _refused(engine, "DELETE FROM audit_head")


def tamper(engine, *statements):
    """Run statements with the protective triggers out of the way, as a malicious DBA could."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for (name,) in conn.execute(sa.text("SELECT name FROM sqlite_master WHERE type = 'trigger'")).all():
                conn.execute(sa.text(f"DROP TRIGGER {name}"))
        else:
            for table in ("allocations", "audit_events", "audit_head", "allocation_factors"):
                conn.execute(sa.text(f"ALTER TABLE {table} DISABLE TRIGGER USER"))
        for s in statements:
            conn.execute(sa.text(s))


def codes(report):
    return {p.code for p in report.problems}


def test_edited_event_is_detected(busy):
    tamper(busy.service.engine, "UPDATE audit_events SET after_json = replace(after_json, 'adverse', 'routine') "
                                "WHERE action = 'unblind'")
    report = busy.service.verify_audit()
    assert not report.ok and codes(report) == {"edited_event"}
    seq = report.problems[0].seq
    assert raw_events(busy.service.engine)[seq - 1]["action"] == "unblind"


def test_deleted_event_is_detected(busy):
    tamper(busy.service.engine, "DELETE FROM audit_events WHERE seq = 5")
    report = busy.service.verify_audit()
    assert {"missing_events", "broken_link"} <= codes(report)
    assert any(p.seq == 6 for p in report.problems)


def test_deleted_enrolment_event_and_allocation_are_detected(busy):
    tamper(busy.service.engine,
           "DELETE FROM allocations WHERE participant_id = 'P2'")
    assert codes(busy.service.verify_audit()) == {"allocation_missing"}


def test_edited_allocation_is_detected(busy):
    tamper(busy.service.engine,
           "UPDATE allocations SET arm = CASE arm WHEN 'usual' THEN 'sms' ELSE 'usual' END WHERE participant_id = 'P1'")
    report = busy.service.verify_audit()
    assert codes(report) == {"allocation_changed"}
    assert "P1" in report.problems[0].message and "['arm']" in report.problems[0].message


def test_allocation_added_outside_the_service_is_detected(busy):
    tamper(busy.service.engine,
           "INSERT INTO allocations (ref, participant_id, sequence, stratum, position, arm, site, values_json, "
           "enrolled_by, enrolled_at) VALUES ('FAKE', 'X9', 999, 'practice=Riverside', 20, 'sms', 'Riverside', '{}', "
           "'enroller4', '2026-01-01T00:00:00.000000Z')")
    assert codes(busy.service.verify_audit()) == {"unlogged_allocation"}


def test_truncated_tail_is_detected_by_head_and_by_anchor(busy):
    engine = busy.service.engine
    before = busy.service.verify_audit()
    anchor = (before.head_seq, before.head_hash)
    tamper(engine, f"DELETE FROM audit_events WHERE seq = {before.head_seq}")
    assert codes(busy.service.verify_audit()) == {"head_mismatch"}
    # A careful forger also rewinds the head: only an anchor recorded earlier catches that.
    prev = raw_events(engine)[-1]
    tamper(engine, f"UPDATE audit_head SET seq = {prev['seq']}, hash = '{prev['hash']}'")
    assert busy.service.verify_audit().ok
    report = busy.service.verify_audit(anchor=anchor)
    assert codes(report) == {"anchor_missing"}


def _rehash(record, prev):
    record = {**record, "prev_hash": prev}
    fields = ("seq", "ts", "actor", "role", "action", "target", "before_json", "after_json", "prev_hash")
    text = json.dumps({k: record[k] for k in fields}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def test_rewritten_history_is_detected_by_an_anchor(busy):
    """A forger who edits event 4 and recomputes every later hash (and the head) produces a
    self-consistent chain; an anchor recorded before the forgery exposes it."""
    engine = busy.service.engine
    events = raw_events(engine)
    anchor = (events[5]["seq"], events[5]["hash"])
    assert busy.service.verify_audit(anchor=anchor).ok
    events[3]["actor"] = "someone-else"
    statements, prev = [], events[2]["hash"]
    for e in events[3:]:
        new_hash = _rehash(e, prev)
        statements.append(f"UPDATE audit_events SET actor = '{e['actor']}', prev_hash = '{prev}', "
                          f"hash = 'tmp{e['seq']}' WHERE seq = {e['seq']}")
        statements.append(f"UPDATE audit_events SET hash = '{new_hash}' WHERE seq = {e['seq']}")
        prev = new_hash
    statements.append(f"UPDATE audit_head SET hash = '{prev}'")
    tamper(engine, *statements)
    assert busy.service.verify_audit().ok  # the chain alone cannot tell
    report = busy.service.verify_audit(anchor=anchor)
    assert codes(report) == {"anchor_mismatch"} and report.problems[0].seq == anchor[0]


@pytest.mark.parametrize("text", ["12", "x:" + "a" * 64, "3:" + "a" * 63, "3:" + "A" * 64, ""])
def test_bad_anchor_is_refused(text):
    with pytest.raises(ValueError, match="must be SEQ:HASH"):
        parse_anchor(text)


# --------------------------------------------------------------------------- migrations


def test_migrations_create_exactly_the_declared_schema(db_url):
    """Alembic's autogenerate comparison finds no difference between the migrated database and
    :data:`bitframe.service.db.metadata`."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from bitframe.service import db

    engine = db.make_engine(db_url)
    try:
        db.migrate(engine)
        db.migrate(engine)  # idempotent
        assert db.current_revision(engine) == "0002"
        with engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), db.metadata)
        assert diff == []
    finally:
        engine.dispose()


def test_the_initial_revision_refuses_to_downgrade(sqlite_url):
    from alembic import command

    from bitframe.service import db

    Service.open(sqlite_url, __import__("conftest").load(SMS)).close()
    engine = db.make_engine(sqlite_url)
    try:
        with pytest.raises(RuntimeError, match="cannot be downgraded"), engine.begin() as conn:
            command.downgrade(db._alembic_config(conn), "base")
        assert verify_chain(engine).ok
    finally:
        engine.dispose()
