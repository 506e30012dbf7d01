"""EPCIS events: the events with their filter fields, and the identifiers each names.

Revision ID: 0008_epcis_events
Revises: 0007_model_registry
Create Date: 2026-11-24 16:30:00
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_epcis_events"
down_revision: str | Sequence[str] | None = "0007_model_registry"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "epcis_events",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=400), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("event_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("record_time_ns", sa.BigInteger(), nullable=False),
        sa.Column("action", sa.String(length=8), nullable=True),
        sa.Column("biz_step", sa.String(length=400), nullable=True),
        sa.Column("disposition", sa.String(length=400), nullable=True),
        sa.Column("read_point", sa.String(length=400), nullable=True),
        sa.Column("biz_location", sa.String(length=400), nullable=True),
        sa.Column("body", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("tenant_id", "event_id", name="uq_epcis_events_event_id"),
    )
    op.create_index("ix_epcis_events_tenant_time", "epcis_events", ["tenant_id", "event_time_ns"])
    op.create_table(
        "epcis_event_epcs",
        sa.Column("id", _ID, autoincrement=True, nullable=False),
        sa.Column("tenant_id", sa.Integer(), nullable=False),
        sa.Column("event", _ID, nullable=False),
        sa.Column("epc", sa.String(length=400), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.ForeignKeyConstraint(["tenant_id"], ["tenants.id"]),
        sa.ForeignKeyConstraint(["event"], ["epcis_events.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index("ix_epcis_event_epcs_tenant_epc", "epcis_event_epcs", ["tenant_id", "epc"])
    op.create_index("ix_epcis_event_epcs_event", "epcis_event_epcs", ["event"])


def downgrade() -> None:
    op.drop_index("ix_epcis_event_epcs_event", table_name="epcis_event_epcs")
    op.drop_index("ix_epcis_event_epcs_tenant_epc", table_name="epcis_event_epcs")
    op.drop_table("epcis_event_epcs")
    op.drop_index("ix_epcis_events_tenant_time", table_name="epcis_events")
    op.drop_table("epcis_events")
