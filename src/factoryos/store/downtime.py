"""Downtime reasons entered by operators: which reason code a stop of an equipment had.

One row per entry, never updated: a correction is a newer entry for the same stop, and the
newest one counts (:meth:`DowntimeReasons.entries` returns them oldest first). The store
knows nothing of the OEE app's reason catalog: codes are checked by the caller.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, select
from sqlalchemy.orm import Mapped, mapped_column

from factoryos.store.catalog import Base, Catalog, CatalogInputError, _UTCDateTime

MAX_EQUIPMENT = 400
MAX_COMMENT = 500
MAX_USER = 128
MAX_ENTRIES = 100_000  # per read: a quarter of a busy plant's stops, and a bound
_Id = BigInteger().with_variant(Integer(), "sqlite")


class DowntimeReasonRow(Base):
    __tablename__ = "downtime_reasons"
    __table_args__ = (Index("ix_downtime_reasons_tenant_start", "tenant_id", "stop_start"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    equipment: Mapped[str] = mapped_column(String(MAX_EQUIPMENT))
    stop_start: Mapped[int] = mapped_column(BigInteger, doc="the stop's start, ns since epoch")
    code: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(String(MAX_COMMENT))
    user: Mapped[str] = mapped_column(String(MAX_USER))
    entered: Mapped[datetime] = mapped_column(_UTCDateTime)


@dataclass(frozen=True, slots=True)
class ReasonEntry:
    equipment: str
    stop_start: int
    code: int
    comment: str
    user: str
    entered: datetime
    id: int | None = None


def _check(entry: ReasonEntry) -> None:
    if not 0 < len(entry.equipment) <= MAX_EQUIPMENT:
        raise CatalogInputError(f"equipment: 1 to {MAX_EQUIPMENT} characters")
    if len(entry.comment) > MAX_COMMENT:
        raise CatalogInputError(f"comment: at most {MAX_COMMENT} characters")
    if not -(2**31) <= entry.code < 2**31:
        raise CatalogInputError(f"code: {entry.code} is not a 32-bit reason code")


class DowntimeReasons:
    """The catalog's operator-entered downtime reasons (synchronous, like the catalog)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def add(self, tenant_id: int, entry: ReasonEntry) -> ReasonEntry:
        _check(entry)
        row = DowntimeReasonRow(
            tenant_id=tenant_id,
            equipment=entry.equipment,
            stop_start=entry.stop_start,
            code=entry.code,
            comment=entry.comment,
            user=entry.user[:MAX_USER],
            entered=entry.entered.astimezone(UTC),
        )
        with self._catalog._write() as s:
            s.add(row)
            s.flush()
            return ReasonEntry(
                row.equipment, row.stop_start, row.code, row.comment, row.user, row.entered, row.id
            )

    def entries(
        self, tenant_id: int, equipment: Sequence[str], start_ns: int, end_ns: int
    ) -> list[ReasonEntry]:
        """Entries for stops of ``equipment`` starting in ``[start_ns, end_ns)``, oldest first."""
        query = (
            select(DowntimeReasonRow)
            .where(
                DowntimeReasonRow.tenant_id == tenant_id,
                DowntimeReasonRow.equipment.in_(list(equipment)),
                DowntimeReasonRow.stop_start >= start_ns,
                DowntimeReasonRow.stop_start < end_ns,
            )
            .order_by(DowntimeReasonRow.id)
            .limit(MAX_ENTRIES)
        )
        with self._catalog._read() as s:
            return [
                ReasonEntry(r.equipment, r.stop_start, r.code, r.comment, r.user, r.entered, r.id)
                for r in s.scalars(query)
            ]
