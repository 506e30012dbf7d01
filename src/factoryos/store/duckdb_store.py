"""The embedded time-series store: one DuckDB table of samples, written by Arrow appends.

Writes are idempotent on (tag_id, ts) with **first write wins**: a sample once stored is
never changed; a duplicate inside a batch, a replay or a redelivery is ignored. There is no
index (a PRIMARY KEY made appends ~17x slower, see docs/benchmarks.md). The last-value cache
doubles as a per-tag high-water mark: a batch whose samples are in (ts, tag) order and all
newer than everything stored for their tag is appended as is; anything else is deduplicated
in numpy and its late rows go through an anti-join against the table.

Rollups (see rollups.py): the tables rollup_1m and rollup_1h, primary key (tag_id,
bucket_ns), get the partials of exactly the samples each write stored merged in, in the same
transaction; long-range aggregates read them. `apply_retention` deletes old samples and
rollup buckets; samples older than the raw cutoff it applied are dropped by later writes, so
a replay of expired data cannot count twice in the rollups.
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
from factoryos.store import rollups
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
from factoryos.store.rollups import COLUMN_LIST, LEVELS, MERGE_SET, PARTIAL_COLUMNS, Plan

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
ROLLUP_AGGREGATES = {
    "min": 'min("min")',
    "max": 'max("max")',
    "avg": 'sum("sum") / sum("count")',
    "sum": 'sum("sum")',
    "first": 'arg_min("first", first_ts)',
    "last": 'arg_max("last", last_ts)',
    "count": 'sum("count")::BIGINT',
}
"""Each aggregate over rollup partials (and raw samples as one-sample partials)."""
ROLLUP_TYPES = {
    "int32": "INTEGER", "int64": "BIGINT", "float64": "DOUBLE"
}  # fmt: skip


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
            self._raw_cutoff = _ensure_rollups(self._con)
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
            batch = self._unexpired(batch)
            try:
                if self._is_fresh(batch):
                    _in_transaction(self._con, _store_fresh, batch)
                    with self._cache_lock:
                        self._cache.update_fresh(batch)
                    return len(batch)
                stored, fresh = self._write_with_dedup(batch)
            except duckdb.Error as e:
                raise StoreError(f"writing {len(batch)} samples to {self._where}: {e}") from e
            with self._cache_lock:
                self._cache.update(fresh)
        return stored

    def _unexpired(self, batch: SampleBatch) -> SampleBatch:
        """``batch`` without the samples older than the applied raw retention cutoff."""
        if self._raw_cutoff is None or int(batch.ts.min()) >= self._raw_cutoff:
            return batch
        keep = batch.ts >= self._raw_cutoff
        logger.debug("dropping %d samples older than the retention cutoff", int((~keep).sum()))
        return batch.take(keep)

    def _is_fresh(self, batch: SampleBatch) -> bool:
        """Strictly increasing in (ts, tag) and newer than everything stored for each tag."""
        return in_key_order(batch) and bool(np.all(batch.ts > self._latest_ts(batch.tag_ids)))

    def _write_with_dedup(self, batch: SampleBatch) -> tuple[int, SampleBatch]:
        unique = batch.take(first_of_each_key(batch))
        newer = unique.ts > self._latest_ts(unique.tag_ids)
        fresh, late = unique.take(newer), unique.take(~newer)
        stored = _in_transaction(self._con, _store_with_dedup, fresh, late)
        return stored, fresh

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
        params = {
            "every": every_ns,
            "tag": tag_id,
            "start": start_ns,
            "end": end_ns,
            "bad": int(Quality.BAD),
        }
        plan = rollups.choose(start_ns, end_ns, every_ns)
        if plan is None:
            exprs = ", ".join(f'{AGGREGATES[name]} AS "{name}"' for name in names)
            source = (
                "(SELECT ts, value FROM samples WHERE tag_id = $tag AND ts >= $start"
                " AND ts < $end AND quality <> $bad)"
            )
        else:
            exprs = ", ".join(f'{ROLLUP_AGGREGATES[name]} AS "{name}"' for name in names)
            source = _rollup_source(plan)
            params |= {"inner_start": plan.inner_start, "inner_end": plan.inner_end}
        cols = self._query(
            f"SELECT ts - ((ts % $every + $every) % $every) AS bucket, {exprs} FROM {source}"
            " GROUP BY bucket ORDER BY bucket",
            params,
        )
        return Aggregates(cols["bucket"], {name: cols[name] for name in names})

    # -- retention ----------------------------------------------------------------------------

    def apply_retention(
        self, raw_keep_ns: int, rollup_1m_keep_ns: int, rollup_1h_keep_ns: int, now_ns: int
    ) -> dict[str, int]:
        """Delete samples older than ``now_ns - raw_keep_ns`` and rollup buckets that ended
        before ``now_ns`` minus their keep; returns the rows deleted per table. Later writes
        drop samples older than the raw cutoff (a replay of deleted data must not be stored
        and counted in the rollups again)."""
        cut = rollups.cutoffs(raw_keep_ns, rollup_1m_keep_ns, rollup_1h_keep_ns, now_ns)
        with self._write_lock:
            self._check_open()
            try:
                deleted: dict[str, int] = _in_transaction(self._con, _delete_expired, cut)
            except duckdb.Error as e:
                raise StoreError(f"retention on {self._where} failed: {e}") from e
            self._raw_cutoff = max(cut.raw_ns, self._raw_cutoff or cut.raw_ns)
        logger.info("retention on %s deleted %s", self._where, deleted)
        return deleted

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


def _ensure_rollups(con: Any) -> int | None:
    """Create the rollup tables, filled from the samples when they are new (a store made
    before rollups existed); returns the raw retention cutoff applied so far, if any."""
    columns = ", ".join(f'"{name}" {ROLLUP_TYPES[kind]} NOT NULL' for name, kind in PARTIAL_COLUMNS)
    try:
        con.execute("CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value BIGINT)")
        for level in LEVELS:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [level.table]
            ).fetchone()[0]
            if exists:
                continue
            con.execute(f"CREATE TABLE {level.table} ({columns}, PRIMARY KEY (tag_id, bucket_ns))")
            con.execute(
                f"INSERT INTO {level.table} SELECT tag_id, ts - ((ts % $w + $w) % $w) AS b,"
                " min(value), max(value), sum(value), count(*), min(ts), arg_min(value, ts),"
                " max(ts), arg_max(value, ts) FROM samples WHERE quality <> $bad"
                " GROUP BY tag_id, b",
                {"w": level.width_ns, "bad": int(Quality.BAD)},
            )
        row = con.execute("SELECT value FROM store_meta WHERE key = 'raw_cutoff_ns'").fetchone()
    except duckdb.Error as e:
        raise StoreError(f"cannot prepare the rollups: {e}") from e
    return None if row is None else int(row[0])


def _rollup_source(plan: Plan) -> str:
    """Partials of the query range: rollup rows inside, raw samples at the unaligned ends."""
    return (
        '(SELECT bucket_ns AS ts, "min", "max", "sum", "count", first_ts, "first",'
        f' last_ts, "last" FROM {plan.level.table} WHERE tag_id = $tag'
        " AND bucket_ns >= $inner_start AND bucket_ns < $inner_end"
        " UNION ALL SELECT ts, value, value, value, 1, ts, value, ts, value FROM samples"
        " WHERE tag_id = $tag AND quality <> $bad AND ((ts >= $start AND ts < $inner_start)"
        " OR (ts >= $inner_end AND ts < $end)))"
    )


def _in_transaction(con: Any, work: Any, *args: Any) -> Any:
    con.begin()
    try:
        result = work(con, *args)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result


def _store_fresh(con: Any, batch: SampleBatch) -> None:
    _append(con, batch)
    _merge_rollups(con, batch)


def _store_with_dedup(con: Any, fresh: SampleBatch, late: SampleBatch) -> int:
    if len(fresh):
        _store_fresh(con, fresh)
    if not len(late):
        return len(fresh)
    stored_late = _insert_missing(con, late)
    _merge_rollups(con, stored_late)
    return len(fresh) + len(stored_late)


def _merge_rollups(con: Any, stored: SampleBatch) -> None:
    """Merge the partials of ``stored`` (samples just stored, none twice) into the rollups."""
    for level, parts in rollups.level_partials(stored):
        con.register("partials", pa.table(parts))
        try:
            con.execute(
                f"INSERT INTO {level.table} AS r SELECT {COLUMN_LIST} FROM partials {MERGE_SET}"
            )
        finally:
            con.unregister("partials")


def _delete_expired(con: Any, cut: rollups.Cutoffs) -> dict[str, int]:
    deleted = {"samples": _delete(con, "samples", "ts", cut.raw_ns)}
    for table, bucket_ns in cut.bucket_ns.items():
        deleted[table] = _delete(con, table, "bucket_ns", bucket_ns)
    con.execute(
        "INSERT INTO store_meta VALUES ('raw_cutoff_ns', ?)"
        " ON CONFLICT (key) DO UPDATE SET value = greatest(value, excluded.value)",
        [cut.raw_ns],
    )
    return deleted


def _delete(con: Any, table: str, column: str, before: int) -> int:
    return int(con.execute(f"DELETE FROM {table} WHERE {column} < ?", [before]).fetchone()[0])


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


def _insert_missing(con: Any, late: SampleBatch) -> SampleBatch:
    """Insert the rows of ``late`` not stored yet and return them; the ts bounds let DuckDB
    skip row groups."""
    con.register("late", _arrow(late))
    try:
        cols = con.execute(
            "INSERT INTO samples SELECT l.tag_id, l.ts, l.value, l.quality FROM late AS l"
            " ANTI JOIN (SELECT tag_id, ts FROM samples WHERE ts BETWEEN ? AND ?) AS s"
            " ON s.tag_id = l.tag_id AND s.ts = l.ts RETURNING tag_id, ts, value, quality",
            [int(late.ts.min()), int(late.ts.max())],
        ).fetchnumpy()
    finally:
        con.unregister("late")
    return SampleBatch(cols["tag_id"], cols["ts"], cols["value"], cols["quality"])
