"""Bulk load of EPCIS events, for imports and benchmarks: millions of events without the ORM.

``EpcisEvents.capture`` writes one ORM object per row and flushes each event to learn its id:
right for an API request of a few hundred events, hours for ten million. This path writes the
same rows (``epcis_events``, ``epcis_event_epcs``, ``epcis_genealogy``) in one statement per
table and batch:
PostgreSQL's ``COPY … FROM STDIN`` (psycopg 3), SQLite's ``executemany``. The loader assigns
the event ids itself (from the table's sequence on PostgreSQL, after the largest id on SQLite)
so the identifier rows can name their event without a round trip per event.

Unlike capture, a batch is not checked against the eventIDs the tenant already has (that
lookup is what a bulk load cannot afford): a repeated eventID breaks the table's unique
constraint and the whole batch is refused with :class:`CatalogInputError`, nothing written.
"""

import sqlite3
from collections.abc import Iterator, Sequence
from typing import Any

import psycopg
from sqlalchemy.engine import make_url

from factoryos.store.catalog import Catalog, CatalogError, CatalogInputError
from factoryos.store.epcis_events import MAX_EDGES, MAX_ID, ROLES, NewEvent

MAX_BULK = 100_000  # events per call: bounds the memory of one batch's rows
_KNOWN_ROLES = frozenset(ROLES)
_EVENT_COLUMNS = (
    "id", "tenant_id", "event_id", "event_type", "event_time_ns", "record_time_ns",
    "action", "biz_step", "disposition", "read_point", "biz_location", "body",
)  # fmt: skip
_EPC_COLUMNS = ("tenant_id", "event", "epc", "role")
_EDGE_COLUMNS = (
    "tenant_id", "event", "source", "target", "event_id", "event_type", "event_time_ns",
)  # fmt: skip
EventTuple = tuple[int, int, str, str, int, int, str | None, str | None, str | None, str | None,
                   str | None, str]  # fmt: skip
EpcTuple = tuple[int, int, str, str]


def check_bulk(events: Sequence[NewEvent]) -> None:
    """Refuse a batch the tables cannot take, naming the first bad event (as capture does)."""
    if len(events) > MAX_BULK:
        raise CatalogInputError(f"bulk load: {len(events)} events, at most {MAX_BULK} at once")
    for n, e in enumerate(events):
        texts = (e.event_id, e.biz_step, e.disposition, e.read_point, e.biz_location)
        if any(t is not None and len(t) > MAX_ID for t in texts) or any(
            len(epc) > MAX_ID for _, epc in e.epcs
        ):
            raise CatalogInputError(f"eventList[{n}]: an identifier longer than {MAX_ID}")
        if any(role not in _KNOWN_ROLES for role, _ in e.epcs):
            bad = sorted({role for role, _ in e.epcs} - _KNOWN_ROLES)
            raise CatalogInputError(f"eventList[{n}]: unknown roles {bad}")
        if len(e.edges) > MAX_EDGES:
            raise CatalogInputError(f"eventList[{n}]: more than {MAX_EDGES} genealogy edges")


def event_rows(
    tenant_id: int, events: Sequence[NewEvent], ids: Sequence[int], record_time_ns: int
) -> Iterator[EventTuple]:
    """The ``epcis_events`` rows of ``events``, in ``_EVENT_COLUMNS`` order, with ``ids``."""
    for row_id, e in zip(ids, events, strict=True):
        yield (
            row_id, tenant_id, e.event_id, e.event_type, e.event_time_ns, record_time_ns,
            e.action, e.biz_step, e.disposition, e.read_point, e.biz_location, e.body,
        )  # fmt: skip


def epc_rows(tenant_id: int, events: Sequence[NewEvent], ids: Sequence[int]) -> Iterator[EpcTuple]:
    """The ``epcis_event_epcs`` rows of ``events`` (their ids come from the table)."""
    for row_id, e in zip(ids, events, strict=True):
        for role, epc in e.epcs:
            yield tenant_id, row_id, epc, role


def edge_rows(
    tenant_id: int, events: Sequence[NewEvent], ids: Sequence[int]
) -> Iterator[tuple[int, int, str, str, str, str, int]]:
    """The ``epcis_genealogy`` rows of ``events`` (their ids come from the table)."""
    for row_id, e in zip(ids, events, strict=True):
        for source, target in e.edges:
            yield tenant_id, row_id, source, target, e.event_id, e.event_type, e.event_time_ns


class EpcisBulk:
    """Bulk writes into the catalog's EPCIS tables (synchronous: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog
        self._backend = make_url(catalog.url).get_backend_name()

    def load(self, tenant_id: int, events: Sequence[NewEvent], record_time_ns: int) -> int:
        """Write ``events`` (new eventIDs only) in one transaction; returns how many."""
        check_bulk(events)
        if not events:
            return 0
        with self._catalog._write() as s:
            raw: Any = s.connection().connection.driver_connection
            if self._backend == "postgresql":
                _copy_postgres(raw, tenant_id, events, record_time_ns)
            elif self._backend == "sqlite":
                _insert_sqlite(raw, tenant_id, events, record_time_ns)
            else:
                raise CatalogError(f"bulk load: no bulk path for {self._backend}")
        return len(events)


def _copy_postgres(
    conn: psycopg.Connection[Any], tenant_id: int, events: Sequence[NewEvent], record_ns: int
) -> None:
    try:
        with conn.cursor() as cur:
            # nextval per row, not setval over a block: concurrent writers keep their ids.
            cur.execute(
                "SELECT nextval(pg_get_serial_sequence('epcis_events', 'id'))"
                " FROM generate_series(1, %s)",
                (len(events),),
            )
            ids = [row[0] for row in cur.fetchall()]
            _copy(
                cur, "epcis_events", _EVENT_COLUMNS, event_rows(tenant_id, events, ids, record_ns)
            )
            _copy(cur, "epcis_event_epcs", _EPC_COLUMNS, epc_rows(tenant_id, events, ids))
            _copy(cur, "epcis_genealogy", _EDGE_COLUMNS, edge_rows(tenant_id, events, ids))
    except psycopg.errors.UniqueViolation as exc:
        raise CatalogInputError(f"bulk load: an eventID the tenant already has: {exc}") from exc
    except psycopg.errors.DataError as exc:
        raise CatalogInputError(f"bulk load: a value PostgreSQL cannot store: {exc}") from exc
    except psycopg.Error as exc:
        raise CatalogError(f"bulk load: {exc}") from exc


def _copy(
    cur: psycopg.Cursor[Any], table: str, columns: tuple[str, ...], rows: Iterator[tuple[Any, ...]]
) -> None:
    statement = f"COPY {table} ({', '.join(columns)}) FROM STDIN"  # our constant names only
    with cur.copy(statement) as copy:
        for row in rows:
            copy.write_row(row)


def _insert_sqlite(
    conn: sqlite3.Connection, tenant_id: int, events: Sequence[NewEvent], record_ns: int
) -> None:
    try:
        # Take the write lock before reading the largest id: no other writer can then take
        # the ids this batch is about to use.
        if not conn.in_transaction:
            conn.execute("BEGIN IMMEDIATE")
        first = conn.execute("SELECT coalesce(max(id), 0) + 1 FROM epcis_events").fetchone()[0]
        ids = range(first, first + len(events))
        conn.executemany(
            _insert("epcis_events", _EVENT_COLUMNS), event_rows(tenant_id, events, ids, record_ns)
        )
        conn.executemany(
            _insert("epcis_event_epcs", _EPC_COLUMNS), epc_rows(tenant_id, events, ids)
        )
        conn.executemany(
            _insert("epcis_genealogy", _EDGE_COLUMNS), edge_rows(tenant_id, events, ids)
        )
    except sqlite3.IntegrityError as exc:
        raise CatalogInputError(f"bulk load: an eventID the tenant already has: {exc}") from exc
    except sqlite3.Error as exc:
        raise CatalogError(f"bulk load: {exc}") from exc


def _insert(table: str, columns: tuple[str, ...]) -> str:
    marks = ", ".join("?" for _ in columns)
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"


__all__ = ["MAX_BULK", "EpcisBulk", "check_bulk", "edge_rows", "epc_rows", "event_rows"]
