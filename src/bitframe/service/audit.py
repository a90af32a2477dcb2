r"""The audit trail: one append-only, hash-chained event per state-changing call.

Each event ``i`` records the UTC time, the acting user and role, the action, its target
(e.g. a participant id) and the state before and after, as canonical JSON text. Its hash
is

.. math::  h_i = \mathrm{SHA256}\big(\mathrm{canon}(\{seq, ts, actor, role, action, target,
           before\_json, after\_json, prev\_hash = h_{i-1}\})\big), \qquad h_0 = 0^{64},

with ``canon`` = ``json.dumps(..., sort_keys=True, separators=(",", ":"), ensure_ascii=False)``
encoded as UTF-8 (the construction of a hash chain / "linked timestamping", Haber &
Stornetta 1991, *J Cryptology* 3:99; the same idea as RFC 6962's append-only log, without
the Merkle tree). The single ``audit_head`` row holds ``(seq, h)`` of the last event and the
database only lets it advance by one event at a time (see :mod:`bitframe.service.db`).

:func:`verify_chain` recomputes every hash and detects:

* an edited event (its hash no longer matches its content),
* a deleted or inserted event (a gap in ``seq`` or a broken ``prev_hash`` link),
* events deleted from the end (the head no longer matches the last event; or, if the head
  was rewritten too, an ``anchor`` -- a ``(seq, hash)`` recorded earlier, e.g. from a
  previous ``bitframe audit verify`` -- is no longer in the chain),
* an allocation row edited, deleted or added outside the service (each allocation must
  equal the ``after`` state of exactly one ``enrol`` event, and vice versa),
* an allocation whose arm is not its slot's (each ``enrol`` event's arm must be the arm of
  the slot it took), and slots rewritten outside the service (every slot must equal its row
  of the sealed list, whose SHA-256 the ``service_init`` event recorded),
* a user added, or a role, site, activity or token changed, outside the service (the user
  events are replayed and must give the ``users`` table),
* a missing table: reported as a problem, never an error.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from bitframe.service.auth import token_commitment
from bitframe.service.db import GENESIS_HASH, allocations, audit_events, audit_head, metadata, service_meta, slots, users

if TYPE_CHECKING:
    import pandas as pd

#: Fields of an allocation that its ``enrol`` event records (and verification compares).
ALLOCATION_FIELDS = (
    "ref",
    "participant_id",
    "sequence",
    "stratum",
    "position",
    "arm",
    "site",
    "values_json",
    "probabilities_json",
    "enrolled_by",
    "enrolled_at",
)


def canonical_json(obj: Any) -> str:
    """Deterministic JSON text: sorted keys, no spaces, UTF-8 kept, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def utc_now() -> str:
    """ISO 8601 UTC time with microseconds and a ``Z`` suffix."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def to_the_second(timestamp: str) -> str:
    """``2026-05-20T09:14:03.123456Z`` -> ``2026-05-20 09:14:03``: stored times keep their
    microseconds (they are hashed into the audit chain); people read seconds."""
    return timestamp.replace("T", " ").split(".")[0].removesuffix("Z")


def event_hash(
    *,
    seq: int,
    ts: str,
    actor: str,
    role: str,
    action: str,
    target: str | None,
    before_json: str | None,
    after_json: str | None,
    prev_hash: str,
) -> str:
    """SHA-256 of the canonical JSON of one event's fields (see the module docs)."""
    record = {
        "seq": int(seq),
        "ts": ts,
        "actor": actor,
        "role": role,
        "action": action,
        "target": target,
        "before_json": before_json,
        "after_json": after_json,
        "prev_hash": prev_hash,
    }
    return hashlib.sha256(canonical_json(record).encode("utf-8")).hexdigest()


# Built once: constructing statements costs more than running them on this hot path.
_INSERT_EVENT = audit_events.insert()
_ADVANCE_HEAD = (
    audit_head.update().where(audit_head.c.id == 1).values(seq=sa.bindparam("new_seq"), hash=sa.bindparam("new_hash"))
)


@dataclass
class Chain:
    """The head of the chain inside one locked write transaction; appends events to it.

    ``memo`` holds what the transaction's jobs derive under its lock and may reuse until it
    ends (the next sequence number, the next free slots): a new transaction starts empty."""

    conn: Connection
    seq: int
    hash: str
    appended: list[int] = field(default_factory=list)
    memo: dict[Any, Any] = field(default_factory=dict)

    def append(
        self,
        *,
        actor: str,
        role: str,
        action: str,
        target: str | None = None,
        before: Mapping[str, Any] | None = None,
        after: Mapping[str, Any] | None = None,
        ts: str | None = None,
    ) -> tuple[int, str]:
        """Insert the next event and advance the head; returns ``(seq, hash)``."""
        seq = self.seq + 1
        ts = ts or utc_now()
        before_json = None if before is None else canonical_json(dict(before))
        after_json = None if after is None else canonical_json(dict(after))
        h = event_hash(
            seq=seq, ts=ts, actor=actor, role=role, action=action, target=target,
            before_json=before_json, after_json=after_json, prev_hash=self.hash,
        )
        self.conn.execute(
            _INSERT_EVENT,
            {"seq": seq, "ts": ts, "actor": actor, "role": role, "action": action, "target": target,
             "before_json": before_json, "after_json": after_json, "prev_hash": self.hash, "hash": h},
        )
        self.conn.execute(_ADVANCE_HEAD, {"new_seq": seq, "new_hash": h})
        self.seq, self.hash = seq, h
        self.appended.append(seq)
        return seq, h


# --------------------------------------------------------------------------- verification


@dataclass(frozen=True)
class AuditProblem:
    """One inconsistency found by :func:`verify_chain`; ``seq`` is the event concerned (if any)."""

    code: str
    message: str
    seq: int | None = None


@dataclass(frozen=True)
class AuditReport:
    """Result of :func:`verify_chain`. ``ok`` is true when no problem was found."""

    ok: bool
    n_events: int
    head_seq: int
    head_hash: str
    n_allocations: int
    problems: tuple[AuditProblem, ...] = ()

    def to_frame(self) -> pd.DataFrame:
        import pandas as pd

        return pd.DataFrame(
            [{"code": p.code, "seq": p.seq, "message": p.message} for p in self.problems],
            columns=["code", "seq", "message"],
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "n_events": self.n_events,
            "head_seq": self.head_seq,
            "head_hash": self.head_hash,
            "n_allocations": self.n_allocations,
            "problems": [p.__dict__ for p in self.problems],
        }

    def report(self) -> str:
        if self.ok:
            return (
                f"audit chain verified: {self.n_events} events, {self.n_allocations} allocations; "
                f"head {self.head_seq}:{self.head_hash}"
            )
        lines = [f"audit chain BROKEN: {len(self.problems)} problem(s)"]
        for p in self.problems:
            lines.append(f"  [{p.code}] " + (f"event {p.seq}: " if p.seq is not None else "") + p.message)
        return "\n".join(lines)


MAX_PROBLEMS = 200


def parse_anchor(text: str) -> tuple[int, str]:
    """``"SEQ:HASH"`` -> ``(seq, hash)``; raises ValueError with the expected form."""
    seq_text, sep, h = str(text).strip().partition(":")
    if not sep or not seq_text.isdigit() or len(h) != 64 or any(c not in "0123456789abcdef" for c in h):
        raise ValueError(
            f"The 'anchor' parameter must be SEQ:HASH (an event number and its 64 hex-digit hash, as printed by "
            f"`bitframe audit verify`). Got {text!r} instead."
        )
    return int(seq_text), h


#: Where anchors go when the environment names no file (see :func:`anchor_file`).
ANCHORS_ENV = "BITFRAME_AUDIT_ANCHORS"


def anchor_file(url: str) -> Path | None:
    """The file anchors are appended to: ``$BITFRAME_AUDIT_ANCHORS``, else beside a SQLite
    database (``service.db`` -> ``service.anchors.jsonl``); None for PostgreSQL without it.
    Anchors must live outside the database: a forger able to rewrite the chain could
    rewrite anchors kept inside it."""
    configured = os.environ.get(ANCHORS_ENV)
    if configured:
        return Path(configured)
    if url.startswith("sqlite:///"):
        return Path(url.removeprefix("sqlite:///")).with_suffix(".anchors.jsonl")
    return None


def record_anchor(path: Path, seq: int, head_hash: str) -> None:
    """Append ``(seq, hash)`` with the time to the anchors file (one JSON object a line)."""
    line = canonical_json({"seq": int(seq), "hash": head_hash, "recorded_at": utc_now()}) + "\n"
    with open(path, "a", encoding="utf-8") as f:
        f.write(line)
        f.flush()
        os.fsync(f.fileno())


def latest_anchor(path: Path | None) -> tuple[int, str] | None:
    """The last well-formed anchor in ``path``, or None (no file or no anchors yet)."""
    if path is None or not path.is_file():
        return None
    latest = None
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            record = json.loads(line)
            latest = parse_anchor(f"{record['seq']}:{record['hash']}")
        except (ValueError, KeyError, TypeError):
            continue
    return latest


def verify_chain(engine: Engine, *, anchor: tuple[int, str] | None = None) -> AuditReport:
    """Recompute the whole chain and cross-check allocations (see the module docs)."""
    problems: list[AuditProblem] = []

    def add(code: str, message: str, seq: int | None = None) -> None:
        if len(problems) < MAX_PROBLEMS:
            problems.append(AuditProblem(code, message, seq))

    missing = sorted(set(metadata.tables) - set(sa.inspect(engine).get_table_names()))
    if missing:
        return AuditReport(
            ok=False, n_events=0, head_seq=0, head_hash=GENESIS_HASH, n_allocations=0,
            problems=tuple(AuditProblem("missing_table", f"the table {name!r} is missing (dropped or never created)")
                           for name in missing),
        )
    enrol_after: dict[str, tuple[int, dict[str, Any]]] = {}
    user_state: dict[str, dict[str, Any]] = {}
    init_after: dict[str, Any] = {}
    n_events = 0
    prev_hash, expected_seq = GENESIS_HASH, 1
    last_seq, last_hash = 0, GENESIS_HASH
    anchor_seen = anchor is None or anchor == (0, GENESIS_HASH)
    with engine.connect() as conn:
        head = conn.execute(sa.select(audit_head.c.seq, audit_head.c.hash)).all()
        rows = conn.execute(sa.select(audit_events).order_by(audit_events.c.seq)).mappings()
        for row in rows:
            n_events += 1
            seq = int(row["seq"])
            if seq != expected_seq:
                add("missing_events" if seq > expected_seq else "bad_sequence",
                    f"expected event {expected_seq} next, found event {seq}", seq)
            if row["prev_hash"] != prev_hash:
                add("broken_link", "prev_hash does not equal the previous event's hash (an event before it was "
                    "deleted, inserted or edited)", seq)
            recomputed = event_hash(
                seq=seq, ts=row["ts"], actor=row["actor"], role=row["role"], action=row["action"],
                target=row["target"], before_json=row["before_json"], after_json=row["after_json"],
                prev_hash=row["prev_hash"],
            )
            if recomputed != row["hash"]:
                add("edited_event", "content does not match its hash (the event was edited)", seq)
            if anchor is not None and seq == anchor[0]:
                if row["hash"] != anchor[1]:
                    add("anchor_mismatch",
                        f"the anchor recorded hash {anchor[1]} for this event; it is now {row['hash']}", seq)
                anchor_seen = True
            if row["action"] == "enrol" and row["after_json"]:
                try:
                    after = json.loads(row["after_json"])
                    pid = str(after["participant_id"])
                except (ValueError, KeyError, TypeError):
                    add("bad_event", "enrol event without a readable participant", seq)
                else:
                    if pid in enrol_after:
                        add("duplicate_enrolment", f"participant {pid!r} has two enrol events "
                            f"({enrol_after[pid][0]} and {seq})", seq)
                    enrol_after[pid] = (seq, after)
            elif row["action"] in USER_ACTIONS or row["action"] == "service_init":
                try:
                    after = json.loads(row["after_json"] or "{}")
                    name = str(row["target"])
                except (ValueError, TypeError):
                    add("bad_event", f"{row['action']} event with an unreadable state", seq)
                else:
                    if row["action"] == "service_init":
                        init_after = after
                    else:
                        user_state[name] = {**user_state.get(name, {}), **after, "seq": seq}
            prev_hash, expected_seq = row["hash"], seq + 1
            last_seq, last_hash = seq, row["hash"]
        if len(head) != 1:
            add("bad_head", f"audit_head must hold exactly one row; it holds {len(head)}")
            head_seq, head_hash = last_seq, last_hash
        else:
            head_seq, head_hash = int(head[0].seq), str(head[0].hash)
            if (head_seq, head_hash) != (last_seq, last_hash):
                add("head_mismatch", f"the head says the last event is {head_seq}:{head_hash[:12]}..., but the last "
                    f"event stored is {last_seq}:{last_hash[:12]}... (events were deleted from the end, or added)")
        if anchor is not None and not anchor_seen:
            add("anchor_missing", f"the anchored event {anchor[0]} is no longer in the chain (events were deleted)")

        n_alloc = 0
        seen: set[str] = set()
        for row in conn.execute(sa.select(allocations).order_by(allocations.c.sequence)).mappings():
            n_alloc += 1
            pid = str(row["participant_id"])
            seen.add(pid)
            logged = enrol_after.get(pid)
            if logged is None:
                add("unlogged_allocation", f"allocation of participant {pid!r} has no enrol event in the audit log")
                continue
            current = {f: row[f] for f in ALLOCATION_FIELDS}
            recorded = {f: logged[1].get(f) for f in ALLOCATION_FIELDS}
            if current != recorded:
                diff = sorted(f for f in ALLOCATION_FIELDS if current[f] != recorded[f])
                add("allocation_changed", f"allocation of participant {pid!r} differs from its enrol event in {diff}",
                    logged[0])
        for pid, (seq, _) in enrol_after.items():
            if pid not in seen:
                add("allocation_missing", f"participant {pid!r} was enrolled (event {seq}) but the allocation is gone",
                    seq)
        if "list_sha256" in init_after:
            _check_slots(conn, init_after, enrol_after, add)
        _check_users(conn, user_state, add)
    return AuditReport(
        ok=not problems,
        n_events=n_events,
        head_seq=head_seq,
        head_hash=head_hash,
        n_allocations=n_alloc,
        problems=tuple(problems),
    )


USER_ACTIONS = ("user_add", "user_revoke", "user_rotate_token")
#: The user columns the user events record, and so the replay checks.
USER_FIELDS = ("role", "site", "active", "token_hint", "token_commit")


def _check_slots(conn: Connection, init_after: Mapping[str, Any],
                 enrol_after: Mapping[str, tuple[int, dict[str, Any]]], add: Any) -> None:
    """The slots against the sealed list the initialisation recorded, and each enrolment's
    arm against its slot."""
    meta = dict(conn.execute(sa.select(service_meta.c.key, service_meta.c.value)).all())
    list_csv = meta.get("list_csv", "")
    if hashlib.sha256(list_csv.encode("utf-8")).hexdigest() != init_after["list_sha256"]:
        add("list_changed", "the stored sealed list does not have the SHA-256 recorded when the service was set up")
        return
    sealed = {int(r["sequence"]): r for r in csv.DictReader(io.StringIO(list_csv))}
    stored = conn.execute(sa.select(slots.c.stratum, slots.c.position, slots.c.arm, slots.c.list_sequence)).all()
    if len(stored) != len(sealed):
        add("slot_changed", f"{len(stored)} slots are stored; the sealed list has {len(sealed)}")
    changed = [s for s in stored if (row := sealed.get(int(s.list_sequence))) is None or row["arm"] != s.arm
               or (row["stratum"] or "") != s.stratum]
    if changed:
        first = changed[0]
        add("slot_changed", f"{len(changed)} slot(s) differ from the sealed list, first stratum {first.stratum!r} "
            f"position {first.position} (list row {first.list_sequence})")
    slot_arm = {(s.stratum, int(s.position)): s.arm for s in stored}
    for pid, (seq, after) in enrol_after.items():
        position = after.get("position")
        if position is not None and slot_arm.get((after.get("stratum"), int(position))) != after.get("arm"):
            add("arm_not_slot", f"participant {pid!r} was given arm {after.get('arm')!r}, not the arm of the slot "
                f"it took", seq)


def _check_users(conn: Connection, user_state: Mapping[str, Mapping[str, Any]], add: Any) -> None:
    """The users table against the replayed user events."""
    seen: set[str] = set()
    for row in conn.execute(sa.select(users).order_by(users.c.id)).mappings():
        name = str(row["name"])
        seen.add(name)
        state = user_state.get(name)
        if state is None:
            add("unlogged_user", f"user {name!r} has no user_add event in the audit log")
            continue
        current = {"role": row["role"], "site": row["site"], "active": bool(row["active"]),
                   "token_hint": row["token_hint"], "token_commit": token_commitment(row["token_hash"])}
        diff = [f for f in USER_FIELDS if f in state and state[f] != current[f]]
        if diff:
            add("user_changed", f"user {name!r} differs from the user events in {diff}", state["seq"])
    for name, state in user_state.items():
        if name not in seen:
            add("user_missing", f"user {name!r} was added (event {state['seq']}) but is gone", state["seq"])


def events_frame(engine: Engine, *, after_seq: int = 0, limit: int | None = None) -> pd.DataFrame:
    """The audit log as a table (columns as stored), oldest first."""
    import pandas as pd

    q = sa.select(audit_events).where(audit_events.c.seq > after_seq).order_by(audit_events.c.seq)
    if limit is not None:
        q = q.limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(q).mappings().all()
    return pd.DataFrame([dict(r) for r in rows], columns=[c.name for c in audit_events.columns])
