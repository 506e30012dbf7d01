"""Downtime reasons entered by operators, per tenant and stop.

Revision ID: 0005_downtime_reasons
Revises: 0004_alarm_history
Create Date: 2026-11-24 08:45:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005_downtime_reasons"
down_revision: str | Sequence[str] | None = "0004_alarm_history"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "downtime_reasons",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            autoincrement=True,
            nullable=False,
        ),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("equipment", sa.String(length=400), nullable=False),
        sa.Column("stop_start", sa.BigInteger(), nullable=False),
        sa.Column("code", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(length=500), nullable=False),
        sa.Column("user", sa.String(length=128), nullable=False),
        sa.Column("entered", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_downtime_reasons_tenant_start", "downtime_reasons", ["tenant_id", "stop_start"]
    )


def downgrade() -> None:
    op.drop_table("downtime_reasons")
