"""Alarm history: every life-cycle event of every alarm, per tenant, in the catalog database.

Rows are appended in batches by the alarm processor and never updated. Each row records the
alarm's state right after the event, so the newest row of an alarm is its state: a restart
reads :meth:`AlarmLog.latest` to bring unacknowledged and shelved alarms back as they were.

Times are int64 nanoseconds since the epoch (UTC), as the alarm engine reports them: they
order events exactly and feed the KPIs without conversion. The store knows nothing of the
alarm package (it sits below it): kinds and states are plain strings here.

Bounded by :meth:`AlarmLog.prune`: rows older than a cut-off go, then the oldest beyond a row
count; the newest row of each alarm always stays, whatever its age (so at most the row count
plus one row per alarm remain).
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Delete

from factoryos.store.catalog import Base, Catalog, CatalogInputError
from factoryos.store.paging import newest_first

MAX_NAME = 128
MAX_ACTOR = 128
MAX_COMMENT = 1000
MAX_PAGE = 10_000
MAX_APPEND = 10_000  # rows per append call (one transaction)
_Id = BigInteger().with_variant(Integer(), "sqlite")  # SQLite autoincrements INTEGER only


class AlarmHistoryRow(Base):
    __tablename__ = "alarm_history"
    __table_args__ = (
        Index("ix_alarm_history_tenant_ts", "tenant_id", "ts"),
        Index("ix_alarm_history_tenant_alarm", "tenant_id", "alarm", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    ts: Mapped[int] = mapped_column(BigInteger, doc="ns since the epoch, UTC")
    alarm: Mapped[str] = mapped_column(String(MAX_NAME))
    kind: Mapped[str] = mapped_column(String(32))
    priority: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(32), doc="the alarm's state after the event")
    value: Mapped[float | None] = mapped_column(Float)
    actor: Mapped[str | None] = mapped_column(String(MAX_ACTOR), doc="operator commands")
    comment: Mapped[str | None] = mapped_column(String(MAX_COMMENT))
    until: Mapped[int | None] = mapped_column(BigInteger, doc="shelved until (ns)")


@dataclass(frozen=True, slots=True)
class AlarmRecord:
    """One row; ``id`` is None until stored."""

    ts: int
    alarm: str
    kind: str
    priority: int
    state: str
    value: float | None = None
    actor: str | None = None
    comment: str | None = None
    until: int | None = None
    id: int | None = None


@dataclass(frozen=True)
class HistoryFilter:
    """Which rows a query returns; every field None matches all."""

    alarm: str | None = None
    kinds: tuple[str, ...] | None = None
    min_priority: int | None = None
    start: int | None = None  # ns, inclusive
    end: int | None = None  # ns, exclusive


@dataclass(frozen=True)
class HistoryPage:
    records: list[AlarmRecord]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; None on the last page."""


def _record(row: AlarmHistoryRow) -> AlarmRecord:
    return AlarmRecord(
        row.ts,
        row.alarm,
        row.kind,
        row.priority,
        row.state,
        row.value,
        row.actor,
        row.comment,
        row.until,
        row.id,
    )


def _values(tenant_id: int, r: AlarmRecord) -> dict[str, object]:
    # NaN or inf: SQLite and PostgreSQL would differ, JSON answers cannot carry it.
    finite = r.value is not None and math.isfinite(r.value)
    return {
        "tenant_id": tenant_id,
        "ts": r.ts,
        "alarm": r.alarm[:MAX_NAME],
        "kind": r.kind,
        "priority": r.priority,
        "state": r.state,
        "value": r.value if finite else None,
        "actor": None if r.actor is None else r.actor[:MAX_ACTOR],
        "comment": None if r.comment is None else r.comment[:MAX_COMMENT],
        "until": r.until,
    }


def _delete(s: Session, statement: Delete) -> int:
    result = s.execute(statement)
    assert isinstance(result, CursorResult)  # a DELETE always answers with a cursor
    return int(result.rowcount)


class AlarmLog:
    """The catalog's alarm history. Synchronous, like the catalog: call it from threads."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def append(self, tenant_id: int, records: Sequence[AlarmRecord]) -> None:
        """Store ``records`` in one transaction, in order (ids follow the order)."""
        if len(records) > MAX_APPEND:
            raise CatalogInputError(f"alarm history: {len(records)} rows exceed {MAX_APPEND}")
        if not records:
            return
        rows = [_values(tenant_id, r) for r in records]
        with self._catalog._write() as s:
            s.execute(insert(AlarmHistoryRow), rows)

    def query(
        self,
        tenant_id: int,
        where: HistoryFilter = HistoryFilter(),
        *,
        before: int | None = None,
        limit: int = 100,
    ) -> HistoryPage:
        """Matching rows newest first, ``limit`` at most, older than row id ``before``."""
        h = AlarmHistoryRow
        query = select(h).where(h.tenant_id == tenant_id)
        if where.alarm is not None:
            query = query.where(h.alarm == where.alarm)
        if where.kinds is not None:
            query = query.where(h.kind.in_(where.kinds))
        if where.min_priority is not None:
            query = query.where(h.priority >= where.min_priority)
        if where.start is not None:
            query = query.where(h.ts >= where.start)
        if where.end is not None:
            query = query.where(h.ts < where.end)
        page = newest_first(
            self._catalog, query, h.id, _record, before=before, limit=limit, max_page=MAX_PAGE
        )
        return HistoryPage(*page)

    def events(self, tenant_id: int, start: int, end: int, limit: int) -> list[AlarmRecord]:
        """Rows with ``start <= ts < end`` in time order, at most ``limit`` (the newest)."""
        h = AlarmHistoryRow
        query = (
            select(h)
            .where(h.tenant_id == tenant_id, h.ts >= start, h.ts < end)
            .order_by(h.id.desc())
            .limit(limit)
        )
        with self._catalog._read() as s:
            rows = [_record(r) for r in s.scalars(query).all()]
        return sorted(rows, key=lambda r: (r.ts, r.id or 0))

    def latest(self, tenant_id: int) -> dict[str, AlarmRecord]:
        """Each alarm's newest row: the state it was left in."""
        h = AlarmHistoryRow
        newest = select(func.max(h.id)).where(h.tenant_id == tenant_id).group_by(h.alarm)
        with self._catalog._read() as s:
            rows = s.scalars(select(h).where(h.id.in_(newest))).all()
            return {r.alarm: _record(r) for r in rows}

    def prune(self, tenant_id: int, *, older_than: int, max_rows: int) -> int:
        """Delete rows with ``ts < older_than``, then the oldest beyond ``max_rows``; each
        alarm's newest row stays. Returns the number of rows deleted."""
        if max_rows < 1:
            raise CatalogInputError(f"max_rows: {max_rows} is not >= 1")
        h = AlarmHistoryRow
        keep = select(func.max(h.id)).where(h.tenant_id == tenant_id).group_by(h.alarm)
        mine = (h.tenant_id == tenant_id, h.id.not_in(keep))
        with self._catalog._write() as s:
            deleted = _delete(s, delete(h).where(*mine, h.ts < older_than))
            cut = s.scalar(
                select(h.id)
                .where(h.tenant_id == tenant_id)
                .order_by(h.id.desc())
                .offset(max_rows)
                .limit(1)
            )
            if cut is not None:
                deleted += _delete(s, delete(h).where(*mine, h.id <= cut))
        return deleted


__all__ = [
    "AlarmHistoryRow",
    "AlarmLog",
    "AlarmRecord",
    "HistoryFilter",
    "HistoryPage",
]
