"""The embedded time-series store: one DuckDB table of samples, written by Arrow appends.

Writes are idempotent on (tag_id, ts) with **first write wins**: a sample once stored is
never changed; a duplicate inside a batch, a replay or a redelivery is ignored. There is no
index (a PRIMARY KEY made appends ~17x slower, see docs/benchmarks.md). The last-value cache
doubles as a per-tag high-water mark: a batch whose samples are in (ts, tag) order and all
newer than everything stored for their tag is appended as is; anything else is deduplicated
in numpy and its late rows go through an anti-join against the table.

Rollups (see rollups.py): the keyless tables rollup_1m and rollup_1h are materialized
behind watermarks kept in ``store_meta``; a write that moves a watermark aggregates the new
range in the same transaction, and the partials of stored samples below a watermark are
appended. `apply_retention` first materializes what it is about to delete, then deletes old
samples and rollup buckets; samples older than the raw cutoff it applied are dropped by
later writes, so a replay of expired data cannot count twice in the rollups.
"""

import logging
import threading
import time
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
from factoryos.store.retention import (
    CUT_COLUMNS,
    NEVER,
    Floors,
    RetentionPolicy,
    RunCuts,
    cut_rows,
    delete_statements,
    run_cuts,
)
from factoryos.store.rollups import COLUMN_LIST, LEVELS, PARTIAL_COLUMNS, Piece, Watermarks

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
MEMORY_LIMIT_MB = 2048
"""DuckDB's own default is 80 % of the machine; beyond this limit it evicts cached blocks and
spills large sorts and aggregates to ``<store>.tmp``, so ingest runs in bounded memory."""
ROLLUP_FORMAT = 2
"""store_meta 'rollup_format': 2 is keyless tables behind watermarks; tables of another
format (keyed, merged on every write) are dropped and materialized again on open."""
PARTIALS_OF_SAMPLES = (
    "tag_id, ts - ((ts % $w + $w) % $w) AS b, min(value), max(value), sum(value), count(*),"
    " min(ts), arg_min(value, ts), max(ts), arg_max(value, ts) FROM samples"
    " WHERE ts >= $lo AND ts < $hi AND quality <> $bad"
)
PARTIALS_OF_PARTIALS = (
    'tag_id, bucket_ns - ((bucket_ns % $w + $w) % $w) AS b, min("min"), max("max"),'
    ' sum("sum"), sum("count"), min(first_ts), arg_min("first", first_ts), max(last_ts),'
    ' arg_max("last", last_ts) FROM {source} WHERE bucket_ns >= $lo AND bucket_ns < $hi'
)
"""The partials of a range, from raw samples (the finest level) or the level below."""


class DuckDBStore:
    """Samples in DuckDB (``path`` None: in memory) plus the last-value cache.

    One writer connection, used under a lock (`write` is synchronous; the ingest calls it in a
    worker thread); each query runs on its own cursor, so queries proceed while ingest writes.
    """

    def __init__(
        self, path: str | Path | None = None, *, memory_limit_mb: int = MEMORY_LIMIT_MB
    ) -> None:
        self.path = None if path is None else Path(path)
        self._write_lock = threading.Lock()
        self._cursor_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._closed = False
        self._con = _connect(self.path, memory_limit_mb)
        try:
            _ensure_schema(self._con, self.path)
            self._marks = _ensure_rollups(self._con)
            self._floors = _load_floors(self._con)
            self._reader = self._con.cursor()
            self._cache = _load_cache(self._reader)
            self._newest = self._cache.newest_ts()
            self._advance(self._newest)
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
            if len(batch) == 0:
                return 0
            newest = max(self._newest, int(batch.ts.max()))
            marks = rollups.advanced(self._marks, newest, time.time_ns())
            try:
                if self._is_fresh(batch):
                    fresh, late = batch, None
                else:
                    unique = batch.take(first_of_each_key(batch))
                    newer = unique.ts > self._latest_ts(unique.tag_ids)
                    fresh, late = unique.take(newer), unique.take(~newer)
                stored = _in_transaction(self._con, self._store, fresh, late, marks)
            except duckdb.Error as e:
                raise StoreError(f"writing {len(batch)} samples to {self._where}: {e}") from e
            self._marks, self._newest = marks, newest
            with self._cache_lock:
                if late is None:
                    self._cache.update_fresh(fresh)
                else:
                    self._cache.update(fresh)
        return int(stored)

    def _store(
        self, con: Any, fresh: SampleBatch, late: SampleBatch | None, marks: Watermarks
    ) -> int:
        """Append ``fresh``, insert what ``late`` holds that is not stored yet, and bring the
        rollups to ``marks``; returns how many samples were stored."""
        if len(fresh):
            _append(con, fresh)
        if late is not None and len(late):
            fresh = SampleBatch.concat([fresh, _insert_missing(con, late)])
        stored = fresh
        for level, parts in rollups.late_partials(stored, self._marks):
            _append_partials(con, level.table, parts)
        _materialize(con, self._marks, marks)
        return len(stored)

    def _advance(self, newest: int) -> None:
        """Materialize what ``newest`` (the newest sample stored) makes due."""
        marks = rollups.advanced(self._marks, newest, time.time_ns())
        if marks != self._marks:
            _in_transaction(self._con, _materialize, self._marks, marks)
            self._marks = marks

    def _unexpired(self, batch: SampleBatch) -> SampleBatch:
        """``batch`` without the samples older than the applied raw retention cutoff."""
        if self._floors.empty:
            return batch
        keep = batch.ts >= self._floors.of(batch.tag_ids)
        if bool(keep.all()):
            return batch
        logger.debug("dropping %d samples older than the retention cutoff", int((~keep).sum()))
        return batch.take(keep)

    def _is_fresh(self, batch: SampleBatch) -> bool:
        """Strictly increasing in (ts, tag) and newer than everything stored for each tag."""
        return in_key_order(batch) and bool(np.all(batch.ts > self._latest_ts(batch.tag_ids)))

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
        params = {"every": every_ns, "tag": tag_id}
        plan = rollups.choose(start_ns, end_ns, every_ns)
        table = AGGREGATES if plan is None else ROLLUP_AGGREGATES
        exprs = ", ".join(f'{table[name]} AS "{name}"' for name in names)
        source = _source(rollups.pieces(start_ns, end_ns, plan, self._marks), raw=plan is None)
        cols = self._query(
            f"SELECT ts - ((ts % $every + $every) % $every) AS bucket, {exprs} FROM ({source})"
            " GROUP BY bucket ORDER BY bucket",
            params,
        )
        return Aggregates(cols["bucket"], {name: cols[name] for name in names})

    # -- retention ----------------------------------------------------------------------------

    def apply_retention(self, policy: RetentionPolicy, now_ns: int) -> dict[str, int]:
        """Delete what ``policy`` expires at ``now_ns``, per tag class: raw samples older than
        their class's raw keep, rollup buckets that ended before their keep; returns the rows
        deleted per table. What is about to be deleted is rolled up first; later writes
        drop samples below the raw cutoff that applied to their tag (a replay of deleted
        data must not be stored and counted in the rollups again)."""
        run = run_cuts(policy, now_ns)
        with self._write_lock:
            self._check_open()
            marks = rollups.forced(self._marks, run.widest())
            floors = self._floors.after(run)
            try:
                deleted: dict[str, int] = _in_transaction(
                    self._con, _delete_expired, run, floors, self._marks, marks
                )
            except duckdb.Error as e:
                raise StoreError(f"retention on {self._where} failed: {e}") from e
            self._marks, self._floors = marks, floors
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


def _connect(path: Path | None, memory_limit_mb: int) -> Any:
    check_positive("memory_limit_mb", memory_limit_mb)
    try:
        return duckdb.connect(
            ":memory:" if path is None else str(path),
            config={"memory_limit": f"{memory_limit_mb}MB"},
        )
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


def _ensure_rollups(con: Any) -> Watermarks:
    """Create the rollup tables if missing (or of an older format: dropped, to be
    materialized again); returns the watermarks."""
    columns = ", ".join(f'"{name}" {ROLLUP_TYPES[kind]} NOT NULL' for name, kind in PARTIAL_COLUMNS)
    try:
        con.execute("CREATE TABLE IF NOT EXISTS store_meta (key VARCHAR PRIMARY KEY, value BIGINT)")
        meta = dict(con.execute("SELECT key, value FROM store_meta").fetchall())
        if meta.get("rollup_format") != ROLLUP_FORMAT:
            for level in LEVELS:
                con.execute(f"DROP TABLE IF EXISTS {level.table}")
                meta.pop(_mark_key(level.table), None)
            con.execute("DELETE FROM store_meta WHERE key LIKE 'watermark:%'")
            _set_meta(con, "rollup_format", ROLLUP_FORMAT)
        for level in LEVELS:
            exists = con.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_name = ?", [level.table]
            ).fetchone()[0]
            if not exists:  # new, or dropped by hand: everything is to be materialized again
                con.execute(f"CREATE TABLE {level.table} ({columns})")
                for later in LEVELS[LEVELS.index(level) :]:
                    meta.pop(_mark_key(later.table), None)
                    con.execute("DELETE FROM store_meta WHERE key = ?", [_mark_key(later.table)])
    except duckdb.Error as e:
        raise StoreError(f"cannot prepare the rollups: {e}") from e
    return tuple(int(meta.get(_mark_key(level.table), rollups.NOTHING)) for level in LEVELS)


def _load_floors(con: Any) -> Floors:
    try:
        con.execute("CREATE TABLE IF NOT EXISTS raw_floors (tag_id INTEGER, ns BIGINT)")
        cols = con.execute("SELECT tag_id, ns FROM raw_floors ORDER BY tag_id").fetchnumpy()
        row = con.execute("SELECT value FROM store_meta WHERE key = 'raw_cutoff_ns'").fetchone()
    except duckdb.Error as e:
        raise StoreError(f"cannot read the retention floors: {e}") from e
    default = NEVER if row is None else int(row[0])
    return Floors(default, cols["tag_id"].astype(np.int32), cols["ns"].astype(np.int64))


def _mark_key(table: str) -> str:
    return f"watermark:{table}"


def _set_meta(con: Any, key: str, value: int) -> None:
    con.execute(
        "INSERT INTO store_meta VALUES (?, ?)"
        " ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        [key, value],
    )


def _materialize(con: Any, old: Watermarks, new: Watermarks) -> None:
    """Aggregate each level between its ``old`` and ``new`` watermark (finest first, since
    each level is made from the one before) and record ``new``."""
    for index, level, lo, hi in rollups.to_materialize(old, new):
        partials = (
            PARTIALS_OF_SAMPLES
            if index == 0
            else PARTIALS_OF_PARTIALS.format(source=LEVELS[index - 1].table)
        )
        params = {"w": level.width_ns, "lo": lo, "hi": hi}
        if index == 0:
            params["bad"] = int(Quality.BAD)
        con.execute(
            f"INSERT INTO {level.table} SELECT {partials} GROUP BY tag_id, b ORDER BY tag_id, b",
            params,
        )
        _set_meta(con, _mark_key(level.table), hi)


def _source(parts: list[Piece], *, raw: bool) -> str:
    """The union of ``parts`` as rows (ts, value) for raw aggregates (``raw``), else as
    partial rows (raw samples as one-sample partials). The bounds are ints we computed."""
    selects = []
    for part in parts:
        lo, hi = int(part.start_ns), int(part.end_ns)
        if part.table is None:
            what = "ts, value" if raw else rollups.RAW_AS_PARTIAL
            selects.append(
                f"SELECT {what} FROM samples WHERE tag_id = $tag AND quality <> {int(Quality.BAD)}"
                f" AND ts >= {lo} AND ts < {hi}"
            )
        else:
            selects.append(
                'SELECT bucket_ns AS ts, "min", "max", "sum", "count", first_ts, "first",'
                f' last_ts, "last" FROM {part.table} WHERE tag_id = $tag'
                f" AND bucket_ns >= {lo} AND bucket_ns < {hi}"
            )
    return " UNION ALL ".join(selects)


def _in_transaction(con: Any, work: Any, *args: Any) -> Any:
    con.begin()
    try:
        result = work(con, *args)
        con.commit()
    except BaseException:
        con.rollback()
        raise
    return result


def _append_partials(con: Any, table: str, parts: rollups.Partials) -> None:
    con.register("partials", pa.table(parts))
    try:
        con.execute(f"INSERT INTO {table} SELECT {COLUMN_LIST} FROM partials")
    finally:
        con.unregister("partials")


def _delete_expired(
    con: Any, run: RunCuts, floors: Floors, old: Watermarks, new: Watermarks
) -> dict[str, int]:
    _materialize(con, old, new)
    deleted = dict.fromkeys((table for table, _ in CUT_COLUMNS), 0)
    con.register("cuts", pa.table(cut_rows(run)))
    try:
        for table, statement in delete_statements(run):
            done = con.execute(statement.format(table=table, cuts="cuts")).fetchone()
            deleted[table] += int(done[0])
    finally:
        con.unregister("cuts")
    _set_meta(con, "raw_cutoff_ns", floors.default_ns)
    con.execute("DELETE FROM raw_floors")
    con.register("floors", pa.table({"tag_id": floors.tag_ids, "ns": floors.ns}))
    try:
        con.execute("INSERT INTO raw_floors SELECT tag_id, ns FROM floors")
    finally:
        con.unregister("floors")
    return deleted


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
