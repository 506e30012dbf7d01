"""The embedded time-series store: one DuckDB table of samples, written by Arrow appends.

Writes are idempotent on (tag_id, ts) with **first write wins**: a sample once stored is
never changed; a duplicate inside a batch, a replay or a redelivery is ignored. There is no
index (a PRIMARY KEY made appends ~17x slower, see docs/benchmarks.md). The last-value cache
doubles as a per-tag high-water mark: a batch whose samples are in (ts, tag) order and all
newer than everything stored for their tag is appended as is; anything else is deduplicated
in numpy and its late rows go through an anti-join against the table.
"""

import logging
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.errors import StoreError
from factoryos.store.lastvalue import LastValueCache
from factoryos.store.querycheck import (
    MAX_BUCKETS,
    MAX_TAG_ID,
    check_aggs,
    check_batch,
    check_every,
    check_positive,
    check_range,
    check_tag,
    first_of_each_key,
    in_key_order,
)
from factoryos.store.results import Aggregates

__all__ = ["AGGREGATES", "MAX_BUCKETS", "MAX_TAG_ID", "SCHEMA", "Aggregates", "DuckDBStore"]

logger = logging.getLogger(__name__)

SCHEMA = (("tag_id", "INTEGER"), ("ts", "BIGINT"), ("value", "DOUBLE"), ("quality", "UTINYINT"))
AGGREGATES = {
    "min": "min(value)",
    "max": "max(value)",
    "avg": "avg(value)",
    "sum": "sum(value)",
    "first": "arg_min(value, ts)",
    "last": "arg_max(value, ts)",
    "count": "count(*)",
}
"""The DuckDB SQL of each aggregate that querycheck knows."""


class DuckDBStore:
    """Samples in DuckDB (``path`` None: in memory) plus the last-value cache.

    One writer connection, used under a lock (`write` is synchronous; the ingest calls it in a
    worker thread); each query runs on its own cursor, so queries proceed while ingest writes.
    """

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = None if path is None else Path(path)
        self._write_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._closed = False
        self._con = _connect(self.path)
        try:
            _ensure_schema(self._con, self.path)
            self._reader = self._con.cursor()
            self._cache = _load_cache(self._reader)
        except BaseException:
            self._con.close()
            raise
        logger.info(
            "time-series store open at %s (%d tags)", self.path or ":memory:", len(self._cache)
        )

    # -- writing ------------------------------------------------------------------------------

    def write(self, batch: SampleBatch) -> int:
        """Store ``batch``; returns how many samples were new (duplicates are ignored)."""
        if len(batch) == 0:
            return 0
        check_batch(batch)
        with self._write_lock:
            self._check_open()
            try:
                if self._is_fresh(batch):
                    _append(self._con, batch)
                    with self._cache_lock:
                        self._cache.update_fresh(batch)
                    return len(batch)
                stored, fresh = self._write_with_dedup(batch)
            except duckdb.Error as e:
                raise StoreError(f"writing {len(batch)} samples to {self._where}: {e}") from e
            with self._cache_lock:
                self._cache.update(fresh)
        return stored

    def _is_fresh(self, batch: SampleBatch) -> bool:
        """Strictly increasing in (ts, tag) and newer than everything stored for each tag."""
        return in_key_order(batch) and bool(np.all(batch.ts > self._latest_ts(batch.tag_ids)))

    def _write_with_dedup(self, batch: SampleBatch) -> tuple[int, SampleBatch]:
        unique = batch.take(first_of_each_key(batch))
        newer = unique.ts > self._latest_ts(unique.tag_ids)
        fresh, late = unique.take(newer), unique.take(~newer)
        self._con.begin()
        try:
            if len(fresh):
                _append(self._con, fresh)
            stored_late = _insert_missing(self._con, late) if len(late) else 0
            self._con.commit()
        except BaseException:
            self._con.rollback()
            raise
        return len(fresh) + stored_late, fresh

    def _latest_ts(self, tag_ids: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        with self._cache_lock:  # it may grow the cache's arrays under a concurrent `last`
            return self._cache.latest_ts(tag_ids)

    # -- queries ------------------------------------------------------------------------------

    def raw(self, tag_id: int, start_ns: int, end_ns: int, *, limit: int = 100_000) -> SampleBatch:
        """Samples of ``tag_id`` with ts in [start_ns, end_ns), oldest first, at most ``limit``."""
        check_tag(tag_id)
        check_range(start_ns, end_ns)
        check_positive("limit", limit)
        cols = self._query(
            "SELECT tag_id, ts, value, quality FROM samples"
            " WHERE tag_id = ? AND ts >= ? AND ts < ? ORDER BY ts LIMIT ?",
            [tag_id, start_ns, end_ns, limit],
        )
        return SampleBatch(cols["tag_id"], cols["ts"], cols["value"], cols["quality"])

    def iter_raw(
        self, tag_ids: Sequence[int], start_ns: int, end_ns: int, *, chunk_rows: int = 100_000
    ) -> Iterator[SampleBatch]:
        """Samples of many tags over [start_ns, end_ns), ordered by (ts, tag_id), in chunks of
        at most ``chunk_rows``: for exports, which must never hold a whole range in memory.

        Bad parameters raise here, before iterating. The cursor stays open while the caller
        iterates; close the iterator to release it.
        """
        for tag_id in tag_ids:
            check_tag(tag_id)
        check_range(start_ns, end_ns)
        check_positive("chunk_rows", chunk_rows)
        return self._stream(list(tag_ids), start_ns, end_ns, chunk_rows)

    def _stream(
        self, tag_ids: list[int], start_ns: int, end_ns: int, chunk_rows: int
    ) -> Iterator[SampleBatch]:
        with self._cursor() as cur:
            try:
                reader = cur.sql(
                    "SELECT tag_id, ts, value, quality FROM samples"
                    " WHERE tag_id IN (SELECT unnest(?::INTEGER[])) AND ts >= ? AND ts < ?"
                    " ORDER BY ts, tag_id",
                    params=[tag_ids, start_ns, end_ns],
                ).to_arrow_reader(chunk_rows)
                for chunk in reader:
                    yield SampleBatch.build(
                        chunk.column(0).to_numpy(),
                        chunk.column(1).to_numpy(),
                        chunk.column(2).to_numpy(),
                        chunk.column(3).to_numpy(),
                    )
            except duckdb.Error as e:
                raise StoreError(f"export from {self._where} failed: {e}") from e

    def aggregate(
        self, tag_id: int, start_ns: int, end_ns: int, every_ns: int, aggs: Sequence[str]
    ) -> Aggregates:
        """Aggregates of ``tag_id`` over [start_ns, end_ns) per bucket of ``every_ns``.

        Buckets start at multiples of ``every_ns`` since the epoch; only buckets holding
        samples are returned. Samples of BAD quality are left out.
        """
        check_tag(tag_id)
        check_range(start_ns, end_ns)
        names = check_aggs(aggs)
        check_every(start_ns, end_ns, every_ns)
        exprs = ", ".join(f'{AGGREGATES[name]} AS "{name}"' for name in names)
        cols = self._query(
            f"SELECT ts - ((ts % $every + $every) % $every) AS bucket, {exprs} FROM samples"
            " WHERE tag_id = $tag AND ts >= $start AND ts < $end AND quality <> $bad"
            " GROUP BY bucket ORDER BY bucket",
            {
                "every": every_ns,
                "tag": tag_id,
                "start": start_ns,
                "end": end_ns,
                "bad": int(Quality.BAD),
            },
        )
        return Aggregates(cols["bucket"], {name: cols[name] for name in names})

    def last(self, tag_ids: npt.ArrayLike) -> SampleBatch:
        """The newest sample of each tag, in request order; tags without samples are omitted."""
        with self._cache_lock:
            self._check_open()
            return self._cache.get(tag_ids)

    def count(self, tag_id: int | None = None) -> int:
        """How many samples are stored, for one tag or all."""
        if tag_id is None:
            cols = self._query("SELECT count(*) AS n FROM samples", [])
        else:
            check_tag(tag_id)
            cols = self._query("SELECT count(*) AS n FROM samples WHERE tag_id = ?", [tag_id])
        return int(cols["n"][0])

    def close(self) -> None:
        """Close the database; later calls raise StoreError."""
        with self._write_lock, self._cursor_lock, self._cache_lock:
            if self._closed:
                return
            self._closed = True
            self._reader.close()
            self._con.close()
        logger.info("time-series store at %s closed", self._where)

    def __enter__(self) -> "DuckDBStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def _where(self) -> str:
        return str(self.path) if self.path else ":memory:"

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"time-series store {self._where} is closed")

    def _query(self, sql: str, params: object) -> dict[str, npt.NDArray[Any]]:
        with self._cursor() as cur:
            try:
                result: dict[str, npt.NDArray[Any]] = cur.execute(sql, params).fetchnumpy()
            except duckdb.Error as e:
                raise StoreError(f"query on {self._where} failed: {e}") from e
        return result

    @contextmanager
    def _cursor(self) -> Iterator[Any]:
        with self._cursor_lock:
            self._check_open()
            cur = self._reader.cursor()
        try:
            yield cur
        finally:
            cur.close()


def _connect(path: Path | None) -> Any:
    try:
        return duckdb.connect(":memory:" if path is None else str(path))
    except duckdb.Error as e:
        raise StoreError(f"cannot open time-series store {path}: {e}") from e


def _ensure_schema(con: Any, path: Path | None) -> None:
    columns = ", ".join(f"{name} {kind}" for name, kind in SCHEMA)
    try:
        con.execute(f"CREATE TABLE IF NOT EXISTS samples ({columns})")
        found = con.execute(
            "SELECT column_name, data_type FROM information_schema.columns"
            " WHERE table_name = 'samples' ORDER BY ordinal_position"
        ).fetchall()
    except duckdb.Error as e:
        raise StoreError(f"cannot prepare time-series store {path}: {e}") from e
    if tuple(found) != SCHEMA:
        raise StoreError(f"{path}: table samples has columns {found}, expected {list(SCHEMA)}")


def _load_cache(cur: Any) -> LastValueCache:
    cols = cur.execute(
        "SELECT tag_id, max(ts) AS ts, arg_max(value, ts) AS value,"
        " arg_max(quality, ts) AS quality FROM samples GROUP BY tag_id"
    ).fetchnumpy()
    cache = LastValueCache()
    cache.update(SampleBatch(cols["tag_id"], cols["ts"], cols["value"], cols["quality"]))
    return cache


def _arrow(batch: SampleBatch) -> pa.Table:
    return pa.table(
        {"tag_id": batch.tag_ids, "ts": batch.ts, "value": batch.values, "quality": batch.quality}
    )


def _append(con: Any, batch: SampleBatch) -> None:
    con.register("incoming", _arrow(batch))
    try:
        con.execute("INSERT INTO samples SELECT tag_id, ts, value, quality FROM incoming")
    finally:
        con.unregister("incoming")


def _insert_missing(con: Any, late: SampleBatch) -> int:
    """Insert the rows of ``late`` not stored yet; the ts bounds let DuckDB skip row groups."""
    con.register("late", _arrow(late))
    try:
        row = con.execute(
            "INSERT INTO samples SELECT l.tag_id, l.ts, l.value, l.quality FROM late AS l"
            " ANTI JOIN (SELECT tag_id, ts FROM samples WHERE ts BETWEEN ? AND ?) AS s"
            " ON s.tag_id = l.tag_id AND s.ts = l.ts",
            [int(late.ts.min()), int(late.ts.max())],
        ).fetchone()
    finally:
        con.unregister("late")
    return int(row[0])
