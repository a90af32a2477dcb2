"""Server-side sign-out: a per-user session generation that every page session must match.

Signing out, rotating a token or revoking a user increments it, so a session cookie issued
before that stops working at once instead of living out its 8 hours.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("users", sa.Column("session_generation", sa.Integer, nullable=False, server_default="0"))


def downgrade() -> None:
    # SQLite drops a column only by rebuilding the table, which batch mode does.
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_generation")
