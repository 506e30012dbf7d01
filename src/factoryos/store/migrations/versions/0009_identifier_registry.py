"""Identifier registry: prefixes with their owner tenant, identifiers with their record.

Revision ID: 0009_identifier_registry
Revises: 0008_epcis_events
Create Date: 2026-11-26 10:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_identifier_registry"
down_revision: str | Sequence[str] | None = "0008_epcis_events"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "identifier_prefixes",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("prefix", sa.String(length=140), nullable=False),
        sa.Column("description", sa.String(length=200), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("created_by", sa.String(length=128), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("prefix", name="uq_identifier_prefixes_prefix"),
    )
    op.create_index("ix_identifier_prefixes_tenant", "identifier_prefixes", ["tenant_id", "prefix"])
    op.create_table(
        "identifiers",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("handle", sa.String(length=340), nullable=False),
        sa.Column("prefix", sa.String(length=140), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("created", sa.BigInteger(), nullable=False),
        sa.Column("updated", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("handle", name="uq_identifiers_handle"),
    )
    op.create_index("ix_identifiers_tenant_prefix", "identifiers", ["tenant_id", "prefix", "id"])


def downgrade() -> None:
    op.drop_index("ix_identifiers_tenant_prefix", table_name="identifiers")
    op.drop_table("identifiers")
    op.drop_index("ix_identifier_prefixes_tenant", table_name="identifier_prefixes")
    op.drop_table("identifier_prefixes")
