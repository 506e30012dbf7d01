"""Genealogy edges: one row per (upstream, downstream) pair an EPCIS event makes, so a trace
level is one index lookup; filled from the events already stored.

The backfill repeats the trace app's rule as of this revision (transformations: inputs to
outputs; aggregations that ADD or OBSERVE: children to the parent); later captures store the
edges the app derives.

Revision ID: 0011_genealogy_edges
Revises: 0010_spc
Create Date: 2026-11-24 12:00:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_genealogy_edges"
down_revision: str | Sequence[str] | None = "0010_spc"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

_BACKFILL = """
INSERT INTO epcis_genealogy (tenant_id, event, source, target)
SELECT DISTINCT up.tenant_id, up.event, up.epc, down.epc
FROM epcis_event_epcs up
JOIN epcis_event_epcs down ON down.event = up.event
JOIN epcis_events e ON e.id = up.event
WHERE up.epc <> down.epc AND (
    (e.event_type = 'TransformationEvent'
     AND up.role IN ('input', 'input_class') AND down.role IN ('output', 'output_class'))
    OR (e.event_type = 'AggregationEvent' AND e.action IN ('ADD', 'OBSERVE')
        AND up.role IN ('child', 'child_class') AND down.role = 'parent'))
"""


def upgrade() -> None:
    op.create_table(
        "epcis_genealogy",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("event", _ID, nullable=False),
        sa.Column("source", sa.String(length=400), nullable=False),
        sa.Column("target", sa.String(length=400), nullable=False),
        sa.ForeignKeyConstraint(["event"], ["epcis_events.id"]),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.execute(_BACKFILL)
    op.create_index(
        "ix_epcis_genealogy_source",
        "epcis_genealogy",
        ["tenant_id", "source"],
        postgresql_include=["target", "event"],
    )
    op.create_index(
        "ix_epcis_genealogy_target",
        "epcis_genealogy",
        ["tenant_id", "target"],
        postgresql_include=["source", "event"],
    )


def downgrade() -> None:
    op.drop_index("ix_epcis_genealogy_target", table_name="epcis_genealogy")
    op.drop_index("ix_epcis_genealogy_source", table_name="epcis_genealogy")
    op.drop_table("epcis_genealogy")
