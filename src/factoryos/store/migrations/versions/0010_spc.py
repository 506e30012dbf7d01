"""Statistical process control: inspection results and SPC alarms, per tenant.

Revision ID: 0010_spc
Revises: 0009_identifier_registry
Create Date: 2026-11-26 14:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_spc"
down_revision: str | Sequence[str] | None = "0009_identifier_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "inspection_results",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("lot", sa.String(length=128), nullable=True),
        sa.Column("equipment", sa.String(length=400), nullable=False),
        sa.Column("measurements", sa.Text(), nullable=True),
        sa.Column("count", sa.Integer(), nullable=True),
        sa.Column("sample_size", sa.Float(), nullable=True),
        sa.Column("inspector", sa.String(length=128), nullable=False),
        sa.Column("comment", sa.String(length=1000), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_inspection_results_tenant_char_ts",
        "inspection_results",
        ["tenant_id", "characteristic", "ts"],
    )
    op.create_table(
        "spc_alarms",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("characteristic", sa.String(length=64), nullable=False),
        sa.Column("ts", sa.BigInteger(), nullable=False),
        sa.Column("chart", sa.String(length=8), nullable=False),
        sa.Column("rule", sa.String(length=8), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("value", sa.Float(), nullable=True),
        sa.Column("lot", sa.String(length=128), nullable=True),
        sa.Column("equipment", sa.String(length=400), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("raised", sa.BigInteger(), nullable=False),
        sa.Column("acked_by", sa.String(length=128), nullable=True),
        sa.Column("acked_at", sa.BigInteger(), nullable=True),
        sa.Column("comment", sa.String(length=1000), nullable=True),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint(
            "tenant_id", "characteristic", "ts", "chart", "rule", name="uq_spc_alarms_point_rule"
        ),
    )
    op.create_index("ix_spc_alarms_tenant_state", "spc_alarms", ["tenant_id", "state", "id"])
    op.create_index(
        "ix_spc_alarms_tenant_char", "spc_alarms", ["tenant_id", "characteristic", "id"]
    )


def downgrade() -> None:
    op.drop_index("ix_spc_alarms_tenant_char", table_name="spc_alarms")
    op.drop_index("ix_spc_alarms_tenant_state", table_name="spc_alarms")
    op.drop_table("spc_alarms")
    op.drop_index("ix_inspection_results_tenant_char_ts", table_name="inspection_results")
    op.drop_table("inspection_results")
