"""EPCIS event queries in the catalog: the part of a query that indexed columns can answer.

The trace app turns the standard's query parameters into an :class:`EventFilter` (a superset
of the answer: every field here is exact or a prefix) and checks the rest of each query on
the events' JSON. This module scans in a stable order from a position, a bounded number of
rows at a time, so a page never needs more than one chunk of rows in memory and paging
resumes exactly where the previous page stopped.
"""

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from sqlalchemy import ColumnElement, and_, func, or_, select, tuple_

from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EventEpcRow, EventRow
from factoryos.store.epcis_master import descendants, having

MAX_CHUNK = 5_000  # rows a single scan returns
MAX_VALUES = 500  # values of one IN list or one OR of prefixes
OrderKey = Literal["eventTime", "recordTime"]


@dataclass(frozen=True, slots=True)
class IdentifierFilter:
    """Events naming an identifier in one of ``roles`` that equals one of ``exact`` or starts
    with one of ``prefixes``."""

    roles: tuple[str, ...]
    exact: tuple[str, ...] = ()
    prefixes: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Column conditions, all of which an event must meet; None (or empty) means any."""

    event_types: tuple[str, ...] | None = None
    event_time: tuple[int | None, int | None] = (None, None)  # [GE, LT) in ns
    record_time: tuple[int | None, int | None] = (None, None)
    actions: tuple[str, ...] | None = None
    biz_steps: tuple[str, ...] | None = None
    dispositions: tuple[str, ...] | None = None
    read_points: tuple[str, ...] | None = None
    biz_locations: tuple[str, ...] | None = None
    event_ids: tuple[str, ...] | None = None
    identifiers: tuple[IdentifierFilter, ...] = field(default_factory=tuple)


@dataclass(frozen=True, slots=True)
class ScannedEvent:
    id: int
    event_time_ns: int
    record_time_ns: int
    body: str

    def key(self, order_by: OrderKey) -> tuple[int, int]:
        """The event's position in a scan ordered by ``order_by``."""
        ns = self.event_time_ns if order_by == "eventTime" else self.record_time_ns
        return ns, self.id


def _bounded(name: str, values: Sequence[str]) -> None:
    if len(values) > MAX_VALUES:
        raise ValueError(f"{name}: {len(values)} values, at most {MAX_VALUES}")


def _range(column: Any, bounds: tuple[int | None, int | None]) -> list[ColumnElement[bool]]:
    low, high = bounds
    out: list[ColumnElement[bool]] = []
    if low is not None:
        out.append(column >= low)
    if high is not None:
        out.append(column < high)
    return out


def _identifier_condition(tenant_id: int, wanted: IdentifierFilter) -> ColumnElement[bool]:
    _bounded("identifiers", wanted.exact)
    _bounded("identifier patterns", wanted.prefixes)
    values: list[ColumnElement[bool]] = []
    if wanted.exact:
        values.append(EventEpcRow.epc.in_(wanted.exact))
    # A prefix ends in a fixed character, never a wildcard: LIKE stays an index range.
    values += [EventEpcRow.epc.startswith(p, autoescape=True) for p in wanted.prefixes]
    named = select(EventEpcRow.event).where(
        EventEpcRow.tenant_id == tenant_id,
        EventEpcRow.role.in_(wanted.roles),
        or_(*values) if values else EventEpcRow.epc.is_(None),
    )
    return EventRow.id.in_(named)


def conditions(tenant_id: int, f: EventFilter) -> list[ColumnElement[bool]]:
    """The WHERE of ``f`` for the tenant's events."""
    out: list[ColumnElement[bool]] = [EventRow.tenant_id == tenant_id]
    columns: tuple[tuple[Any, tuple[str, ...] | None], ...] = (
        (EventRow.event_type, f.event_types),
        (EventRow.action, f.actions),
        (EventRow.biz_step, f.biz_steps),
        (EventRow.disposition, f.dispositions),
        (EventRow.read_point, f.read_points),
        (EventRow.biz_location, f.biz_locations),
        (EventRow.event_id, f.event_ids),
    )
    for column, values in columns:
        if values is not None:
            _bounded(column.key, values)
            out.append(column.in_(values))
    out += _range(EventRow.event_time_ns, f.event_time)
    out += _range(EventRow.record_time_ns, f.record_time)
    out += [_identifier_condition(tenant_id, wanted) for wanted in f.identifiers]
    return out


class EpcisQueries:
    """Scans of the catalog's EPCIS events (synchronous: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def scan(
        self,
        tenant_id: int,
        f: EventFilter,
        order_by: OrderKey = "eventTime",
        descending: bool = True,
        after: tuple[int, int] | None = None,
        limit: int = 1000,
    ) -> list[ScannedEvent]:
        """Up to ``limit`` events meeting ``f`` in (time, id) order, strictly after the
        position ``after`` (from :meth:`ScannedEvent.key`) in that order."""
        if not 1 <= limit <= MAX_CHUNK:
            raise ValueError(f"limit: {limit} is not between 1 and {MAX_CHUNK}")
        ns = EventRow.event_time_ns if order_by == "eventTime" else EventRow.record_time_ns
        where = conditions(tenant_id, f)
        if after is not None:
            position = tuple_(ns, EventRow.id)
            where.append(position < after if descending else position > after)
        order = (ns.desc(), EventRow.id.desc()) if descending else (ns.asc(), EventRow.id.asc())
        query = (
            select(EventRow.id, EventRow.event_time_ns, EventRow.record_time_ns, EventRow.body)
            .where(and_(*where))
            .order_by(*order)
            .limit(limit)
        )
        with self._catalog._read() as s:
            return [ScannedEvent(*row) for row in s.execute(query)]

    def descendants(self, tenant_id: int, vocabulary: str, roots: Sequence[str]) -> list[str]:
        """``roots`` and every element below them in the tenant's master data for
        ``vocabulary``; a :class:`CatalogInputError` beyond one IN list (``MAX_VALUES``)."""
        with self._catalog._read() as s:
            return descendants(s, tenant_id, vocabulary, roots, MAX_VALUES)

    def having(
        self, tenant_id: int, vocabulary: str, attribute: str | None, values: Sequence[str]
    ) -> list[str]:
        """The tenant's ``vocabulary`` elements with those attributes (see
        :func:`epcis_master.having`), at most one IN list (``MAX_VALUES``)."""
        with self._catalog._read() as s:
            return having(s, tenant_id, vocabulary, attribute, values, MAX_VALUES)

    def count(self, tenant_id: int, f: EventFilter, cap: int) -> int:
        """How many events meet ``f``, counting no further than ``cap``."""
        inner = select(EventRow.id).where(and_(*conditions(tenant_id, f))).limit(cap)
        with self._catalog._read() as s:
            return int(s.scalar(select(func.count()).select_from(inner.subquery())) or 0)


__all__ = [
    "EpcisQueries",
    "EventFilter",
    "IdentifierFilter",
    "OrderKey",
    "ScannedEvent",
    "conditions",
]
