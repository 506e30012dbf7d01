"""Alarm history: every alarm life-cycle event per tenant, with the state it left.

Revision ID: 0004_alarm_history
Revises: 0003_users
Create Date: 2026-11-24 08:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_alarm_history"
down_revision: str | Sequence[str] | None = "0003_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "alarm_history",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("alarm", sa.String(length=128), nullable=False),
        sa.Column("kind", sa.String(length=32), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=32), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("actor", sa.String(length=128), nullable=True),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.Column("until", sa.BigInteger(), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_alarm_history_tenant_ts", "alarm_history", ["tenant_id", "ts"])
    op.create_index("ix_alarm_history_tenant_alarm", "alarm_history", ["tenant_id", "alarm", "id"])


def downgrade() -> None:
    op.drop_table("alarm_history")
