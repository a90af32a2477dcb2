"""The allocation service as a library: open a database, enrol, manage users, export, audit.

:class:`Service` is what the web layer (:mod:`bitframe.service.app`) and the command line
(:mod:`bitframe.cli.service`) call; it holds no per-request state. Every state-changing
method runs in one locked write transaction (:class:`bitframe.service.db.WriteLock`) that
also appends its audit event, so a change and its event are committed together or not at
all; an acknowledged enrolment is therefore durable and logged.

Typical use::

    svc = Service.open("sqlite:///trial/service.db", load_protocol_with_source("p.yaml"), site_column="practice")
    user, token = svc.add_user(CLI_ACTOR, "amira", "enroller", site="Elm Road")
    svc.enrol(user, "P-0001", {"practice": "Elm Road"}, eligible=True).arm
"""

from __future__ import annotations

import getpass
import json
import logging
import math
import secrets
import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, CursorResult, Engine, RowMapping

from bitframe.service import db
from bitframe.service.audit import (
    AuditReport,
    Chain,
    anchor_file,
    canonical_json,
    latest_anchor,
    record_anchor,
    utc_now,
    verify_chain,
)
from bitframe.service.auth import (
    User,
    check_name,
    check_role,
    hash_token,
    new_token,
    token_commitment,
    token_hint,
)
from bitframe.service.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotAuthenticated,
    NotFound,
    SetupError,
    Unavailable,
)
from bitframe.service.plan import TrialPlan
from bitframe.service.writer import Committed, GroupCommitWriter

if TYPE_CHECKING:
    import pandas as pd

    from bitframe.protocol.loader import LoadedProtocol

log = logging.getLogger("bitframe.service")

SERVICE_SCHEMA = "1"
SYSTEM = User(None, "system", "admin", None)
_REF_ALPHABET = "ABCDEFGHJKMNPQRSTVWXYZ23456789"  # no 0/O, 1/I/L, U: read aloud over the phone
MIN_REASON = 10
#: Slots of one stratum read at once by a write transaction (it holds the write lock, so they stay next).
SLOTS_AHEAD = 64
#: Tokens :meth:`Service.remember` keeps (one per active enroller is what the hot path needs).
REMEMBERED_TOKENS = 4096
MAX_REASON = 1000


def cli_actor() -> User:
    """The user the command line acts as (it has the database itself, hence admin rights)."""
    try:
        who = getpass.getuser()
    except Exception:  # no login name in some containers
        who = "unknown"
    return User(None, f"cli:{who}"[:64], "admin", None)


def new_ref() -> str:
    """A random, non-sequential allocation reference like ``K7QM-2XDP-R9`` (30^10, about 2^49)."""
    n = secrets.randbelow(len(_REF_ALPHABET) ** 10)  # one draw, then its base-30 digits: uniform
    chars = ""
    for _ in range(10):
        n, d = divmod(n, len(_REF_ALPHABET))
        chars += _REF_ALPHABET[d]
    return f"{chars[:4]}-{chars[4:8]}-{chars[8:]}"


# Statements of the enrolment path, built once (see the note in bitframe.service.audit).
_ALLOCATION_OF = sa.select(db.allocations).where(db.allocations.c.participant_id == sa.bindparam("pid"))
_NEXT_SEQUENCE = sa.select(sa.func.coalesce(sa.func.max(db.allocations.c.sequence), 0) + 1)
#: The next slots of a stratum after its last used one, fetched a batch at a time (see _next_slot).
_NEXT_SLOTS = (
    sa.select(db.slots.c.position, db.slots.c.arm)
    .where(
        db.slots.c.stratum == sa.bindparam("stratum"),
        db.slots.c.position
        > sa.select(sa.func.coalesce(sa.func.max(db.allocations.c.position), 0))
        .where(db.allocations.c.stratum == sa.bindparam("stratum"))
        .scalar_subquery(),
    )
    .order_by(db.slots.c.position)
    .limit(SLOTS_AHEAD)
)
_TOKEN_HOLDER = sa.select(db.users.c.token_hash, db.users.c.active).where(db.users.c.id == sa.bindparam("id"))
_INSERT_ALLOCATION = db.allocations.insert()
_INSERT_FACTORS = db.allocation_factors.insert()
_FACTOR_COUNTS = (
    sa.select(db.allocation_factors.c.arm, sa.func.count())
    .where(db.allocation_factors.c.factor == sa.bindparam("factor"),
           db.allocation_factors.c.level == sa.bindparam("level"))
    .group_by(db.allocation_factors.c.arm)
)


@dataclass(frozen=True)
class Enrolment:
    """One participant's allocation. :meth:`public` is all an enroller is shown."""

    participant_id: str
    ref: str
    arm: str
    arm_name: str
    site: str | None
    enrolled_at: str
    enrolled_by: str
    values: Mapping[str, Any] = field(default_factory=dict)
    repeat: bool = False

    def public(self) -> dict[str, Any]:
        return {
            "participant_id": self.participant_id,
            "reference": self.ref,
            "arm": self.arm,
            "arm_name": self.arm_name,
            "site": self.site,
            "enrolled_at": self.enrolled_at,
            "repeat": self.repeat,
        }


@dataclass(frozen=True)
class StratumStatus:
    stratum: str
    list_size: int
    used: int
    remaining: int
    low: bool


class Service:
    """An opened service database bound to one protocol (use :meth:`open`)."""

    def __init__(self, engine: Engine, plan: TrialPlan, meta: Mapping[str, str], url: str) -> None:
        self.engine = engine
        self.plan = plan
        self.meta = dict(meta)
        self.url = url
        self.lock = db.WriteLock(engine)
        self.writer = GroupCommitWriter(self.lock)
        self.list_size = int(self.meta.get("list_size") or 0)
        self.low_list = int(self.meta.get("low_list") or 0)
        self.seed = int(self.meta["seed"])
        self.session_secret = bytes.fromhex(self.meta["session_secret"])
        self.anchor_path = anchor_file(url)
        self._remembered: OrderedDict[str, User] = OrderedDict()
        self._remembered_lock = threading.Lock()

    # ------------------------------------------------------------------ opening

    @classmethod
    def open(
        cls,
        url: str,
        protocol: LoadedProtocol | None = None,
        *,
        list_size: int | None = None,
        low_list: int | None = None,
        site_column: str | None = None,
        actor: User | None = None,
    ) -> Service:
        """Migrate the database, bind it to ``protocol`` on first use (generating the sealed
        list) and return the service. Later opens check that ``protocol`` (if given) is the
        one the database was set up with; settings given again must agree."""
        url = db.normalise_url(url)
        # Without a protocol nothing is set up, so the database must exist already.
        engine = db.make_engine(url) if protocol is not None else db.open_existing(url)
        try:
            try:
                db.migrate(engine)
            except sa.exc.DBAPIError as exc:
                raise db.unreachable(url, exc) from None
            meta = _read_meta(engine)
            if not meta:
                if protocol is None:
                    raise SetupError(
                        "this database has not been set up for a trial yet; run `bitframe serve PROTOCOL --init-only` "
                        "(or `bitframe serve PROTOCOL`) first",
                        code="not_initialised",
                    )
                _initialise(engine, protocol, list_size, low_list, site_column, actor or cli_actor())
                meta = _read_meta(engine)
            else:
                _check_same(meta, protocol, list_size=list_size, low_list=low_list, site_column=site_column)
            from bitframe.protocol import parse_protocol

            stored = parse_protocol(meta["protocol_yaml"], label=f"<protocol of {meta['trial_id']}>")
            plan = TrialPlan.from_protocol(stored, site_column=meta.get("site_column") or None)
        except BaseException:
            engine.dispose()
            raise
        return cls(engine, plan, meta, url)

    def close(self) -> None:
        self.writer.close()
        self.engine.dispose()

    # ------------------------------------------------------------------ users

    def authenticate(self, token: str | None) -> User | None:
        """The active user holding ``token``, or None."""
        if not token or not isinstance(token, str) or len(token) > 200:
            return None
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(db.users).where(db.users.c.token_hash == hash_token(token))
            ).mappings().first()
        if row is None or not row["active"]:
            return None
        return User(int(row["id"]), row["name"], row["role"], row["site"], bool(row["active"]))

    def remembered_user(self, token: str) -> tuple[User, str] | None:
        """``(user, token_hash)`` for a token that authenticated recently, without reading the
        database; only for :meth:`enrol_async`, whose transaction re-checks the token."""
        token_hash = hash_token(token)
        with self._remembered_lock:
            user = self._remembered.get(token_hash)
        return None if user is None else (user, token_hash)

    def remember(self, token: str, user: User) -> str:
        """Keep ``user`` as the holder of ``token`` (at most :data:`REMEMBERED_TOKENS`, least recent
        dropped first); returns the token's hash."""
        token_hash = hash_token(token)
        with self._remembered_lock:
            self._remembered[token_hash] = user
            self._remembered.move_to_end(token_hash)
            while len(self._remembered) > REMEMBERED_TOKENS:
                self._remembered.popitem(last=False)
        return token_hash

    def _forget(self, token_hash: str) -> None:
        with self._remembered_lock:
            self._remembered.pop(token_hash, None)

    def session_state(self, user_id: int) -> tuple[User, str, int] | None:
        """An active user's ``(user, token_hash, session_generation)``, or None: what a page
        session must still match to be valid."""
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(db.users).where(db.users.c.id == user_id)).mappings().first()
        if row is None or not row["active"]:
            return None
        user = User(int(row["id"]), row["name"], row["role"], row["site"], bool(row["active"]))
        return user, str(row["token_hash"]), int(row["session_generation"])

    def end_sessions(self, user_id: int) -> None:
        """Sign the user out of every page session (server-side: their cookies stop working)."""
        with self.lock.transaction() as (conn, _, _):
            conn.execute(db.users.update().where(db.users.c.id == user_id)
                         .values(session_generation=db.users.c.session_generation + 1))

    def token_hash_of(self, user_id: int) -> str | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(db.users.c.token_hash).where(db.users.c.id == user_id)).scalar()

    def list_users(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(db.users).order_by(db.users.c.id)).mappings().all()
        return [
            {k: r[k] for k in ("name", "role", "site", "active", "token_hint", "created_at", "updated_at")}
            for r in rows
        ]

    def _check_site(self, role: str, site: str | None) -> str | None:
        site = None if site is None or str(site).strip() == "" else str(site).strip()
        if role == "enroller" and site is None:
            raise InvalidInput("an enroller needs a site (the site where they enrol participants)",
                               code="site_required")
        col = self.plan.column(self.plan.site_column) if self.plan.site_column else None
        if site is not None and col is not None and col.values and site not in col.values:
            from bitframe.errors import choice_hint

            raise InvalidInput(
                f"site {site!r} is not a value of the protocol's site column '{col.name}'; "
                f"{choice_hint(site, col.values)}",
                code="bad_site",
            )
        if site is not None and len(site) > 200:
            raise InvalidInput("site must be at most 200 characters", code="bad_site")
        return site

    def add_user(self, actor: User, name: str, role: str, *, site: str | None = None) -> tuple[User, str]:
        """Create a user; returns it and its token (shown once, stored hashed)."""
        _require(actor, "admin")
        try:
            name = check_name(name)
            role = check_role(role)
        except ValueError as exc:
            raise InvalidInput(str(exc), code="bad_user") from None
        site = self._check_site(role, site)
        token = new_token()
        now = utc_now()

        def job(conn: Connection, chain: Chain) -> int:
            exists = conn.execute(sa.select(db.users.c.id).where(db.users.c.name == name)).first()
            if exists is not None:
                raise Conflict(f"a user named {name!r} already exists", code="user_exists")
            uid = _new_id(conn.execute(
                db.users.insert().values(
                    name=name, role=role, site=site, token_hash=hash_token(token), token_hint=token_hint(token),
                    active=True, created_at=now, updated_at=now,
                )
            ))
            chain.append(
                actor=actor.name, role=actor.role, action="user_add", target=name,
                after={"name": name, "role": role, "site": site, "active": True, "token_hint": token_hint(token),
                       "token_commit": token_commitment(hash_token(token))},
                ts=now,
            )
            return int(uid)

        uid = self.writer.submit(job)
        return User(uid, name, role, site), token

    def _change_user(self, actor: User, name: str, action: str) -> str | None:
        _require(actor, "admin")
        token = new_token() if action == "user_rotate_token" else None
        now = utc_now()

        def job(conn: Connection, chain: Chain) -> None:
            row = conn.execute(sa.select(db.users).where(db.users.c.name == name)).mappings().first()
            if row is None:
                raise NotFound(f"no user named {str(name)[:64]!r}", code="no_such_user")
            before = {"name": row["name"], "active": bool(row["active"]), "token_hint": row["token_hint"]}
            if action == "user_revoke":
                if not row["active"]:
                    raise Conflict(f"user {name!r} is already revoked", code="already_revoked")
                values: dict[str, Any] = {"active": False}
            else:
                if not row["active"]:
                    raise Conflict(f"user {name!r} is revoked; add a new user instead", code="revoked")
                values = {"token_hash": hash_token(token or ""), "token_hint": token_hint(token or "")}
            # A new token or a revocation also ends the user's page sessions, and voids what later
            # jobs of this transaction would otherwise remember about tokens (Service._holds_token).
            chain.memo.clear()
            conn.execute(db.users.update().where(db.users.c.id == row["id"])
                         .values(updated_at=now, session_generation=db.users.c.session_generation + 1, **values))
            after = {**before, **{k: v for k, v in values.items() if k != "token_hash"}}
            if "token_hash" in values:
                after["token_commit"] = token_commitment(values["token_hash"])
            chain.append(
                actor=actor.name, role=actor.role, action=action, target=name, before=before, after=after, ts=now
            )

        self.writer.submit(job)
        return token

    def revoke_user(self, actor: User, name: str) -> None:
        """Deactivate a user: their token stops working at once."""
        self._change_user(actor, name, "user_revoke")

    def rotate_token(self, actor: User, name: str) -> str:
        """Replace a user's token; returns the new one (the old one stops working)."""
        return str(self._change_user(actor, name, "user_rotate_token"))

    def bootstrap_admin(self, name: str = "admin") -> str | None:
        """Create the first admin if there are no users at all; return its token (else None)."""
        with self.engine.connect() as conn:
            n = conn.execute(sa.select(sa.func.count()).select_from(db.users)).scalar_one()
        if n:
            return None
        try:
            return self.add_user(SYSTEM, name, "admin")[1]
        except Conflict:  # another process won the race
            return None

    # ------------------------------------------------------------------ enrolment

    def enrol(self, user: User, participant_id: object, values: Mapping[str, Any], *, eligible: object) -> Enrolment:
        """Allocate a participant (see the module docs of :mod:`bitframe.service.plan`).

        Idempotent: enrolling an id again with the same values at the same site returns the
        original allocation (``repeat=True``, logged as ``enrol_repeat``). Different values
        or another site give :class:`Conflict` (logged, nothing revealed). An exhausted
        sealed list fails closed with :class:`Unavailable` (logged).
        """
        return self.writer.submit(self._enrol_job(user, participant_id, values, eligible=eligible))

    async def enrol_async(self, user: User, participant_id: object, values: Mapping[str, Any], *,
                          eligible: object, token_hash: str | None = None) -> Enrolment:
        """:meth:`enrol` awaited on an event loop instead of holding a thread while the batch
        commits. With ``token_hash`` (a token from :meth:`remembered_user`), the enrolment's own
        transaction first checks that the user is still active with that token."""
        job = self._enrol_job(user, participant_id, values, eligible=eligible, token_hash=token_hash)
        return await self.writer.submit_async(job)

    def _enrol_job(self, user: User, participant_id: object, values: Mapping[str, Any], *,
                   eligible: object, token_hash: str | None = None) -> Callable[[Connection, Chain], Enrolment | Committed]:
        """Check an enrolment request and return the write job that makes it (see :meth:`enrol`)."""
        _require(user, "enroller")
        pid = self.plan.check_participant_id(participant_id)
        if eligible is not True:
            raise InvalidInput(
                "the participant must be confirmed eligible (eligible: true) before randomisation; "
                "ineligible people are not randomised",
                code="not_eligible",
            )
        if not isinstance(values, Mapping):
            raise InvalidInput("values must be an object mapping column names to values", code="invalid_values")
        clean = self.plan.check_values(values, site=user.site)
        site = user.site
        stratum = self.plan.stratum_of(clean)
        values_json = canonical_json(clean)

        def job(conn: Connection, chain: Chain) -> Enrolment | Committed:
            if token_hash is not None and not self._holds_token(conn, chain, user, token_hash):
                self._forget(token_hash)
                raise NotAuthenticated("the token is not valid (unknown, rotated or revoked)", code="bad_token")
            refusal: Exception | None = None
            existing = conn.execute(_ALLOCATION_OF, {"pid": pid}).mappings().first()
            if existing is not None:
                same = existing["site"] == site and existing["values_json"] == values_json
                action = "enrol_repeat" if same else "enrol_conflict"
                chain.append(
                    actor=user.name, role=user.role, action=action, target=pid,
                    after={"participant_id": pid, "ref": existing["ref"], "site": site, "values_json": values_json},
                )
                if same:
                    return self._enrolment(existing, repeat=True)
                if existing["site"] != site:
                    refusal = Conflict(
                        f"participant {pid!r} is already enrolled at another site; no new allocation was made",
                        code="enrolled_elsewhere",
                    )
                else:
                    refusal = Conflict(
                        f"participant {pid!r} is already enrolled with different values; no new allocation was made. "
                        "If the first record was wrong, ask the trial statistician.",
                        code="enrolled_with_other_values",
                    )
            else:
                # Under the write lock the next sequence number is the last one plus one: read it
                # once per transaction and count on (the memo dies with the transaction).
                sequence = chain.memo.get("sequence") or int(conn.execute(_NEXT_SEQUENCE).scalar_one())
                if self.plan.mode == "sealed_list":
                    arm, position, probabilities_json, refusal = self._next_slot(conn, chain, user, pid, stratum)
                else:
                    arm, probs = self._minimise(conn, clean, sequence)
                    position, probabilities_json = None, canonical_json([float(p) for p in probs])
                if refusal is None:
                    enrolled_at = utc_now()
                    row = {
                        "ref": new_ref(),
                        "participant_id": pid,
                        "sequence": sequence,
                        "stratum": stratum,
                        "position": position,
                        "arm": arm,
                        "site": site,
                        "values_json": values_json,
                        "probabilities_json": probabilities_json,
                        "enrolled_by": user.name,
                        "enrolled_at": enrolled_at,
                    }
                    alloc_id = _new_id(conn.execute(_INSERT_ALLOCATION, row))
                    chain.memo["sequence"] = sequence + 1
                    if self.plan.factors:
                        conn.execute(
                            _INSERT_FACTORS,
                            [{"allocation_id": alloc_id, "factor": f, "level": str(clean[f]), "arm": arm}
                             for f in self.plan.factors],
                        )
                    chain.append(actor=user.name, role=user.role, action="enrol", target=pid, after=row,
                                 ts=enrolled_at)
                    if position is not None:
                        self._alerts(chain, stratum, position)
                    return self._enrolment(row, repeat=False)
            return Committed(refusal)

        return job

    @staticmethod
    def _holds_token(conn: Connection, chain: Chain, user: User, token_hash: str) -> bool:
        """Whether ``user`` is active and holds ``token_hash`` now. Every change to a user takes
        the write lock, so the answer holds for the rest of this transaction (memo)."""
        key = ("token", user.id, token_hash)
        if key not in chain.memo:
            holder = conn.execute(_TOKEN_HOLDER, {"id": user.id}).first()
            chain.memo[key] = holder is not None and holder.token_hash == token_hash and bool(holder.active)
        return bool(chain.memo[key])

    def _next_slot(
        self, conn: Connection, chain: Chain, user: User, pid: str, stratum: str
    ) -> tuple[str, int | None, None, Exception | None]:
        # The slots after the stratum's last used one, read SLOTS_AHEAD at a time and taken in
        # order within this transaction (which holds the write lock, so nobody else takes them).
        ahead: list[Any] = chain.memo.setdefault(("slots", stratum), [])
        if not ahead:
            ahead.extend(reversed(conn.execute(_NEXT_SLOTS, {"stratum": stratum}).all()))
        slot = ahead.pop() if ahead else None
        if slot is None:
            chain.append(
                actor=user.name, role=user.role, action="enrol_refused", target=pid,
                after={"participant_id": pid, "reason": "list_exhausted", "stratum": stratum},
            )
            log.error("sealed list exhausted for stratum %r: enrolment of %r refused", stratum, pid)
            return "", None, None, Unavailable(
                "no allocation was made: the sealed allocation list for this participant's stratum is used up. "
                "Do not allocate by any other means; contact the trial statistician.",
                code="list_exhausted",
            )
        return str(slot.arm), int(slot.position), None, None

    def _alerts(self, chain: Chain, stratum: str, position: int) -> None:
        remaining = self.list_size - position
        if remaining == self.low_list or remaining == 0:
            action = "list_exhausted_alert" if remaining == 0 else "low_list_alert"
            chain.append(actor=SYSTEM.name, role=SYSTEM.role, action=action, target=stratum or "(all)",
                         after={"stratum": stratum, "remaining": remaining, "list_size": self.list_size})
            log.warning("%s: stratum %r has %d of %d slots left", action, stratum, remaining, self.list_size)

    def _minimise(self, conn: Connection, clean: Mapping[str, Any], sequence: int) -> tuple[str, Any]:
        import numpy as np

        from bitframe.randomise._core import make_rng
        from bitframe.randomise.minimisation import Minimiser

        k = len(self.plan.arms)
        index = {a: i for i, a in enumerate(self.plan.arms)}
        counts: dict[str, dict[str, list[int]]] = {}
        for f in self.plan.factors:
            level = str(clean[f])
            row = [0] * k
            for arm, n in conn.execute(_FACTOR_COUNTS, {"factor": f, "level": level}):
                row[index[arm]] = int(n)
            counts[f] = {level: row}
        rng = make_rng(self.seed)
        bits = rng.bit_generator
        if not isinstance(bits, np.random.PCG64):  # pragma: no cover - make_rng's contract
            raise TypeError(f"minimisation replays PCG64 draws; the generator is {type(bits).__name__}")
        bits.advance(sequence - 1)  # the sequence-th uniform of PCG64(seed)
        m = Minimiser(self.plan.factors, self.plan.ratio, rng=rng, counts=counts, **self.plan.minimiser_settings())
        arm = m.enrol({f: str(clean[f]) for f in self.plan.factors})
        return self.plan.arms[arm], m.last_probabilities

    def _enrolment(self, row: RowMapping | Mapping[str, Any], *, repeat: bool) -> Enrolment:
        return Enrolment(
            participant_id=row["participant_id"],
            ref=row["ref"],
            arm=row["arm"],
            arm_name=self.plan.arm_name(row["arm"]),
            site=row["site"],
            enrolled_at=row["enrolled_at"],
            enrolled_by=row["enrolled_by"],
            values=json.loads(row["values_json"]),
            repeat=repeat,
        )

    def unblind(self, user: User, participant_id: object, reason: object) -> Enrolment:
        """Emergency unblinding of one participant by an admin, with a logged reason."""
        _require(user, "admin")
        pid = self.plan.check_participant_id(participant_id)
        if not isinstance(reason, str) or not MIN_REASON <= len(reason.strip()) <= MAX_REASON:
            raise InvalidInput(
                f"a reason of {MIN_REASON} to {MAX_REASON} characters is required for unblinding",
                code="reason_required",
            )

        def job(conn: Connection, chain: Chain) -> Enrolment:
            row = conn.execute(
                sa.select(db.allocations).where(db.allocations.c.participant_id == pid)
            ).mappings().first()
            if row is None:
                raise NotFound(f"participant {pid!r} is not enrolled", code="not_enrolled")
            chain.append(
                actor=user.name, role=user.role, action="unblind", target=pid,
                after={"participant_id": pid, "ref": row["ref"], "arm": row["arm"], "reason": reason.strip()},
            )
            return self._enrolment(row, repeat=False)

        return self.writer.submit(job)

    # ------------------------------------------------------------------ reading (statistician, admin, auditor)

    def status(self, user: User) -> dict[str, Any]:
        """Counts per arm and, for a sealed list, slots used/remaining per stratum and alerts."""
        _require(user, "statistician", "admin")
        with self.engine.connect() as conn:
            by_arm: dict[str, int] = dict(conn.execute(
                sa.select(db.allocations.c.arm, sa.func.count()).group_by(db.allocations.c.arm)).all())
            used = dict(conn.execute(
                sa.select(db.allocations.c.stratum, sa.func.max(db.allocations.c.position))
                .group_by(db.allocations.c.stratum)).all())
            alerts = conn.execute(
                sa.select(db.audit_events.c.seq, db.audit_events.c.ts, db.audit_events.c.action,
                          db.audit_events.c.after_json)
                .where(db.audit_events.c.action.in_(("low_list_alert", "list_exhausted_alert", "enrol_refused")))
                .order_by(db.audit_events.c.seq)
            ).all()
        out: dict[str, Any] = {
            "trial_id": self.plan.trial_id,
            "mode": self.plan.mode,
            "scheme": self.plan.scheme,
            "n_enrolled": int(sum(by_arm.values())),
            "counts_by_arm": {a: int(by_arm.get(a, 0)) for a in self.plan.arms},
            "alerts": [{"seq": s, "ts": t, "action": a, **json.loads(j)} for s, t, a, j in alerts],
        }
        if self.plan.mode == "sealed_list":
            strata = []
            for combo in self.plan.strata_combinations():
                label = self.plan.stratum_of(combo)
                n_used = int(used.get(label) or 0)
                remaining = self.list_size - n_used
                row = StratumStatus(label, self.list_size, n_used, remaining, remaining <= self.low_list)
                strata.append(row.__dict__)
            out["low_list_threshold"] = self.low_list
            out["strata"] = strata
        return out

    def recruitment(self, user: User) -> dict[str, Any]:
        """Recruitment by site and by stratum, in total and per ISO week (Monday to Sunday, UTC),
        with cumulative totals. Counts per arm only for the roles that see allocations anyway
        (statistician, admin): an auditor sees how recruitment goes, not how it splits."""
        import datetime as dt

        _require(user, "statistician", "auditor", "admin")
        unblinded = user.role in ("statistician", "admin")
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(db.allocations.c.site, db.allocations.c.stratum, db.allocations.c.arm,
                          db.allocations.c.enrolled_at).order_by(db.allocations.c.sequence)
            ).all()

        def tally(keys: list[str | None], arms: list[str]) -> list[dict[str, Any]]:
            out: dict[str | None, dict[str, Any]] = {}
            for key, arm in zip(keys, arms):
                entry = out.setdefault(key, {"n": 0, "by_arm": dict.fromkeys(self.plan.arms, 0)})
                entry["n"] += 1
                entry["by_arm"][arm] += 1
            return [{"name": k, "n": v["n"], **({"by_arm": v["by_arm"]} if unblinded else {})}
                    for k, v in sorted(out.items(), key=lambda kv: str(kv[0]))]

        sites = [r.site for r in rows]
        strata = [r.stratum for r in rows]
        arms = [r.arm for r in rows]
        weeks: dict[str, dict[str, Any]] = {}
        cumulative = 0
        for r in rows:
            day = dt.date.fromisoformat(r.enrolled_at[:10])
            start = (day - dt.timedelta(days=day.weekday())).isoformat()
            week = weeks.setdefault(start, {"week_starting": start, "n": 0, "by_site": {}, "by_stratum": {}})
            week["n"] += 1
            week["by_site"][r.site] = week["by_site"].get(r.site, 0) + 1
            week["by_stratum"][r.stratum] = week["by_stratum"].get(r.stratum, 0) + 1
        for week in weeks.values():
            cumulative += week["n"]
            week["cumulative"] = cumulative
        return {
            "trial_id": self.plan.trial_id,
            "n_enrolled": len(rows),
            "arms_shown": unblinded,
            "arms": {a: self.plan.arm_name(a) for a in self.plan.arms} if unblinded else {},
            "site_column": self.plan.site_column,
            "strata": list(self.plan.strata),
            "by_site": tally(sites, arms),
            "by_stratum": tally(strata, arms),
            "weeks": list(weeks.values()),
        }

    def unblindings(self, user: User) -> list[dict[str, Any]]:
        """Every emergency unblinding from the audit log: who, when, which participant and why
        (the arm revealed is in the event for the record, not repeated here)."""
        _require(user, "auditor", "admin")
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(db.audit_events.c.seq, db.audit_events.c.ts, db.audit_events.c.actor,
                          db.audit_events.c.after_json)
                .where(db.audit_events.c.action == "unblind").order_by(db.audit_events.c.seq)
            ).all()
        out = []
        for seq, ts, actor, after_json in rows:
            after = json.loads(after_json or "{}")
            out.append({"seq": int(seq), "ts": ts, "actor": actor, "participant_id": after.get("participant_id"),
                        "reference": after.get("ref"), "reason": after.get("reason")})
        return out

    def allocations_frame(self) -> pd.DataFrame:
        """Every allocation, in enrolment order, with the list columns
        ``<id>, arm, stratum, block_id, block_size, sequence`` then ``position, reference, site,
        enrolled_by, enrolled_at`` and the recorded participant columns."""
        import pandas as pd

        q = (
            sa.select(db.allocations, db.slots.c.block_id, db.slots.c.block_size)
            .select_from(db.allocations.outerjoin(
                db.slots,
                sa.and_(db.slots.c.stratum == db.allocations.c.stratum,
                        db.slots.c.position == db.allocations.c.position)))
            .order_by(db.allocations.c.sequence)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).mappings().all()
        value_cols = [c.name for c in self.plan.columns]
        records = []
        for r in rows:
            values = json.loads(r["values_json"])
            rec = {
                self.plan.id_column: r["participant_id"], "arm": r["arm"], "stratum": r["stratum"],
                "block_id": r["block_id"], "block_size": r["block_size"], "sequence": r["sequence"],
                "position": r["position"], "reference": r["ref"], "site": r["site"],
                "enrolled_by": r["enrolled_by"], "enrolled_at": r["enrolled_at"],
            }
            if self.plan.mode == "minimisation":
                rec["probabilities"] = r["probabilities_json"]
            rec.update({f"value_{c}" if c in rec else c: values.get(c) for c in value_cols})
            records.append(rec)
        frame = pd.DataFrame(records)
        if not records:
            frame = pd.DataFrame(columns=[self.plan.id_column, "arm", "stratum", "block_id", "block_size", "sequence",
                                          "position", "reference", "site", "enrolled_by", "enrolled_at", *value_cols])
        for col in ("block_id", "block_size", "position"):
            frame[col] = frame[col].astype("Int64")
        return frame

    def sealed_list_frame(self) -> pd.DataFrame:
        """The sealed list: every slot with its arm and block, and who took it (if anyone)."""
        import pandas as pd

        if self.plan.mode != "sealed_list":
            raise NotFound("this trial uses live minimisation: there is no sealed list", code="no_sealed_list")
        q = (
            sa.select(db.slots.c.stratum, db.slots.c.position, db.slots.c.arm, db.slots.c.block_id,
                      db.slots.c.block_size, db.slots.c.list_sequence,
                      db.allocations.c.participant_id, db.allocations.c.enrolled_at)
            .select_from(db.slots.outerjoin(
                db.allocations,
                sa.and_(db.slots.c.stratum == db.allocations.c.stratum,
                        db.slots.c.position == db.allocations.c.position)))
            .order_by(db.slots.c.list_sequence)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        frame = pd.DataFrame(
            rows, columns=["stratum", "position", "arm", "block_id", "block_size", "list_sequence",
                           "participant_id", "enrolled_at"]
        )
        for col in ("block_id", "block_size"):
            frame[col] = frame[col].astype("Int64")
        return frame

    def list_manifest(self) -> dict[str, Any]:
        if self.plan.mode != "sealed_list":
            raise NotFound("this trial uses live minimisation: there is no sealed list", code="no_sealed_list")
        return json.loads(self.meta["list_manifest"])

    def list_csv(self) -> bytes:
        """The sealed list exactly as the randomisation engine wrote it (its SHA-256 is in the manifest)."""
        if self.plan.mode != "sealed_list":
            raise NotFound("this trial uses live minimisation: there is no sealed list", code="no_sealed_list")
        return self.meta["list_csv"].encode("utf-8")

    def minimisation_settings(self) -> dict[str, Any]:
        return {
            "factors": list(self.plan.factors),
            "ratio": list(self.plan.ratio),
            **self.plan.minimiser_settings(),
            "seed": str(self.seed),
            "seed_source": self.meta.get("seed_source"),
            "uniform_for_enrolment_n": "numpy.random.Generator(PCG64(seed)) advanced n-1 steps, then .random()",
        }

    def record_throttled(self, client: str, failures: int, retry_after_s: float) -> None:
        """Log that ``client`` used up its failed sign-in attempts (once per lock-out, not per refusal)."""

        def job(conn: Connection, chain: Chain) -> None:
            chain.append(actor=SYSTEM.name, role=SYSTEM.role, action="login_throttled", target=client[:200],
                         after={"client": client[:200], "failures": failures,
                                "retry_after_s": round(retry_after_s, 1)})

        self.writer.submit(job)

    def record_export(self, user: User, what: str, rows: int) -> None:
        """Log that ``user`` exported ``what`` (reading is not a change, but who saw the list matters),
        and anchor the chain at that event: whoever holds an export can later prove the log
        up to it was not rewritten."""

        def job(conn: Connection, chain: Chain) -> tuple[int, str]:
            return chain.append(actor=user.name, role=user.role, action="export", target=what,
                                after={"what": what, "rows": int(rows)})

        seq, head_hash = self.writer.submit(job)
        self.anchor(seq, head_hash)

    def anchor(self, seq: int | None = None, head_hash: str | None = None) -> tuple[int, str] | None:
        """Record an anchor (the given event, else the current head) in :attr:`anchor_path`;
        returns it, or None when there is nowhere to record it."""
        if self.anchor_path is None:
            return None
        if seq is None or head_hash is None:
            with self.engine.connect() as conn:
                row = conn.execute(sa.select(db.audit_head.c.seq, db.audit_head.c.hash)).one()
            seq, head_hash = int(row.seq), str(row.hash)
        record_anchor(self.anchor_path, seq, head_hash)
        return seq, head_hash

    def verify_audit(self, *, anchor: tuple[int, str] | None = None) -> AuditReport:
        """Verify the chain against ``anchor``, by default the latest one recorded."""
        return verify_chain(self.engine, anchor=anchor or latest_anchor(self.anchor_path))

    def audit_frame(self, *, after_seq: int = 0, limit: int | None = None) -> pd.DataFrame:
        from bitframe.service.audit import events_frame

        return events_frame(self.engine, after_seq=after_seq, limit=limit)


def _require(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise Forbidden(f"this action needs the role {' or '.join(roles)}; you are {user.role}", code="wrong_role")


# --------------------------------------------------------------------------- set-up


def _new_id(result: CursorResult[Any]) -> int:
    """The primary key of the row an INSERT just wrote."""
    key = result.inserted_primary_key
    if key is None:  # pragma: no cover - single-row inserts always report it
        raise RuntimeError("the database did not report the new row's primary key")
    return key[0]


def _ints_or_none(column: pd.Series) -> list[int | None]:
    """A nullable integer column as Python ints, missing values as None."""
    import pandas as pd

    return [None if pd.isna(v) else int(v) for v in column]


def _read_meta(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.select(db.service_meta.c.key, db.service_meta.c.value)).all())


def _check_same(
    meta: Mapping[str, str],
    protocol: LoadedProtocol | None,
    *,
    list_size: int | None,
    low_list: int | None,
    site_column: str | None,
) -> None:
    if protocol is not None and protocol.sha256 != meta["protocol_sha256"]:
        raise SetupError(
            f"this database serves trial '{meta['trial_id']}' with protocol SHA-256 {meta['protocol_sha256'][:16]}...; "
            f"the protocol given has SHA-256 {protocol.sha256[:16]}... . An amended protocol needs a new database "
            "(export this one first); the allocations made so far stay bound to the protocol they were made under.",
            code="protocol_changed",
        )
    for name, given in (("list_size", list_size), ("low_list", low_list), ("site_column", site_column)):
        stored = meta.get(name) or None
        if given is not None and str(given) != stored:
            raise SetupError(
                f"this database was set up with {name.replace('_', '-')} {stored!r}; it cannot change to {given!r}",
                code="setting_changed",
            )


def _initialise(
    engine: Engine,
    loaded: LoadedProtocol,
    list_size: int | None,
    low_list: int | None,
    site_column: str | None,
    actor: User,
) -> None:
    from bitframe.randomise.allocation import draw_seed

    plan = TrialPlan.from_protocol(loaded.protocol, site_column=site_column)
    seed = loaded.protocol.randomised.seed
    seed_source = "protocol"
    if seed is None:
        seed, seed_source = draw_seed(), "generated"
    meta: dict[str, str] = {
        "bitframe_service": SERVICE_SCHEMA,
        "trial_id": plan.trial_id,
        "protocol_sha256": loaded.sha256,
        "protocol_yaml": loaded.text,
        "mode": plan.mode,
        "scheme": plan.scheme,
        "seed": str(int(seed)),
        "seed_source": seed_source,
        "site_column": plan.site_column or "",
        "session_secret": secrets.token_hex(32),
        "instance_id": secrets.token_hex(8),
        "created_at": utc_now(),
    }
    slot_rows: list[dict[str, Any]] = []
    if plan.mode == "sealed_list":
        size = plan.default_list_size() if list_size is None else list_size
        if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= 1_000_000:
            raise SetupError(f"list size must be an integer in [1, 1000000]; got {size!r}", code="bad_list_size")
        threshold = max(1, math.ceil(0.1 * size)) if low_list is None else low_list
        if isinstance(threshold, bool) or not isinstance(threshold, int) or not 0 <= threshold < size:
            raise SetupError(f"low-list threshold must be an integer in [0, {size}); got {threshold!r}",
                             code="bad_low_list")
        allocation = plan.generate_sealed_list(size, int(seed), loaded.sha256)
        t = allocation.table
        meta.update(list_size=str(size), low_list=str(threshold), list_manifest=canonical_json(allocation.manifest),
                    list_csv=allocation.csv.decode("utf-8"))
        import numpy as np

        # The engine leaves the stratum empty (missing) for unstratified schemes; the service uses ''.
        stratum = t["stratum"].astype(str).to_numpy() if plan.strata else np.full(len(t), "", dtype=object)
        arm = t["arm"].astype(str).to_numpy()
        block_id = _ints_or_none(t["block_id"])
        block_size = _ints_or_none(t["block_size"])
        seq = t["sequence"].to_numpy()
        # Position within stratum, in list order (the engine keeps input order within a stratum).
        import pandas as pd

        position = pd.Series(stratum).groupby(stratum, sort=False).cumcount().to_numpy() + 1
        expected = {plan.stratum_of(c) for c in plan.strata_combinations()}
        if set(stratum) != expected:  # pragma: no cover - the engine's label format is part of its contract
            labels = sorted(str(s) for s in set(stratum))
            raise SetupError(f"stratum labels differ between the engine and the service: {labels[:3]}")
        slot_rows = [
            {"stratum": stratum[i], "position": int(position[i]), "arm": arm[i],
             "block_id": block_id[i],
             "block_size": block_size[i],
             "list_sequence": int(seq[i])}
            for i in range(len(t))
        ]
    elif list_size is not None or low_list is not None:
        raise SetupError("list size and low-list threshold apply only to sealed lists, not to minimisation",
                         code="setting_not_applicable")
    lock = db.WriteLock(engine)
    with lock.transaction() as (conn, seq_head, h):
        if conn.execute(sa.select(sa.func.count()).select_from(db.service_meta)).scalar_one():
            raise SetupError("another process set this database up at the same time; start again", code="race")
        conn.execute(db.service_meta.insert(), [{"key": k, "value": v} for k, v in meta.items()])
        for start in range(0, len(slot_rows), 5000):
            conn.execute(db.slots.insert(), slot_rows[start:start + 5000])
        after: dict[str, str | int] = {
            k: meta[k] for k in ("trial_id", "protocol_sha256", "mode", "scheme", "seed_source", "site_column")}
        if plan.mode == "sealed_list":
            after.update(list_size=int(meta["list_size"]), low_list=int(meta["low_list"]),
                         list_sha256=json.loads(meta["list_manifest"])["list_sha256"], n_slots=len(slot_rows))
        Chain(conn, seq_head, h).append(actor=actor.name, role=actor.role, action="service_init",
                                        target=plan.trial_id, after=after)
