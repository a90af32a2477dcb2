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
            conn.execute(sa.text(s) if isinstance(s, str) else s)


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


# --------------------------------------------------------------------------- the breaks of issue 17 (B6)


def _canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _append_forged_event(engine, action, target, after):
    """A forger's event: correctly chained and hashed, with the head advanced to it."""
    last = raw_events(engine)[-1]
    event = {"seq": last["seq"] + 1, "ts": "2026-06-01T00:00:00.000000Z", "actor": "enroller1", "role": "enroller",
             "action": action, "target": target, "before_json": None, "after_json": _canon(after)}
    h = _rehash(event, last["hash"])
    return [
        sa.text("INSERT INTO audit_events (seq, ts, actor, role, action, target, before_json, after_json, prev_hash, "
                "hash) VALUES (:seq, :ts, :actor, :role, :action, :target, NULL, :after_json, :prev, :hash)")
        .bindparams(**{k: event[k] for k in ("seq", "ts", "actor", "role", "action", "target", "after_json")},
                    prev=last["hash"], hash=h),
        sa.text("UPDATE audit_head SET seq = :seq, hash = :hash").bindparams(seq=event["seq"], hash=h),
    ]


def _free_slot(engine, stratum):
    with engine.connect() as conn:
        used = conn.execute(sa.text("SELECT coalesce(max(position), 0) FROM allocations WHERE stratum = :s"),
                            {"s": stratum}).scalar_one()
        return conn.execute(sa.text("SELECT position, arm FROM slots WHERE stratum = :s AND position = :p"),
                            {"s": stratum, "p": used + 1}).one()


def test_inserted_allocation_off_its_slot_with_a_forged_event_is_detected(busy):
    """An allocation whose arm differs from its slot, with a correctly hashed enrol event and
    the head advanced: the chain is consistent, the arm is not the slot's."""
    engine = busy.service.engine
    stratum = "practice=Riverside"
    position, slot_arm = _free_slot(engine, stratum)
    row = {"ref": "FAKE-FAKE-00", "participant_id": "X9", "sequence": 999, "stratum": stratum,
           "position": int(position), "arm": "sms" if slot_arm == "usual" else "usual", "site": "Riverside",
           "values_json": '{"female":"0","practice":"Riverside"}', "probabilities_json": None,
           "enrolled_by": "enroller4", "enrolled_at": "2026-06-01T00:00:00.000000Z"}
    insert = sa.text("INSERT INTO allocations (ref, participant_id, sequence, stratum, position, arm, site, "
                     "values_json, probabilities_json, enrolled_by, enrolled_at) VALUES (:ref, :participant_id, "
                     ":sequence, :stratum, :position, :arm, :site, :values_json, :probabilities_json, :enrolled_by, "
                     ":enrolled_at)").bindparams(**row)
    tamper(engine, insert, *_append_forged_event(engine, "enrol", "X9", row))
    report = busy.service.verify_audit()
    assert not report.ok and codes(report) == {"arm_not_slot"}
    assert "BROKEN" in report.report()


def test_rewritten_unused_slots_are_detected(busy):
    """Drop the triggers, turn unused slots into `sms`, recreate: the slots no longer match the
    sealed list whose hash the initialisation recorded, before or after they are used."""
    engine = busy.service.engine
    svc = busy.service
    disable = [] if engine.dialect.name == "sqlite" else ["ALTER TABLE slots DISABLE TRIGGER USER"]
    tamper(engine, *disable, "UPDATE slots SET arm = 'sms' WHERE position > 15")
    report = svc.verify_audit()
    assert not report.ok and codes(report) == {"slot_changed"}


def test_stored_sealed_list_rewritten_is_detected(busy):
    engine = busy.service.engine
    disable = [] if engine.dialect.name == "sqlite" else ["ALTER TABLE service_meta DISABLE TRIGGER USER"]
    tamper(engine, *disable, "UPDATE service_meta SET value = replace(value, 'usual', 'sms') WHERE key = 'list_csv'")
    assert codes(busy.service.verify_audit()) == {"list_changed"}


@pytest.mark.parametrize(("statement", "field"), [
    ("UPDATE users SET role = 'admin' WHERE name = 'enroller1'", "role"),
    ("UPDATE users SET token_hash = '" + "ab" * 32 + "' WHERE name = 'statistician'", "token_commit"),
    ("UPDATE users SET active = TRUE WHERE name = 'auditor'", "active"),
])
def test_user_changed_outside_the_service_is_detected(busy, statement, field):
    tamper(busy.service.engine, statement)
    report = busy.service.verify_audit()
    assert codes(report) == {"user_changed"} and field in report.problems[0].message


def test_user_added_outside_the_service_is_detected(busy):
    tamper(busy.service.engine,
           "INSERT INTO users (name, role, site, token_hash, token_hint, active, created_at, updated_at) VALUES "
           "('mallory', 'admin', NULL, '" + "cd" * 32 + "', 'bf_xxxxxx', TRUE, '2026-06-01', '2026-06-01')")
    assert codes(busy.service.verify_audit()) == {"unlogged_user"}


@pytest.mark.parametrize("table", ["audit_events", "users"])
def test_a_dropped_table_is_reported_broken_not_an_error(busy, table):
    engine = busy.service.engine
    tamper(engine, f"DROP TABLE {table}")
    report = busy.service.verify_audit()
    assert not report.ok and codes(report) == {"missing_table"} and table in report.report()


def test_an_export_records_an_anchor_that_verify_uses_by_default(busy, tmp_path):
    """B6: tail truncation with the head rewound was caught only with an anchor given by hand;
    every export now records one, and verify checks the latest."""
    from bitframe.service.audit import latest_anchor

    svc = busy.service
    if svc.anchor_path is None:  # PostgreSQL: anchors go where the environment says
        svc.anchor_path = tmp_path / "anchors.jsonl"
    svc.record_export(busy.user("statistician"), "allocations", 6)
    anchor = latest_anchor(svc.anchor_path)
    assert anchor == (svc.verify_audit().head_seq, svc.verify_audit().head_hash)
    engine = svc.engine
    tamper(engine, f"DELETE FROM audit_events WHERE seq = {anchor[0]}")
    prev = raw_events(engine)[-1]
    tamper(engine, f"UPDATE audit_head SET seq = {prev['seq']}, hash = '{prev['hash']}'")
    assert codes(svc.verify_audit()) == {"anchor_missing"}


def test_a_rehashed_history_is_caught_by_the_latest_anchor(busy, tmp_path):
    svc = busy.service
    if svc.anchor_path is None:
        svc.anchor_path = tmp_path / "anchors.jsonl"
    assert svc.anchor() is not None
    engine = svc.engine
    events = raw_events(engine)
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
    assert codes(svc.verify_audit()) == {"anchor_mismatch"}
