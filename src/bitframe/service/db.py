"""The allocation service's database: tables, engines, migrations and the write lock.

Two back-ends: SQLite (embedded default, one file in the data directory, WAL journal,
``synchronous=FULL`` so that an acknowledged enrolment survives a crash of the process
*and* of the machine) and PostgreSQL (``postgresql://`` URLs, driven by psycopg 3).
The schema is created and upgraded by Alembic (``bitframe/service/migrations``);
:data:`metadata` mirrors the latest revision, and a test compares the two.

Append-only tables
------------------
``allocations``, ``allocation_factors``, ``slots``, ``service_meta`` and ``audit_events``
refuse ``UPDATE`` and ``DELETE`` (and, on PostgreSQL, ``TRUNCATE``) by triggers created in
the migration, so not even a bug in this package can rewrite an allocation. The single
``audit_head`` row may only move forward by one event at a time, to an event that exists.

Serialising writers
-------------------
Every state-changing transaction first takes the *write lock*: ``BEGIN IMMEDIATE`` on
SQLite (the database-wide reserved lock) and ``SELECT ... FROM audit_head FOR UPDATE`` on
PostgreSQL (a row lock every writer needs). The hash chain of the audit log needs a total
order of events anyway, and under that lock "the next free slot" and "the current
minimisation counts" are read and used in the same transaction, so two enrolments can
never take the same slot or see stale counts. Within one server process a
:class:`threading.Lock` queues writers first, so they do not spin on SQLite's busy
handler.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from bitframe.service.errors import ServiceError

metadata = sa.MetaData()

GENESIS_HASH = "0" * 64
ROLES = ("enroller", "statistician", "auditor", "admin")

service_meta = sa.Table(
    "service_meta",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("value", sa.Text, nullable=False),
)

users = sa.Table(
    "users",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(64), nullable=False, unique=True),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("site", sa.String(200), nullable=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("token_hint", sa.String(16), nullable=False),
    sa.Column("active", sa.Boolean, nullable=False),
    sa.Column("created_at", sa.String(32), nullable=False),
    sa.Column("updated_at", sa.String(32), nullable=False),
    sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint("role IN ('enroller', 'statistician', 'auditor', 'admin')", name="ck_users_role"),
)

slots = sa.Table(
    "slots",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("stratum", sa.String(500), nullable=False),
    sa.Column("position", sa.Integer, nullable=False),
    sa.Column("arm", sa.String(64), nullable=False),
    sa.Column("block_id", sa.Integer, nullable=True),
    sa.Column("block_size", sa.Integer, nullable=True),
    sa.Column("list_sequence", sa.Integer, nullable=False),
    sa.UniqueConstraint("stratum", "position", name="uq_slots_stratum_position"),
)

allocations = sa.Table(
    "allocations",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("ref", sa.String(16), nullable=False, unique=True),
    sa.Column("participant_id", sa.String(64), nullable=False, unique=True),
    sa.Column("sequence", sa.Integer, nullable=False, unique=True),
    sa.Column("stratum", sa.String(500), nullable=False),
    sa.Column("position", sa.Integer, nullable=True),
    sa.Column("arm", sa.String(64), nullable=False),
    sa.Column("site", sa.String(200), nullable=True),
    sa.Column("values_json", sa.Text, nullable=False),
    sa.Column("probabilities_json", sa.Text, nullable=True),
    sa.Column("enrolled_by", sa.String(64), nullable=False),
    sa.Column("enrolled_at", sa.String(32), nullable=False),
    sa.UniqueConstraint("stratum", "position", name="uq_allocations_slot"),
    sa.ForeignKeyConstraint(
        ["stratum", "position"], ["slots.stratum", "slots.position"], name="fk_allocations_slot"
    ),
)

allocation_factors = sa.Table(
    "allocation_factors",
    metadata,
    sa.Column("allocation_id", sa.Integer, sa.ForeignKey("allocations.id", name="fk_factors_allocation"),
              primary_key=True),
    sa.Column("factor", sa.String(64), primary_key=True),
    sa.Column("level", sa.String(200), nullable=False),
    sa.Column("arm", sa.String(64), nullable=False),
    sa.Index("ix_allocation_factors_level_arm", "factor", "level", "arm"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("ts", sa.String(32), nullable=False),
    sa.Column("actor", sa.String(80), nullable=False),
    sa.Column("role", sa.String(16), nullable=False),
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("target", sa.String(200), nullable=True),
    sa.Column("before_json", sa.Text, nullable=True),
    sa.Column("after_json", sa.Text, nullable=True),
    sa.Column("prev_hash", sa.String(64), nullable=False),
    sa.Column("hash", sa.String(64), nullable=False, unique=True),
    sa.Index("ix_audit_events_action", "action"),
)

audit_head = sa.Table(
    "audit_head",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("seq", sa.Integer, nullable=False),
    sa.Column("hash", sa.String(64), nullable=False),
    sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
)

APPEND_ONLY_TABLES = ("service_meta", "slots", "allocations", "allocation_factors", "audit_events")


# --------------------------------------------------------------------------- URLs and engines


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` / ``postgres://`` and pick the psycopg 3 driver; SQLite as is."""
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://"):]
    if url.startswith("postgresql://"):
        url = "postgresql+psycopg://" + url[len("postgresql://"):]
    if not url.startswith(("sqlite:///", "postgresql+psycopg://")):
        raise ValueError(
            f"The 'db' parameter must be a sqlite:///PATH or postgresql://USER@HOST:PORT/DB URL. Got {url!r} instead."
        )
    return url


def make_engine(url: str) -> Engine:
    """An engine with the pragmas/pool this service relies on (see the module docs)."""
    url = normalise_url(url)
    if url.startswith("sqlite"):
        engine = sa.create_engine(
            url,
            connect_args={"timeout": 60, "check_same_thread": False},
            pool_size=8,
            max_overflow=56,
            pool_timeout=120,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            # Take transaction control from pysqlite so that BEGIN IMMEDIATE is ours to issue.
            dbapi_conn.isolation_level = None
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Connection) -> None:
            write = conn.get_execution_options().get("bitframe_write", False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine
    return sa.create_engine(url, pool_size=8, max_overflow=56, pool_timeout=120, pool_pre_ping=True)


def display_url(url: str) -> str:
    """The URL with any password replaced by ***, for messages."""
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return url.split("@")[-1]


def unreachable(url: str, exc: BaseException) -> ServiceError:
    """The refusal for a database that cannot be opened or read, naming it and what to check."""
    from bitframe.service.errors import Unavailable

    detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    reason = detail[0] if detail else type(exc).__name__
    what = ("is it a bitframe service database (set up by `bitframe serve PROTOCOL --init-only`)?"
            if url.startswith("sqlite") else
            "check that the PostgreSQL server is running and reachable, and the URL, user and password")
    return Unavailable(f"cannot open the database {display_url(url)}: {reason}; {what}", code="database_unavailable")


def open_existing(url: str) -> Engine:
    """An engine on a database the service has already set up, checked by reading its schema
    revision; a missing file, a file that is not a database, one never set up, or a server that
    cannot be reached is a :class:`~bitframe.service.errors.ServiceError` naming it (SQLite would
    otherwise create an empty file where a database was expected)."""
    from bitframe.service.errors import SetupError, Unavailable

    url = normalise_url(url)
    if url.startswith("sqlite:///"):
        path = Path(url[len("sqlite:///"):])
        if path.is_dir():
            raise Unavailable(f"the service database {path} is a directory, not a database file; give the file "
                              "that `bitframe serve` created (--db sqlite:///PATH or --data-dir DIR)",
                              code="database_unavailable")
        if not path.exists():
            raise SetupError(f"the service database {path} does not exist: it has not been set up for a trial yet; "
                             "run `bitframe serve PROTOCOL --init-only`, or give the file it created (--db or "
                             "--data-dir)", code="not_initialised")
    engine = make_engine(url)
    try:
        revision = current_revision(engine)
    except sa.exc.DBAPIError as exc:
        engine.dispose()
        raise unreachable(url, exc) from None
    if revision is None:
        engine.dispose()
        raise SetupError(f"the database {display_url(url)} has not been set up for a trial; run "
                         "`bitframe serve PROTOCOL --init-only` first", code="not_initialised")
    return engine


# --------------------------------------------------------------------------- migrations


def _alembic_config(connection: Connection) -> Any:
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(__file__).resolve().parent / "migrations"))
    cfg.attributes["connection"] = connection
    return cfg


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the schema to ``revision`` (Alembic), in one transaction."""
    from alembic import command

    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), revision)


def current_revision(engine: Engine) -> str | None:
    from alembic.runtime.migration import MigrationContext

    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


# --------------------------------------------------------------------------- the write lock


class WriteLock:
    """Serialises state-changing transactions (see the module docs)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._local = threading.Lock()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[tuple[Connection, int, str]]:
        """Yield ``(connection, head_seq, head_hash)`` inside a locked transaction; commit on exit."""
        with self._local, self.engine.connect() as conn:
            conn.execution_options(bitframe_write=True)
            with conn.begin():
                row = conn.execute(
                    sa.select(audit_head.c.seq, audit_head.c.hash).where(audit_head.c.id == 1).with_for_update()
                ).one()
                yield conn, int(row.seq), str(row.hash)
