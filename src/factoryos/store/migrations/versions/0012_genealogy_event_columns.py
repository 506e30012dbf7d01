"""Genealogy edges carry their event's id, type and time, in the indexes too: a trace level is
answered from one index on PostgreSQL, without looking each event up by row id.

Revision ID: 0012_genealogy_event_columns
Revises: 0011_genealogy_edges
Create Date: 2026-11-24 15:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_genealogy_event_columns"
down_revision: str | Sequence[str] | None = "0011_genealogy_edges"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_BACKFILL = """
UPDATE epcis_genealogy SET
    event_id = e.event_id, event_type = e.event_type, event_time_ns = e.event_time_ns
FROM epcis_events e WHERE e.id = epcis_genealogy.event
"""
_COLUMNS = ("event_id", "event_type", "event_time_ns")


def upgrade() -> None:
    op.drop_index("ix_epcis_genealogy_target", table_name="epcis_genealogy")
    op.drop_index("ix_epcis_genealogy_source", table_name="epcis_genealogy")
    with op.batch_alter_table("epcis_genealogy") as table:
        table.add_column(sa.Column("event_id", sa.String(length=400), nullable=True))
        table.add_column(sa.Column("event_type", sa.String(length=32), nullable=True))
        table.add_column(sa.Column("event_time_ns", sa.BigInteger(), nullable=True))
    op.execute(_BACKFILL)
    with op.batch_alter_table("epcis_genealogy") as table:
        for name in _COLUMNS:
            table.alter_column(name, nullable=False)
    _indexes(("event_id", "event_type", "event_time_ns"))


def downgrade() -> None:
    op.drop_index("ix_epcis_genealogy_target", table_name="epcis_genealogy")
    op.drop_index("ix_epcis_genealogy_source", table_name="epcis_genealogy")
    with op.batch_alter_table("epcis_genealogy") as table:
        for name in _COLUMNS:
            table.drop_column(name)
    _indexes(("event",))


def _indexes(carried: tuple[str, ...]) -> None:
    op.create_index(
        "ix_epcis_genealogy_source",
        "epcis_genealogy",
        ["tenant_id", "source"],
        postgresql_include=["target", *carried],
    )
    op.create_index(
        "ix_epcis_genealogy_target",
        "epcis_genealogy",
        ["tenant_id", "target"],
        postgresql_include=["source", *carried],
    )
