"""Statistical process control in the catalog: inspection results and SPC alarms, per tenant.

``inspection_results`` holds what inspectors post: per result a characteristic, a time, the
lot and equipment, and either the measured values of one subgroup (JSON text) or a count
(defectives or defects) with its sample size. Rows are never updated.

``spc_alarms`` holds one row per out-of-control point and rule: a unique key on (tenant,
characteristic, point time, chart, rule) makes recording idempotent, so evaluating the same
data again adds nothing. An alarm is ``active`` until someone acknowledges it. Recording
and acknowledging also append rows to the alarm history (``alarm_history``) in the same
transaction, so the alarm console shows exactly the alarms this table holds; the caller
words those rows (the store knows nothing of the SPC app).

Times are int64 ns since the epoch (UTC).
"""

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy import (
    BigInteger,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Update

# The module, not its names: the catalog imports both modules at its end, alarm_log first
# or not, so its names may not exist yet while this one loads.
from factoryos.store import alarm_log
from factoryos.store.catalog import Base, Catalog, CatalogError, CatalogInputError
from factoryos.store.paging import newest_first

if TYPE_CHECKING:
    from factoryos.store.alarm_log import AlarmRecord

MAX_CHARACTERISTIC = 64
MAX_LOT = 128
MAX_EQUIPMENT = 400
MAX_USER = 128
MAX_TEXT = 1000
MAX_DESCRIPTION = 200
MAX_VALUES = 25  # one subgroup: the control chart constants' table ends at n = 25
MAX_READ = 100_000  # inspection results one read returns at most
MAX_PAGE = 1000
MAX_RECORD = 10_000  # alarms one record call stores at most
STATES = ("active", "acknowledged")
_Id = BigInteger().with_variant(Integer(), "sqlite")


class SpcStoreError(CatalogError):
    """Root of the SPC store's refusals."""


class SpcAlarmNotFoundError(SpcStoreError):
    def __init__(self, alarm_id: int) -> None:
        super().__init__(f"alarm_id: no SPC alarm {alarm_id}")


class SpcAlarmStateError(SpcStoreError):
    """The alarm is not in a state that allows the change (acknowledged twice, say)."""


class InspectionResultRow(Base):
    __tablename__ = "inspection_results"
    __table_args__ = (
        Index("ix_inspection_results_tenant_char_ts", "tenant_id", "characteristic", "ts"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    characteristic: Mapped[str] = mapped_column(String(MAX_CHARACTERISTIC))
    ts: Mapped[int] = mapped_column(BigInteger, doc="when inspected, ns since the epoch")
    lot: Mapped[str | None] = mapped_column(String(MAX_LOT))
    equipment: Mapped[str] = mapped_column(String(MAX_EQUIPMENT))
    measurements: Mapped[str | None] = mapped_column(Text, doc="JSON list of one subgroup")
    count: Mapped[int | None] = mapped_column(Integer, doc="defectives or defects")
    sample_size: Mapped[float | None] = mapped_column(Float, doc="units inspected")
    inspector: Mapped[str] = mapped_column(String(MAX_USER))
    comment: Mapped[str] = mapped_column(String(MAX_TEXT))
    created: Mapped[int] = mapped_column(BigInteger)


class SpcAlarmRow(Base):
    __tablename__ = "spc_alarms"
    __table_args__ = (
        UniqueConstraint(
            "tenant_id", "characteristic", "ts", "chart", "rule", name="uq_spc_alarms_point_rule"
        ),
        Index("ix_spc_alarms_tenant_state", "tenant_id", "state", "id"),
        Index("ix_spc_alarms_tenant_char", "tenant_id", "characteristic", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    characteristic: Mapped[str] = mapped_column(String(MAX_CHARACTERISTIC))
    ts: Mapped[int] = mapped_column(BigInteger, doc="the out-of-control point's time (ns)")
    chart: Mapped[str] = mapped_column(String(8), doc="xbar, r, s, i, mr, p, np, c or u")
    rule: Mapped[str] = mapped_column(String(8), doc="N1 … N8 (Nelson), WE1 … WE4")
    description: Mapped[str] = mapped_column(String(MAX_DESCRIPTION))
    value: Mapped[float | None] = mapped_column(Float)
    lot: Mapped[str | None] = mapped_column(String(MAX_LOT))
    equipment: Mapped[str] = mapped_column(String(MAX_EQUIPMENT))
    state: Mapped[str] = mapped_column(String(16), doc="active or acknowledged")
    raised: Mapped[int] = mapped_column(BigInteger, doc="when it was recorded (ns)")
    acked_by: Mapped[str | None] = mapped_column(String(MAX_USER))
    acked_at: Mapped[int | None] = mapped_column(BigInteger)
    comment: Mapped[str | None] = mapped_column(String(MAX_TEXT))


@dataclass(frozen=True, slots=True)
class InspectionRecord:
    """One inspection result; ``id`` is 0 until stored."""

    characteristic: str
    ts: int
    equipment: str
    inspector: str
    lot: str | None = None
    values: tuple[float, ...] | None = None
    count: int | None = None
    sample_size: float | None = None
    comment: str = ""
    created: int = 0
    id: int = 0


@dataclass(frozen=True, slots=True)
class SpcAlarmRecord:
    """One SPC alarm; ``id`` is 0 until stored."""

    characteristic: str
    ts: int
    chart: str
    rule: str
    description: str
    equipment: str
    raised: int
    value: float | None = None
    lot: str | None = None
    state: str = "active"
    acked_by: str | None = None
    acked_at: int | None = None
    comment: str | None = None
    id: int = 0

    @property
    def key(self) -> tuple[int, str, str]:
        """What makes it unique within its characteristic: one alarm per point and rule."""
        return (self.ts, self.chart, self.rule)


@dataclass(frozen=True)
class AlarmFilter:
    """Which SPC alarms a list returns; None matches all."""

    characteristic: str | None = None
    state: str | None = None


@dataclass(frozen=True)
class AlarmPage:
    alarms: list[SpcAlarmRecord]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; None on the last page."""


NewAlarmsNote = Callable[[Sequence[SpcAlarmRecord]], Sequence["AlarmRecord"]]
"""The alarm-history rows to append for alarms just recorded (none were recorded before)."""
AckNote = Callable[[SpcAlarmRecord, int], Sequence["AlarmRecord"]]
"""The alarm-history rows for an acknowledged alarm, given how many of its characteristic's
alarms are still active."""


def _check_text(name: str, value: str | None, limit: int) -> None:
    if value is not None and len(value) > limit:
        raise CatalogInputError(f"{name}: at most {limit} characters")


def check_inspection(r: InspectionRecord) -> None:
    """Refuse what the columns cannot hold, naming the field (the same on every database)."""
    if not 0 < len(r.characteristic) <= MAX_CHARACTERISTIC:
        raise CatalogInputError(f"characteristic: 1 to {MAX_CHARACTERISTIC} characters")
    if not 0 < len(r.equipment) <= MAX_EQUIPMENT:
        raise CatalogInputError(f"equipment: 1 to {MAX_EQUIPMENT} characters")
    _check_text("lot", r.lot, MAX_LOT)
    _check_text("comment", r.comment, MAX_TEXT)
    if r.values is not None:
        if not 0 < len(r.values) <= MAX_VALUES:
            raise CatalogInputError(f"values: 1 to {MAX_VALUES} measurements")
        if not all(math.isfinite(v) for v in r.values):
            raise CatalogInputError("values: every measurement must be a finite number")
    if r.count is not None and not 0 <= r.count < 2**31:
        raise CatalogInputError(f"count: {r.count} is not a count below 2^31")
    if r.sample_size is not None and not (math.isfinite(r.sample_size) and r.sample_size > 0):
        raise CatalogInputError("sample_size: must be a finite number above 0")


def _check_alarm(a: SpcAlarmRecord) -> None:
    if not 0 < len(a.characteristic) <= MAX_CHARACTERISTIC:
        raise CatalogInputError(f"characteristic: 1 to {MAX_CHARACTERISTIC} characters")
    if len(a.chart) > 8 or len(a.rule) > 8:
        raise CatalogInputError("chart and rule: at most 8 characters")
    _check_text("description", a.description, MAX_DESCRIPTION)
    _check_text("lot", a.lot, MAX_LOT)
    _check_text("equipment", a.equipment, MAX_EQUIPMENT)


def _inspection(row: InspectionResultRow) -> InspectionRecord:
    values = None if row.measurements is None else tuple(json.loads(row.measurements))
    return InspectionRecord(
        characteristic=row.characteristic,
        ts=row.ts,
        equipment=row.equipment,
        inspector=row.inspector,
        lot=row.lot,
        values=values,
        count=row.count,
        sample_size=row.sample_size,
        comment=row.comment,
        created=row.created,
        id=row.id,
    )


def _alarm(row: SpcAlarmRow) -> SpcAlarmRecord:
    return SpcAlarmRecord(
        characteristic=row.characteristic,
        ts=row.ts,
        chart=row.chart,
        rule=row.rule,
        description=row.description,
        equipment=row.equipment,
        raised=row.raised,
        value=row.value,
        lot=row.lot,
        state=row.state,
        acked_by=row.acked_by,
        acked_at=row.acked_at,
        comment=row.comment,
        id=row.id,
    )


def _history_values(tenant_id: int, r: "AlarmRecord") -> dict[str, object]:
    """An alarm-history row's columns, cut to what they hold (as AlarmLog.append does)."""
    finite = r.value is not None and math.isfinite(r.value)
    return {
        "tenant_id": tenant_id,
        "ts": r.ts,
        "alarm": r.alarm[: alarm_log.MAX_NAME],
        "kind": r.kind,
        "priority": r.priority,
        "state": r.state,
        "value": r.value if finite else None,
        "actor": None if r.actor is None else r.actor[: alarm_log.MAX_ACTOR],
        "comment": None if r.comment is None else r.comment[: alarm_log.MAX_COMMENT],
        "until": r.until,
    }


def _rowcount(s: Session, statement: Update) -> int:
    result = s.execute(statement)
    assert isinstance(result, CursorResult)  # an UPDATE always answers with a cursor
    return int(result.rowcount)


def _append_history(s: Session, tenant_id: int, rows: Sequence["AlarmRecord"]) -> None:
    if rows:
        s.execute(insert(alarm_log.AlarmHistoryRow), [_history_values(tenant_id, r) for r in rows])


class InspectionStore:
    """The catalog's inspection results and SPC alarms (synchronous: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def equipment_exists(self, tenant_id: int, path: str) -> bool:
        """Whether ``path`` is an equipment of the tenant's registered sites."""
        return self._catalog.equipment_exists(tenant_id, path)

    # -- inspection results ------------------------------------------------------------

    def add(self, tenant_id: int, result: InspectionRecord) -> InspectionRecord:
        check_inspection(result)
        values = None if result.values is None else json.dumps(list(result.values))
        row = InspectionResultRow(
            tenant_id=tenant_id,
            characteristic=result.characteristic,
            ts=result.ts,
            lot=result.lot,
            equipment=result.equipment,
            measurements=values,
            count=result.count,
            sample_size=result.sample_size,
            inspector=result.inspector[:MAX_USER],
            comment=result.comment,
            created=result.created,
        )
        with self._catalog._write() as s:
            s.add(row)
            s.flush()
            return _inspection(row)

    def results(
        self, tenant_id: int, characteristic: str, start: int, end: int, *, limit: int = MAX_READ
    ) -> list[InspectionRecord]:
        """Results with ``start <= ts < end``, oldest first (then in posting order), at most
        ``limit`` (the oldest)."""
        if not 0 < limit <= MAX_READ:
            raise CatalogInputError(f"limit: {limit} is not 1 to {MAX_READ}")
        r = InspectionResultRow
        query = (
            select(r)
            .where(
                r.tenant_id == tenant_id,
                r.characteristic == characteristic,
                r.ts >= start,
                r.ts < end,
            )
            .order_by(r.ts, r.id)
            .limit(limit)
        )
        with self._catalog._read() as s:
            return [_inspection(row) for row in s.scalars(query)]

    # -- SPC alarms ----------------------------------------------------------------------

    def record_alarms(
        self, tenant_id: int, alarms: Sequence[SpcAlarmRecord], note: NewAlarmsNote
    ) -> list[SpcAlarmRecord]:
        """Store the alarms not stored yet (by characteristic, point, chart and rule) and the
        history rows ``note`` words for them, in one transaction; the new ones, with ids.

        Another process recording the same alarm at the same moment makes the unique key
        refuse the transaction: it is read again and retried once, so the race adds nothing.
        """
        if len(alarms) > MAX_RECORD:
            raise CatalogInputError(f"alarms: {len(alarms)} exceed {MAX_RECORD} per call")
        for a in alarms:
            _check_alarm(a)
        if not alarms:
            return []
        try:
            return self._record_new(tenant_id, alarms, note)
        except CatalogError as exc:
            if not isinstance(exc.__cause__, IntegrityError):
                raise
            return self._record_new(tenant_id, alarms, note)

    def _record_new(
        self, tenant_id: int, alarms: Sequence[SpcAlarmRecord], note: NewAlarmsNote
    ) -> list[SpcAlarmRecord]:
        with self._catalog._write() as s:
            known = self._known(s, tenant_id, alarms)
            fresh = [x for x in _unique(alarms) if (x.characteristic, *x.key) not in known]
            rows = [SpcAlarmRow(tenant_id=tenant_id, **_alarm_columns(x)) for x in fresh]
            s.add_all(rows)
            s.flush()
            stored = [_alarm(row) for row in sorted(rows, key=lambda row: row.id)]
            _append_history(s, tenant_id, note(stored) if stored else [])
            return stored

    @staticmethod
    def _known(
        s: Session, tenant_id: int, alarms: Sequence[SpcAlarmRecord]
    ) -> set[tuple[str, int, str, str]]:
        """The keys of ``alarms`` already stored."""
        a = SpcAlarmRow
        names = sorted({x.characteristic for x in alarms})
        times = [x.ts for x in alarms]
        query = select(a.characteristic, a.ts, a.chart, a.rule).where(
            a.tenant_id == tenant_id,
            a.characteristic.in_(names),
            a.ts >= min(times),
            a.ts <= max(times),
        )
        return {(c, t, chart, rule) for c, t, chart, rule in s.execute(query)}

    def acknowledge(
        self, tenant_id: int, alarm_id: int, actor: str, at: int, comment: str | None, note: AckNote
    ) -> SpcAlarmRecord:
        """Mark an active alarm acknowledged and append ``note``'s history rows, in one
        transaction; :class:`SpcAlarmStateError` when it is acknowledged already."""
        _check_text("comment", comment, MAX_TEXT)
        a = SpcAlarmRow
        change = (
            update(a)
            .where(a.tenant_id == tenant_id, a.id == alarm_id, a.state == "active")
            .values(state="acknowledged", acked_by=actor[:MAX_USER], acked_at=at, comment=comment)
        )
        with self._catalog._write() as s:
            row = s.scalar(select(a).where(a.tenant_id == tenant_id, a.id == alarm_id))
            if row is None:
                raise SpcAlarmNotFoundError(alarm_id)
            if row.state != "active" or _rowcount(s, change) != 1:
                raise SpcAlarmStateError(
                    f"alarm_id: SPC alarm {alarm_id} was acknowledged already by {row.acked_by}"
                )
            s.refresh(row)
            acked = _alarm(row)
            _append_history(s, tenant_id, note(acked, self._active(s, tenant_id, acked)))
            return acked

    @staticmethod
    def _active(s: Session, tenant_id: int, alarm: SpcAlarmRecord) -> int:
        a = SpcAlarmRow
        query = select(func.count()).where(
            a.tenant_id == tenant_id,
            a.characteristic == alarm.characteristic,
            a.state == "active",
        )
        return int(s.scalar(query) or 0)

    def get(self, tenant_id: int, alarm_id: int) -> SpcAlarmRecord:
        a = SpcAlarmRow
        with self._catalog._read() as s:
            row = s.scalar(select(a).where(a.tenant_id == tenant_id, a.id == alarm_id))
            if row is None:
                raise SpcAlarmNotFoundError(alarm_id)
            return _alarm(row)

    def alarms(
        self,
        tenant_id: int,
        where: AlarmFilter = AlarmFilter(),
        *,
        before: int | None = None,
        limit: int = 100,
    ) -> AlarmPage:
        """Matching alarms newest first (by id), ``limit`` at most, with ids below ``before``."""
        a = SpcAlarmRow
        query = select(a).where(a.tenant_id == tenant_id)
        if where.characteristic is not None:
            query = query.where(a.characteristic == where.characteristic)
        if where.state is not None:
            query = query.where(a.state == where.state)
        page = newest_first(
            self._catalog, query, a.id, _alarm, before=before, limit=limit, max_page=MAX_PAGE
        )
        return AlarmPage(*page)

    def active_counts(self, tenant_id: int) -> dict[str, int]:
        """Active (unacknowledged) alarms per characteristic."""
        a = SpcAlarmRow
        query = (
            select(a.characteristic, func.count())
            .where(a.tenant_id == tenant_id, a.state == "active")
            .group_by(a.characteristic)
        )
        with self._catalog._read() as s:
            return {name: int(n) for name, n in s.execute(query)}


def _alarm_columns(a: SpcAlarmRecord) -> dict[str, object]:
    finite = a.value is not None and math.isfinite(a.value)
    return {
        "characteristic": a.characteristic,
        "ts": a.ts,
        "chart": a.chart,
        "rule": a.rule,
        "description": a.description,
        "value": a.value if finite else None,
        "lot": a.lot,
        "equipment": a.equipment,
        "state": "active",
        "raised": a.raised,
    }


def _unique(alarms: Sequence[SpcAlarmRecord]) -> list[SpcAlarmRecord]:
    """The first of each key, in order: a batch naming one alarm twice stores it once."""
    seen: set[tuple[str, int, str, str]] = set()
    out: list[SpcAlarmRecord] = []
    for a in alarms:
        key = (a.characteristic, *a.key)
        if key not in seen:
            seen.add(key)
            out.append(a)
    return out


__all__ = [
    "AlarmFilter",
    "AlarmPage",
    "InspectionRecord",
    "InspectionResultRow",
    "InspectionStore",
    "SpcAlarmNotFoundError",
    "SpcAlarmRecord",
    "SpcAlarmRow",
    "SpcAlarmStateError",
    "SpcStoreError",
    "check_inspection",
]
