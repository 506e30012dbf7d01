"""The time-series store contract and the choice of backend from a path or URL.

- a filesystem path, ``duckdb:<path>`` or ``duckdb:///<abs path>``: DuckDBStore on that file
  (``duckdb:`` or ``duckdb::memory:`` alone: in memory);
- ``postgresql://…`` or ``postgres://…``: PostgresStore; an optional ``schema`` query
  parameter names the schema (default ``factoryos``), the rest goes to libpq as is.

psycopg is imported only when a PostgreSQL URL is opened.
"""

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import numpy.typing as npt

from factoryos.model.samples import SampleBatch
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.errors import StoreError
from factoryos.store.results import Aggregates
from factoryos.store.retention import RetentionPolicy

DEFAULT_SCHEMA = "factoryos"


class TimeSeriesStore(Protocol):
    """What every time-series backend offers (DuckDBStore, PostgresStore)."""

    def write(self, batch: SampleBatch) -> int: ...

    def raw(
        self, tag_id: int, start_ns: int, end_ns: int, *, limit: int = 100_000
    ) -> SampleBatch: ...

    def iter_raw(
        self, tag_ids: Sequence[int], start_ns: int, end_ns: int, *, chunk_rows: int = 100_000
    ) -> Iterator[SampleBatch]: ...

    def aggregate(
        self, tag_id: int, start_ns: int, end_ns: int, every_ns: int, aggs: Sequence[str]
    ) -> Aggregates: ...

    def apply_retention(self, policy: RetentionPolicy, now_ns: int) -> dict[str, int]: ...

    def last(self, tag_ids: npt.ArrayLike) -> SampleBatch: ...

    def count(self, tag_id: int | None = None) -> int: ...

    def close(self) -> None: ...

    def __enter__(self) -> "TimeSeriesStore": ...

    def __exit__(self, *exc: object) -> None: ...


def open_store(url_or_path: str | Path) -> TimeSeriesStore:
    """Open the backend that ``url_or_path`` names (see the module docstring)."""
    target = str(url_or_path)
    scheme = urlsplit(target).scheme.lower() if isinstance(url_or_path, str) else ""
    if scheme in ("postgresql", "postgres"):
        from factoryos.store.postgres_store import PostgresStore

        url, schema = _split_schema(target)
        return PostgresStore(url, schema=schema)
    if scheme == "duckdb":
        path = target[len("duckdb:") :].removeprefix("//")
        return DuckDBStore(None if path in ("", ":memory:") else path)
    if scheme and len(scheme) > 1:  # one letter is a Windows drive
        raise StoreError(
            f"store URL {target!r}: unknown scheme {scheme!r}; use a path, duckdb: or postgresql:"
        )
    return DuckDBStore(target)


def _split_schema(url: str) -> tuple[str, str]:
    """The URL without its ``schema`` query parameter, and that schema."""
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True)
    schemas = [value for key, value in query if key == "schema"]
    rest = urlencode([(key, value) for key, value in query if key != "schema"])
    schema = schemas[-1] if schemas else DEFAULT_SCHEMA
    if not schema:
        raise StoreError(f"store URL: the schema parameter is empty in {parts.path!r}")
    return urlunsplit(parts._replace(query=rest)), schema
