"""EPCIS events in the catalog: one row per event with the fields queries filter on, one row
per identifier an event names (with its role: epc, parent, child, input, output, or the
quantity classes), one row per genealogy edge the event makes (upstream → downstream, as the
trace app derived them), and the event itself as JSON text.

The edges are what genealogy walks, one level per query in either direction
(:meth:`EpcisEvents.genealogy`): runs of consecutive identifiers are read as index ranges
(:mod:`factoryos.store.key_runs`), the rows themselves the answer (no second pass over the
events' other identifiers).

Capture is all or nothing: a batch is written in one transaction, and an event whose
``event_id`` the tenant already has is not written again (capture is idempotent on eventID).
The store knows nothing of EPCIS documents (the trace app sits above it): it takes rows the
app prepared.
"""

from collections import Counter
from collections.abc import Callable, Collection, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import Any, NamedTuple

import psycopg
from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    Select,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.orm import Mapped, mapped_column

from factoryos.store.catalog import Base, Catalog, CatalogError, CatalogInputError
from factoryos.store.epcis_master import VocabularyElement, check_elements, put_elements
from factoryos.store.key_runs import key_runs

MAX_ID = 400  # characters of an eventID, EPC, location or vocabulary URI
MAX_BATCH = 10_000  # events per capture
MAX_EDGES = 100_000  # genealogy edges of one event (inputs × outputs): more is a modelling error
ROLES = (
    "epc", "class", "parent", "child", "child_class",
    "input", "output", "input_class", "output_class",
)  # fmt: skip
_Id = BigInteger().with_variant(Integer(), "sqlite")


class EventRow(Base):
    __tablename__ = "epcis_events"
    __table_args__ = (
        UniqueConstraint("tenant_id", "event_id", name="uq_epcis_events_event_id"),
        Index("ix_epcis_events_tenant_time", "tenant_id", "event_time_ns"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id"), nullable=False)
    event_id: Mapped[str] = mapped_column(String(MAX_ID), nullable=False)
    event_type: Mapped[str] = mapped_column(String(40), nullable=False)
    event_time_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    record_time_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)
    action: Mapped[str | None] = mapped_column(String(8))
    biz_step: Mapped[str | None] = mapped_column(String(MAX_ID))
    disposition: Mapped[str | None] = mapped_column(String(MAX_ID))
    read_point: Mapped[str | None] = mapped_column(String(MAX_ID))
    biz_location: Mapped[str | None] = mapped_column(String(MAX_ID))
    body: Mapped[str] = mapped_column(Text, nullable=False)


class EventEpcRow(Base):
    __tablename__ = "epcis_event_epcs"
    __table_args__ = (
        Index("ix_epcis_event_epcs_tenant_epc", "tenant_id", "epc"),
        Index("ix_epcis_event_epcs_event", "event"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id"), nullable=False)
    event: Mapped[int] = mapped_column(_Id, ForeignKey("epcis_events.id"), nullable=False)
    epc: Mapped[str] = mapped_column(String(MAX_ID), nullable=False)
    role: Mapped[str] = mapped_column(String(16), nullable=False)


_EDGE_EVENT = ("event_id", "event_type", "event_time_ns")


class EdgeRow(Base):
    __tablename__ = "epcis_genealogy"
    __table_args__ = (
        # INCLUDE: a level of a trace is answered from the index alone on PostgreSQL (the
        # event's id, type and time are carried here so no event is looked up by row id)
        Index(
            "ix_epcis_genealogy_source",
            "tenant_id",
            "source",
            postgresql_include=["target", *_EDGE_EVENT],
        ),
        Index(
            "ix_epcis_genealogy_target",
            "tenant_id",
            "target",
            postgresql_include=["source", *_EDGE_EVENT],
        ),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id"), nullable=False)
    event: Mapped[int] = mapped_column(_Id, ForeignKey("epcis_events.id"), nullable=False)
    source: Mapped[str] = mapped_column(String(MAX_ID), nullable=False, doc="upstream")
    target: Mapped[str] = mapped_column(String(MAX_ID), nullable=False, doc="downstream")
    event_id: Mapped[str] = mapped_column(String(MAX_ID), nullable=False)
    event_type: Mapped[str] = mapped_column(String(32), nullable=False)
    event_time_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)


@dataclass(frozen=True, slots=True)
class NewEvent:
    """An event as the store keeps it; ``body`` is its JSON text."""

    event_id: str
    event_type: str
    event_time_ns: int
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    body: str
    epcs: tuple[tuple[str, str], ...]  # (role, identifier)
    edges: tuple[tuple[str, str], ...]  # genealogy: (upstream, downstream) identifiers


@dataclass(frozen=True, slots=True)
class Captured:
    """What a capture did: events written, eventIDs the tenant already had, and master-data
    (vocabulary) elements written."""

    written: int
    duplicates: tuple[str, ...]
    described: int = 0


def _check(events: Sequence[NewEvent]) -> None:
    if len(events) > MAX_BATCH:
        raise CatalogInputError(f"capture: {len(events)} events, at most {MAX_BATCH} at once")
    for n, e in enumerate(events):
        texts = [e.event_id, e.biz_step, e.disposition, e.read_point, e.biz_location]
        texts += [epc for _, epc in e.epcs]
        if any(t is not None and len(t) > MAX_ID for t in texts):
            raise CatalogInputError(f"eventList[{n}]: an identifier longer than {MAX_ID}")
        bad = sorted({role for role, _ in e.epcs} - set(ROLES))
        if bad:
            raise CatalogInputError(f"eventList[{n}]: unknown roles {bad}")
        if len(e.edges) > MAX_EDGES:
            raise CatalogInputError(
                f"eventList[{n}]: {len(e.edges)} genealogy edges (inputs × outputs), "
                f"at most {MAX_EDGES}"
            )


class Edge(NamedTuple):
    """A genealogy edge with its event: ``source`` (upstream) went into ``target``.

    A tuple, fields in sort order, so that edges sort oldest event first as plain tuples: a
    forward trace handles ~10,000 of them."""

    event_time_ns: int
    event_id: str
    source: str
    target: str
    event_type: str


EdgesLeaving = Callable[[Collection[str], bool, int], list[Edge]]
"""(identifiers, downstream, limit) → the edges leaving them: :meth:`EpcisEvents.genealogy`."""


@dataclass(frozen=True, slots=True)
class Sighting:
    """The latest event naming an identifier: where, when and in what state it was last
    seen. Identifiers last seen in the same event share one ``Sighting``."""

    event_id: str
    event_type: str
    event_time_ns: int
    action: str | None
    biz_step: str | None
    disposition: str | None
    read_point: str | None
    biz_location: str | None
    body: str  # the event's JSON (its destinations, business transactions …)


class EpcisEvents:
    """The catalog's EPCIS events (synchronous, like the catalog: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._postgres = make_url(catalog.url).get_backend_name() == "postgresql"

    def capture(
        self,
        tenant_id: int,
        events: Sequence[NewEvent],
        record_time_ns: int,
        vocabulary: Sequence[VocabularyElement] = (),
    ) -> Captured:
        """Write ``events`` and the master data ``vocabulary`` in one transaction, skipping
        eventIDs already stored (and repeats inside the batch)."""
        _check(events)
        check_elements(vocabulary)
        ids = [e.event_id for e in events]
        with self._catalog._write() as s:
            put_elements(s, tenant_id, vocabulary, record_time_ns)
            known: set[str] = set()
            for at in range(0, len(ids), 500):  # bounded IN lists
                chunk = ids[at : at + 500]
                known |= set(
                    s.scalars(
                        select(EventRow.event_id).where(
                            EventRow.tenant_id == tenant_id, EventRow.event_id.in_(chunk)
                        )
                    )
                )
            duplicates, written = [], 0
            for e in events:
                if e.event_id in known:
                    duplicates.append(e.event_id)
                    continue
                known.add(e.event_id)
                row = EventRow(
                    tenant_id=tenant_id,
                    event_id=e.event_id,
                    event_type=e.event_type,
                    event_time_ns=e.event_time_ns,
                    record_time_ns=record_time_ns,
                    action=e.action,
                    biz_step=e.biz_step,
                    disposition=e.disposition,
                    read_point=e.read_point,
                    biz_location=e.biz_location,
                    body=e.body,
                )
                s.add(row)
                s.flush()
                s.add_all(
                    EventEpcRow(tenant_id=tenant_id, event=row.id, epc=epc, role=role)
                    for role, epc in e.epcs
                )
                s.add_all(
                    EdgeRow(
                        tenant_id=tenant_id,
                        event=row.id,
                        source=up,
                        target=down,
                        event_id=e.event_id,
                        event_type=e.event_type,
                        event_time_ns=e.event_time_ns,
                    )
                    for up, down in e.edges
                )
                written += 1
            return Captured(written, tuple(duplicates), len(vocabulary))

    @contextmanager
    def genealogy(self, tenant_id: int, event_type: str | None = None) -> Iterator[EdgesLeaving]:
        """The tenant's genealogy edges as a function of (identifiers, downstream, limit):
        the edges leaving ``identifiers`` downstream (where they went) or upstream (what went
        into them), each once, oldest event first; more than ``limit`` of them, at least
        ``limit + 1`` (a caller that gets more than it asked for knows it has not all).
        ``event_type``: only the edges of that kind of event (a container's contents:
        aggregations). All calls share one connection and transaction; call it level by level
        while the block runs."""
        with self._catalog._read() as s:
            conn = s.connection()
            if self._postgres:
                # compiling the plan costs more than running it
                conn.exec_driver_sql("SET LOCAL jit = off")
            read = partial(_read_ranges_pg if self._postgres else _read_ranges_sqlite, conn)
            yield partial(_edges_leaving, read, tenant_id, event_type)

    def count(self, tenant_id: int) -> int:
        with self._catalog._read() as s:
            query = select(func.count()).where(EventRow.tenant_id == tenant_id)
            return int(s.scalar(query) or 0)

    def bodies(self, tenant_id: int, epc: str | None = None, limit: int = 1000) -> list[str]:
        """Stored events' JSON, oldest event time first; only those naming ``epc`` if given."""
        query = select(EventRow.body).where(EventRow.tenant_id == tenant_id)
        if epc is not None:
            named = select(EventEpcRow.event).where(
                EventEpcRow.tenant_id == tenant_id, EventEpcRow.epc == epc
            )
            query = query.where(EventRow.id.in_(named))
        query = query.order_by(EventRow.event_time_ns, EventRow.id).limit(limit)
        with self._catalog._read() as s:
            return list(s.scalars(query))

    def latest(self, tenant_id: int, epcs: Sequence[str]) -> dict[str, Sighting]:
        """The newest event (by event time, then capture order) naming each of ``epcs`` in
        any role; an identifier no event names is left out."""
        unique = sorted(set(epcs))
        newest: dict[str, int] = {}  # identifier → its newest event's row id
        with self._catalog._read() as s:
            for at in range(0, len(unique), 500):  # bounded IN lists
                chunk = unique[at : at + 500]
                newest.update(
                    (epc, row) for epc, row in s.execute(_newest_events(tenant_id, chunk))
                )
            rows = sorted(set(newest.values()))
            seen: dict[int, Sighting] = {}
            for at in range(0, len(rows), 500):
                query = select(EventRow.id, *_SIGHTING).where(
                    EventRow.tenant_id == tenant_id, EventRow.id.in_(rows[at : at + 500])
                )
                seen.update((row_id, Sighting(*fields)) for row_id, *fields in s.execute(query))
        return {epc: seen[row] for epc, row in newest.items()}


_SIGHTING = (
    EventRow.event_id,
    EventRow.event_type,
    EventRow.event_time_ns,
    EventRow.action,
    EventRow.biz_step,
    EventRow.disposition,
    EventRow.read_point,
    EventRow.biz_location,
    EventRow.body,
)


def _newest_events(tenant_id: int, epcs: Sequence[str]) -> Select[str, int]:
    """(identifier, row id of the newest event naming it) for each of ``epcs`` named."""
    rank = (
        func.row_number()
        .over(
            partition_by=EventEpcRow.epc,
            order_by=(EventRow.event_time_ns.desc(), EventRow.id.desc()),
        )
        .label("rank")
    )
    ranked = (
        select(EventEpcRow.epc, EventEpcRow.event, rank)
        .join(EventRow, EventRow.id == EventEpcRow.event)
        .where(EventEpcRow.tenant_id == tenant_id, EventEpcRow.epc.in_(epcs))
        .subquery()
    )
    return select(ranked.c.epc, ranked.c.event).where(ranked.c.rank == 1)


__all__ = [
    "Captured",
    "Edge",
    "EdgeRow",
    "EpcisEvents",
    "EventEpcRow",
    "EventRow",
    "NewEvent",
    "Sighting",
]


# -- genealogy edges leaving a level -----------------------------------------------------

ROWS_PER_KEY = 4  # rows a run of identifiers may read per identifier before it is re-read
_RUN_SLACK = 16
_EDGE_COLUMNS = ("event_time_ns", "event_id", "source", "target", "event_type")
KeyRange = tuple[str, str, int]  # lowest key, highest key, rows it may read
RangeRow = tuple[Any, ...]  # (range's position, *Edge)
ReadRanges = Callable[[int, str | None, str, Sequence[KeyRange], int], Sequence[RangeRow]]


def _edges_leaving(
    scan: ReadRanges,
    tenant_id: int,
    event_type: str | None,
    identifiers: Collection[str],
    downstream: bool,
    limit: int,
) -> list[Edge]:
    """The edges leaving ``identifiers``, their runs of consecutive identifiers read as index
    ranges (:mod:`factoryos.store.key_runs`); a run that reads its cap is read again key by
    key. Identifiers a range holds that are not asked for are dropped here."""
    keys = sorted(set(identifiers))
    near = "source" if downstream else "target"
    spans = key_runs(keys)
    ranges = [
        (keys[span[0]], keys[span[-1]], limit + 1 if len(span) == 1 else _run_cap(len(span)))
        for span in spans
    ]
    rows = scan(tenant_id, event_type, near, ranges, _bound(ranges, limit))
    read = Counter(row[0] for row in rows)
    full = {n for n, span in enumerate(spans) if len(span) > 1 and read[n] >= ranges[n][2]}
    if full:
        again = [(keys[at], keys[at], limit + 1) for n in sorted(full) for at in spans[n]]
        rows = [row for row in rows if row[0] not in full]
        rows += scan(tenant_id, event_type, near, again, limit + 1)
    asked, at = set(keys), 3 if downstream else 4
    return sorted(Edge._make(row[1:]) for row in rows if row[at] in asked)


def _run_cap(keys: int) -> int:
    return ROWS_PER_KEY * keys + _RUN_SLACK


def _bound(ranges: Sequence[KeyRange], limit: int) -> int:
    """Rows one read may return: the level's own ``limit + 1`` and every run's cap."""
    return limit + 1 + sum(cap for low, high, cap in ranges if low != high)


def _range_query(near: str, of_kind: bool) -> str:
    only = " AND g.event_type = %(kind)s" if of_kind else ""
    columns = ", ".join(f"g.{name}" for name in _EDGE_COLUMNS)
    return (
        f"SELECT r.n - 1, {columns}"
        " FROM unnest(%(low)s::text[], %(high)s::text[], %(cap)s::integer[])"
        " WITH ORDINALITY AS r(low, high, cap, n)"
        f" CROSS JOIN LATERAL (SELECT {columns} FROM epcis_genealogy g"
        f" WHERE g.tenant_id = %(tenant)s AND g.{near} >= r.low AND g.{near} <= r.high{only}"
        " LIMIT r.cap) g LIMIT %(bound)s"
    )


_RANGE_QUERIES = {(near, kind): _range_query(near, kind) for near in ("source", "target")
                  for kind in (False, True)}  # fmt: skip


def _read_ranges_pg(
    conn: Connection,
    tenant_id: int,
    event_type: str | None,
    near: str,
    ranges: Sequence[KeyRange],
    bound: int,
) -> Sequence[RangeRow]:
    """One statement: each range an index range scan of its own (LATERAL), capped. On the
    driver's own cursor: a wide level is ~10,000 rows, and the driver makes them tuples in C."""
    low, high, cap = zip(*ranges, strict=True) if ranges else ((), (), ())
    params = {"low": list(low), "high": list(high), "cap": list(cap), "tenant": tenant_id,
              "kind": event_type, "bound": bound}  # fmt: skip
    driver: psycopg.Connection[Any] = conn.connection.driver_connection  # type: ignore[assignment]
    try:
        with driver.cursor() as cursor:
            cursor.execute(_RANGE_QUERIES[near, event_type is not None], params)
            return cursor.fetchall()
    except psycopg.DataError as exc:  # a NUL in an identifier: the caller's input
        raise CatalogInputError(f"genealogy: cannot look up that identifier: {exc}") from exc
    except psycopg.Error as exc:
        raise CatalogError(f"genealogy: {exc}") from exc


def _read_ranges_sqlite(
    conn: Connection,
    tenant_id: int,
    event_type: str | None,
    near: str,
    ranges: Sequence[KeyRange],
    bound: int,
) -> Sequence[RangeRow]:
    """Single keys in bounded ``IN`` lists, each run its own capped range query."""
    edges = EdgeRow.__table__
    column = edges.c[near]
    query = select(*(edges.c[name] for name in _EDGE_COLUMNS)).where(
        edges.c.tenant_id == tenant_id,
        *([] if event_type is None else [edges.c.event_type == event_type]),
    )
    single = {low: n for n, (low, high, _) in enumerate(ranges) if low == high}
    keys = list(single)
    rows: list[RangeRow] = []
    at = _EDGE_COLUMNS.index(near)
    for start in range(0, len(keys), 500):  # bounded IN lists
        chunk = query.where(column.in_(keys[start : start + 500])).limit(bound)
        rows += [(single[row[at]], *row) for row in conn.execute(chunk)]
    for n, (low, high, cap) in enumerate(ranges):
        if low != high:
            run = query.where(column >= low, column <= high).limit(cap)
            rows += [(n, *row) for row in conn.execute(run)]
    return rows
