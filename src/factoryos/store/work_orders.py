"""Maintenance work orders in the catalog: the orders and their append-only transition log.

One row per order, updated as it moves; every change also appends a row to
``work_order_log`` (who, when, from which status to which, a comment), which is never
updated. Two planners editing one order cannot overwrite each other silently: every update
names the ``version`` it read, and an order changed since is refused
(:class:`StaleOrderError`), nothing written.

At most one *live* (open, assigned or in progress) order per equipment and automatic source
(anomaly, rul): the ``live_key`` column holds ``source:equipment`` while the order is live
and NULL afterwards, under a unique constraint, so two detectors racing to open one each
cannot both succeed (:class:`LiveOrderExistsError`). Manual orders have no such key.

Times are int64 ns since the epoch (UTC), as scheduling uses them. The store knows nothing of
the maintenance app (it sits below it): statuses and sources are plain strings here, and
evidence is JSON text the caller made.
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
    update,
)
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Update

from factoryos.store.catalog import Base, Catalog, CatalogError, CatalogInputError
from factoryos.store.paging import newest_first

MAX_EQUIPMENT = 400
MAX_TITLE = 200
MAX_TEXT = 2000  # suggested action, cause, comments
MAX_EVIDENCE = 32_000  # characters of evidence JSON
MAX_USER = 128
MAX_CODE = 32
MAX_MODEL = 200
MAX_PAGE = 1000
MAX_SCAN = 10_000  # rows one windows or labels read returns at most
LIVE = ("open", "assigned", "in_progress")
SOURCES = ("anomaly", "rul", "manual")
STATUSES = (*LIVE, "closed", "cancelled")
_Id = BigInteger().with_variant(Integer(), "sqlite")


class WorkOrderStoreError(CatalogError):
    """Root of the work-order store's refusals."""


class OrderNotFoundError(WorkOrderStoreError):
    def __init__(self, order_id: int) -> None:
        self.order_id = order_id
        super().__init__(f"work order: no work order {order_id}")


class StaleOrderError(WorkOrderStoreError):
    """The order changed since the caller read it: nothing was written."""

    def __init__(self, order_id: int, expected: int, current: int) -> None:
        self.current = current
        super().__init__(
            f"version: work order {order_id} is at version {current}, not {expected}: "
            "someone changed it since; read it again"
        )


class LiveOrderExistsError(WorkOrderStoreError):
    """An open order for the same equipment and source exists (a concurrent open won)."""


class WorkOrderRow(Base):
    __tablename__ = "work_orders"
    __table_args__ = (
        UniqueConstraint("tenant_id", "live_key", name="uq_work_orders_live"),
        Index("ix_work_orders_tenant_status", "tenant_id", "status", "id"),
        Index("ix_work_orders_tenant_equipment", "tenant_id", "equipment", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    number: Mapped[str] = mapped_column(String(32), doc="WO-000042: the id, for people")
    equipment: Mapped[str] = mapped_column(String(MAX_EQUIPMENT))
    title: Mapped[str] = mapped_column(String(MAX_TITLE))
    source: Mapped[str] = mapped_column(String(16), doc="anomaly, rul or manual")
    evidence: Mapped[str] = mapped_column(Text, doc="JSON list of evidence items")
    suggested_action: Mapped[str] = mapped_column(String(MAX_TEXT))
    due: Mapped[int] = mapped_column(BigInteger, doc="ns since the epoch, UTC")
    status: Mapped[str] = mapped_column(String(16))
    assignee: Mapped[str | None] = mapped_column(String(MAX_USER))
    window_start: Mapped[int | None] = mapped_column(BigInteger, doc="planned downtime (ns)")
    window_end: Mapped[int | None] = mapped_column(BigInteger)
    failure_code: Mapped[str | None] = mapped_column(String(MAX_CODE))
    cause: Mapped[str | None] = mapped_column(String(MAX_TEXT))
    created: Mapped[int] = mapped_column(BigInteger)
    updated: Mapped[int] = mapped_column(BigInteger)
    closed: Mapped[int | None] = mapped_column(BigInteger)
    model_version: Mapped[str | None] = mapped_column(String(MAX_MODEL), doc="name@version")
    version: Mapped[int] = mapped_column(Integer, doc="bumped by every change")
    live_key: Mapped[str | None] = mapped_column(String(MAX_EQUIPMENT + 16))


class WorkOrderLogRow(Base):
    __tablename__ = "work_order_log"
    __table_args__ = (Index("ix_work_order_log_order", "tenant_id", "order_id", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    order_id: Mapped[int] = mapped_column(_Id, ForeignKey("work_orders.id"))
    at: Mapped[int] = mapped_column(BigInteger, doc="ns since the epoch, UTC")
    actor: Mapped[str] = mapped_column(String(MAX_USER))
    action: Mapped[str] = mapped_column(String(16), doc="open, assign, start, close … evidence")
    from_status: Mapped[str | None] = mapped_column(String(16), doc="None when opened")
    to_status: Mapped[str] = mapped_column(String(16))
    comment: Mapped[str] = mapped_column(String(MAX_TEXT))


@dataclass(frozen=True, slots=True)
class OrderRecord:
    """One stored order; ``id``, ``number`` and ``version`` are set by the store."""

    equipment: str
    title: str
    source: str
    evidence: str
    suggested_action: str
    due_ns: int
    status: str
    created_ns: int
    updated_ns: int
    assignee: str | None = None
    window_start_ns: int | None = None
    window_end_ns: int | None = None
    failure_code: str | None = None
    cause: str | None = None
    closed_ns: int | None = None
    model_version: str | None = None
    id: int = 0
    number: str = ""
    version: int = 0


@dataclass(frozen=True, slots=True)
class Transition:
    at_ns: int
    actor: str
    action: str
    from_status: str | None
    to_status: str
    comment: str = ""


@dataclass(frozen=True)
class OrderFilter:
    """Which orders a list returns; None matches all."""

    statuses: tuple[str, ...] | None = None
    equipment: str | None = None
    source: str | None = None


@dataclass(frozen=True)
class OrderPage:
    orders: list[OrderRecord]
    next_before: int | None
    """Pass as ``before`` for the next (older) page; None on the last page."""


def _record(r: WorkOrderRow) -> OrderRecord:
    return OrderRecord(
        equipment=r.equipment,
        title=r.title,
        source=r.source,
        evidence=r.evidence,
        suggested_action=r.suggested_action,
        due_ns=r.due,
        status=r.status,
        created_ns=r.created,
        updated_ns=r.updated,
        assignee=r.assignee,
        window_start_ns=r.window_start,
        window_end_ns=r.window_end,
        failure_code=r.failure_code,
        cause=r.cause,
        closed_ns=r.closed,
        model_version=r.model_version,
        id=r.id,
        number=r.number,
        version=r.version,
    )


def _columns(o: OrderRecord) -> dict[str, object]:
    """The row's columns of a record (all but id, tenant, number and version)."""
    live = o.status in LIVE and o.source != "manual"
    return {
        "equipment": o.equipment,
        "title": o.title,
        "source": o.source,
        "evidence": o.evidence,
        "suggested_action": o.suggested_action,
        "due": o.due_ns,
        "status": o.status,
        "assignee": o.assignee,
        "window_start": o.window_start_ns,
        "window_end": o.window_end_ns,
        "failure_code": o.failure_code,
        "cause": o.cause,
        "created": o.created_ns,
        "updated": o.updated_ns,
        "closed": o.closed_ns,
        "model_version": o.model_version,
        "live_key": f"{o.source}:{o.equipment}" if live else None,
    }


_LIMITS = {
    "equipment": MAX_EQUIPMENT,
    "title": MAX_TITLE,
    "evidence": MAX_EVIDENCE,
    "suggested_action": MAX_TEXT,
    "assignee": MAX_USER,
    "failure_code": MAX_CODE,
    "cause": MAX_TEXT,
    "model_version": MAX_MODEL,
}


def check_record(o: OrderRecord) -> None:
    """Refuse what the columns cannot hold, naming the field (the same on every database)."""
    for name, limit in _LIMITS.items():
        value = getattr(o, name)
        if value is not None and len(value) > limit:
            raise CatalogInputError(f"{name}: at most {limit} characters")
    if not o.equipment:
        raise CatalogInputError("equipment: empty")
    if o.source not in SOURCES:
        raise CatalogInputError(f"source: {o.source!r} is not one of {', '.join(SOURCES)}")
    if o.status not in STATUSES:
        raise CatalogInputError(f"status: {o.status!r} is not one of {', '.join(STATUSES)}")
    if (o.window_start_ns is None) != (o.window_end_ns is None):
        raise CatalogInputError("window: give both start and end, or neither")


def _check_transition(t: Transition) -> None:
    if len(t.comment) > MAX_TEXT:
        raise CatalogInputError(f"comment: at most {MAX_TEXT} characters")


def _log_row(tenant_id: int, order_id: int, t: Transition) -> WorkOrderLogRow:
    return WorkOrderLogRow(
        tenant_id=tenant_id,
        order_id=order_id,
        at=t.at_ns,
        actor=t.actor[:MAX_USER],
        action=t.action,
        from_status=t.from_status,
        to_status=t.to_status,
        comment=t.comment,
    )


def _rowcount(s: Session, statement: Update) -> int:
    result = s.execute(statement)
    assert isinstance(result, CursorResult)  # an UPDATE always answers with a cursor
    return int(result.rowcount)


class WorkOrderStore:
    """The catalog's work orders (synchronous, like the catalog: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def equipment_exists(self, tenant_id: int, path: str) -> bool:
        """Whether ``path`` is an equipment of the tenant's registered sites."""
        return self._catalog.equipment_exists(tenant_id, path)

    def insert(self, tenant_id: int, order: OrderRecord, opened: Transition) -> OrderRecord:
        """Store a new order and its first log row; :class:`LiveOrderExistsError` when a live
        order of the same equipment and automatic source exists."""
        check_record(order)
        _check_transition(opened)
        row = WorkOrderRow(tenant_id=tenant_id, number="", version=1, **_columns(order))
        try:
            with self._catalog._write() as s:
                s.add(row)
                s.flush()
                row.number = f"WO-{row.id:06d}"
                s.add(_log_row(tenant_id, row.id, opened))
                s.flush()
                return _record(row)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError) and order.source != "manual":
                raise LiveOrderExistsError(
                    f"equipment: {order.equipment!r} already has a live {order.source} order"
                ) from exc
            raise

    def update(
        self, tenant_id: int, changed: OrderRecord, expected_version: int, change: Transition
    ) -> OrderRecord:
        """Write ``changed`` (its id names the order) if the stored order is still at
        ``expected_version``, and append ``change`` to the log, in one transaction."""
        check_record(changed)
        _check_transition(change)
        w = WorkOrderRow
        statement = (
            update(w)
            .where(w.tenant_id == tenant_id, w.id == changed.id, w.version == expected_version)
            .values(**_columns(changed), version=expected_version + 1)
        )
        with self._catalog._write() as s:
            if _rowcount(s, statement) != 1:
                current = s.scalar(
                    select(w.version).where(w.tenant_id == tenant_id, w.id == changed.id)
                )
                if current is None:
                    raise OrderNotFoundError(changed.id)
                raise StaleOrderError(changed.id, expected_version, current)
            s.add(_log_row(tenant_id, changed.id, change))
        return replace(changed, version=expected_version + 1)

    def get(self, tenant_id: int, order_id: int) -> OrderRecord:
        w = WorkOrderRow
        with self._catalog._read() as s:
            row = s.scalar(select(w).where(w.tenant_id == tenant_id, w.id == order_id))
            if row is None:
                raise OrderNotFoundError(order_id)
            return _record(row)

    def find_live(self, tenant_id: int, equipment: str, source: str) -> OrderRecord | None:
        """The live order of ``equipment`` from ``source`` (anomaly or rul), if any."""
        w = WorkOrderRow
        query = select(w).where(w.tenant_id == tenant_id, w.live_key == f"{source}:{equipment}")
        with self._catalog._read() as s:
            row = s.scalar(query)
            return None if row is None else _record(row)

    def transitions(self, tenant_id: int, order_id: int) -> list[Transition]:
        """The order's log, oldest first."""
        g = WorkOrderLogRow
        query = select(g).where(g.tenant_id == tenant_id, g.order_id == order_id).order_by(g.id)
        with self._catalog._read() as s:
            return [
                Transition(r.at, r.actor, r.action, r.from_status, r.to_status, r.comment)
                for r in s.scalars(query)
            ]

    def query(
        self,
        tenant_id: int,
        where: OrderFilter = OrderFilter(),
        *,
        before: int | None = None,
        limit: int = 100,
    ) -> OrderPage:
        """Matching orders newest first, ``limit`` at most, with ids below ``before``."""
        w = WorkOrderRow
        query = select(w).where(w.tenant_id == tenant_id)
        if where.statuses is not None:
            query = query.where(w.status.in_(where.statuses))
        if where.equipment is not None:
            query = query.where(w.equipment == where.equipment)
        if where.source is not None:
            query = query.where(w.source == where.source)
        page = newest_first(
            self._catalog, query, w.id, _record, before=before, limit=limit, max_page=MAX_PAGE
        )
        return OrderPage(*page)

    def count(self, tenant_id: int, where: OrderFilter = OrderFilter()) -> int:
        w = WorkOrderRow
        query = select(func.count()).select_from(w).where(w.tenant_id == tenant_id)
        if where.statuses is not None:
            query = query.where(w.status.in_(where.statuses))
        if where.equipment is not None:
            query = query.where(w.equipment == where.equipment)
        with self._catalog._read() as s:
            return int(s.scalar(query) or 0)

    def windows(
        self, tenant_id: int, equipment: Sequence[str] | None, start_ns: int, end_ns: int
    ) -> list[OrderRecord]:
        """Live orders with a window overlapping ``[start_ns, end_ns)``, by window start."""
        w = WorkOrderRow
        query = select(w).where(
            w.tenant_id == tenant_id,
            w.status.in_(LIVE),
            w.window_start.is_not(None),
            w.window_start < end_ns,
            w.window_end > start_ns,
        )
        if equipment is not None:
            query = query.where(w.equipment.in_(list(equipment)))
        with self._catalog._read() as s:
            rows = s.scalars(query.order_by(w.window_start, w.id).limit(MAX_SCAN)).all()
            return [_record(r) for r in rows]

    def closed(self, tenant_id: int, equipment: str) -> list[OrderRecord]:
        """The closed (not cancelled) orders of ``equipment``, oldest first."""
        w = WorkOrderRow
        query = (
            select(w)
            .where(w.tenant_id == tenant_id, w.equipment == equipment, w.status == "closed")
            .order_by(w.id)
            .limit(MAX_SCAN)
        )
        with self._catalog._read() as s:
            return [_record(r) for r in s.scalars(query)]


__all__ = [
    "LIVE",
    "LiveOrderExistsError",
    "OrderFilter",
    "OrderNotFoundError",
    "OrderPage",
    "OrderRecord",
    "StaleOrderError",
    "Transition",
    "WorkOrderLogRow",
    "WorkOrderRow",
    "WorkOrderStore",
    "WorkOrderStoreError",
    "check_record",
]
