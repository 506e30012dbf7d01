"""EPCIS master data: the vocabulary elements (locations, read points, …) a tenant's documents
describe, with attributes and children, for WD_ queries.

Revision ID: 0013_epcis_master_data
Revises: 0012_genealogy_event_columns
Create Date: 2026-11-24 16:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_epcis_master_data"
down_revision: str | Sequence[str] | None = "0012_genealogy_event_columns"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "epcis_vocabulary",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("vocabulary", sa.String(length=400), nullable=False),
        sa.Column("element", sa.String(length=400), nullable=False),
        sa.Column("attributes", sa.Text(), nullable=False),
        sa.Column("children", sa.Text(), nullable=False),
        sa.Column("record_time_ns", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "vocabulary", "element"),
    )


def downgrade() -> None:
    op.drop_table("epcis_vocabulary")
