"""Rebuilding the genealogy indexes: ``factoryos trace reindex``.

Why it pays: edges arrive in time order, and each family of identifiers (a product's serials,
a line's lots) grows in the middle of the index rather than at its end, so leaf pages split
half full and the leaves of one key range end up scattered over the index file. A trace
reads ranges of keys (:mod:`factoryos.store.key_runs`); on pages that are not cached it then
pays one random disk read per leaf. A rebuilt index is packed and its leaves lie in key
order, so a range is one sequential read. Figures in docs/trace.md and docs/benchmarks.md.

PostgreSQL rebuilds ``CONCURRENTLY``: capture and traces go on meanwhile. A rebuild that was
interrupted or failed (a lock wait longer than ``LOCK_TIMEOUT_S``) leaves an invalid copy of
the index behind; it is dropped then if it can be, else by the next rebuild. One
rebuild at a time per catalog (an advisory lock). SQLite's ``REINDEX`` locks the whole catalog,
readers too, while it runs.
"""

import contextlib
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from factoryos.store.catalog import Catalog, CatalogError

GENEALOGY_INDEXES = ("ix_epcis_genealogy_source", "ix_epcis_genealogy_target")
LOCK_TIMEOUT_S = 60  # waiting behind another transaction's lock longer than this is an error
# one rebuild at a time per edge table (a schema of its own is a catalog of its own)
_LOCK_KEY = "to_regclass('epcis_genealogy')::oid::bigint"
_NO_EDGES = "genealogy indexes: the catalog has no edge table; run `factoryos db upgrade` first"


@dataclass(frozen=True, slots=True)
class Rebuilt:
    index: str
    bytes_before: int | None  # None: the SQLite build has no ``dbstat`` to measure with
    bytes_after: int | None
    seconds: float


def rebuild_genealogy_indexes(catalog: Catalog) -> list[Rebuilt]:
    """Rebuild both genealogy indexes of ``catalog``, one after the other."""
    if make_url(catalog.url).get_backend_name() == "postgresql":
        return _rebuild_postgres(catalog)
    return _rebuild_sqlite(catalog)


def _rebuild_postgres(catalog: Catalog) -> list[Rebuilt]:
    with catalog._autocommit() as conn:
        if conn.scalar(text("SELECT to_regclass('epcis_genealogy')")) is None:
            raise CatalogError(_NO_EDGES)
        if not conn.scalar(text(f"SELECT pg_try_advisory_lock({_LOCK_KEY})")):
            raise CatalogError("genealogy indexes: another rebuild of them is running")
        try:
            conn.execute(text(f"SET lock_timeout = '{LOCK_TIMEOUT_S}s'"))
            _drop_interrupted_copies(conn)
            done = [_rebuilt(conn, name, f"REINDEX INDEX CONCURRENTLY {name}", _pg_size)
                    for name in GENEALOGY_INDEXES]  # fmt: skip
            conn.execute(text("RESET lock_timeout"))
            conn.execute(text(f"SELECT pg_advisory_unlock({_LOCK_KEY})"))
        except Exception:
            # the copy a failed rebuild leaves would be kept up to date by every capture
            # until the next run: drop it now if that can be done
            with contextlib.suppress(SQLAlchemyError):
                _drop_interrupted_copies(conn)
            conn.invalidate()  # closed, not pooled: its lock and settings go with it
            raise
        except BaseException:
            conn.invalidate()
            raise
        return done


def _rebuilt(
    conn: Connection, name: str, statement: str, size: Callable[[Connection, str], int | None]
) -> Rebuilt:
    before, started = size(conn, name), time.perf_counter()
    conn.execute(text(statement))
    seconds = time.perf_counter() - started
    return Rebuilt(name, before, size(conn, name), seconds)


def _drop_interrupted_copies(conn: Connection) -> None:
    for leftover in _interrupted_copies(conn):
        conn.execute(text(f'DROP INDEX CONCURRENTLY IF EXISTS "{leftover}"'))


def _interrupted_copies(conn: Connection) -> list[str]:
    """Invalid indexes an interrupted ``REINDEX … CONCURRENTLY`` left on the edge table (it
    names its copies ``<index>_ccnew`` and ``<index>_ccold``, with a number when taken)."""
    rows = conn.execute(
        text(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " WHERE i.indrelid = to_regclass('epcis_genealogy') AND NOT i.indisvalid"
            " AND c.relname ~ '_cc(new|old)[0-9]*$'"
        )
    )
    return [row[0] for row in rows]


def _pg_size(conn: Connection, name: str) -> int:
    return int(conn.scalar(text("SELECT pg_relation_size(to_regclass(:name))"), {"name": name}))


def _rebuild_sqlite(catalog: Catalog) -> list[Rebuilt]:
    with catalog._write() as s:
        conn = s.connection()
        known = "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = :name"
        if not conn.scalar(text(known), {"name": "epcis_genealogy"}):
            raise CatalogError(_NO_EDGES)
        return [_rebuilt(conn, name, f"REINDEX {name}", _sqlite_size) for name in GENEALOGY_INDEXES]


def _sqlite_size(conn: Connection, name: str) -> int | None:
    try:
        pages = conn.scalar(text("SELECT sum(pgsize) FROM dbstat WHERE name = :n"), {"n": name})
    except OperationalError:  # built without the dbstat table
        return None
    return int(pages)


__all__ = ["GENEALOGY_INDEXES", "Rebuilt", "rebuild_genealogy_indexes"]
