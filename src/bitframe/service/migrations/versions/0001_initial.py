"""Initial schema: users, sealed-list slots, allocations, hash-chained audit log; append-only triggers.

Revision ID: 0001
Revises:
Create Date: 2026-05-20
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

GENESIS = "0" * 64
APPEND_ONLY = ("service_meta", "slots", "allocations", "allocation_factors", "audit_events")


def upgrade() -> None:
    op.create_table(
        "service_meta",
        sa.Column("key", sa.String(64), primary_key=True),
        sa.Column("value", sa.Text, nullable=False),
    )
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("name", sa.String(64), nullable=False, unique=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("site", sa.String(200), nullable=True),
        sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
        sa.Column("token_hint", sa.String(16), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(32), nullable=False),
        sa.CheckConstraint("role IN ('enroller', 'statistician', 'auditor', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "slots",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("stratum", sa.String(500), nullable=False),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
        sa.Column("block_id", sa.Integer, nullable=True),
        sa.Column("block_size", sa.Integer, nullable=True),
        sa.Column("list_sequence", sa.Integer, nullable=False),
        sa.UniqueConstraint("stratum", "position", name="uq_slots_stratum_position"),
    )
    op.create_table(
        "allocations",
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
    op.create_table(
        "allocation_factors",
        sa.Column("allocation_id", sa.Integer, sa.ForeignKey("allocations.id", name="fk_factors_allocation"),
                  primary_key=True),
        sa.Column("factor", sa.String(64), primary_key=True),
        sa.Column("level", sa.String(200), nullable=False),
        sa.Column("arm", sa.String(64), nullable=False),
    )
    op.create_index("ix_allocation_factors_level_arm", "allocation_factors", ["factor", "level", "arm"])
    op.create_table(
        "audit_events",
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
    )
    op.create_index("ix_audit_events_action", "audit_events", ["action"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("hash", sa.String(64), nullable=False),
        sa.CheckConstraint("id = 1", name="ck_audit_head_single_row"),
    )
    op.execute(sa.text(f"INSERT INTO audit_head (id, seq, hash) VALUES (1, 0, '{GENESIS}')"))

    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        _sqlite_triggers()
    elif dialect == "postgresql":
        _postgres_triggers()
    else:  # pragma: no cover - make_engine accepts only these two
        raise RuntimeError(f"unsupported database {dialect!r}")


def _sqlite_triggers() -> None:
    for table in APPEND_ONLY:
        for op_name in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_no_{op_name.lower()} BEFORE {op_name} ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {op_name} refused'); END"
            )
    # The chain's structure, enforced by the database: each event extends the head, and the
    # head moves one event at a time to an event that exists; the head row is never deleted.
    op.execute(
        "CREATE TRIGGER audit_events_extend_head BEFORE INSERT ON audit_events "
        "WHEN NEW.seq <> (SELECT seq FROM audit_head WHERE id = 1) + 1 "
        "OR NEW.prev_hash <> (SELECT hash FROM audit_head WHERE id = 1) "
        "BEGIN SELECT RAISE(ABORT, 'audit event does not extend the chain head'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_head_forward BEFORE UPDATE ON audit_head "
        "WHEN NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1 "
        "OR NOT EXISTS (SELECT 1 FROM audit_events WHERE seq = NEW.seq AND hash = NEW.hash) "
        "BEGIN SELECT RAISE(ABORT, 'audit head may only advance to the next event'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_delete BEFORE DELETE ON audit_head "
        "BEGIN SELECT RAISE(ABORT, 'audit_head is permanent: DELETE refused'); END"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_insert BEFORE INSERT ON audit_head "
        "BEGIN SELECT RAISE(ABORT, 'audit_head has exactly one row: INSERT refused'); END"
    )


def _postgres_triggers() -> None:
    op.execute(
        """
        CREATE FUNCTION bitframe_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
            USING ERRCODE = 'integrity_constraint_violation';
        END $$
        """
    )
    for table in APPEND_ONLY:
        op.execute(
            f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
            f"FOR EACH ROW EXECUTE FUNCTION bitframe_refuse_change()"
        )
        op.execute(
            f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
            f"FOR EACH STATEMENT EXECUTE FUNCTION bitframe_refuse_change()"
        )
    op.execute(
        """
        CREATE FUNCTION bitframe_audit_extend() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE h record;
        BEGIN
          SELECT seq, hash INTO h FROM audit_head WHERE id = 1;
          IF NEW.seq <> h.seq + 1 OR NEW.prev_hash <> h.hash THEN
            RAISE EXCEPTION 'audit event does not extend the chain head'
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_events_extend_head BEFORE INSERT ON audit_events "
        "FOR EACH ROW EXECUTE FUNCTION bitframe_audit_extend()"
    )
    op.execute(
        """
        CREATE FUNCTION bitframe_audit_head_forward() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
          IF TG_OP <> 'UPDATE' THEN
            RAISE EXCEPTION 'audit_head has exactly one permanent row: % refused', TG_OP
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          IF NEW.id <> OLD.id OR NEW.seq <> OLD.seq + 1
             OR NOT EXISTS (SELECT 1 FROM audit_events WHERE seq = NEW.seq AND hash = NEW.hash) THEN
            RAISE EXCEPTION 'audit head may only advance to the next event'
              USING ERRCODE = 'integrity_constraint_violation';
          END IF;
          RETURN NEW;
        END $$
        """
    )
    op.execute(
        "CREATE TRIGGER audit_head_forward BEFORE INSERT OR UPDATE OR DELETE ON audit_head "
        "FOR EACH ROW EXECUTE FUNCTION bitframe_audit_head_forward()"
    )
    op.execute(
        "CREATE TRIGGER audit_head_no_truncate BEFORE TRUNCATE ON audit_head "
        "FOR EACH STATEMENT EXECUTE FUNCTION bitframe_refuse_change()"
    )


def downgrade() -> None:
    # Refused on purpose: the tables hold a trial's allocations and audit trail.
    raise RuntimeError("the initial revision cannot be downgraded: it would drop allocations and the audit trail")
