"""The server time-series store: PostgreSQL via psycopg 3, written by binary COPY.

Same contract as DuckDBStore: writes are idempotent on (tag_id, ts) with first write wins,
the same queries, checks and errors. The table layout is in pg_schema (time-partitioned with
a primary key (tag_id, ts), or a TimescaleDB hypertable when the extension is installed).

Writes: a batch newer than everything this store knows per tag and in (ts, tag) order is
COPYed straight into ``samples``; if that meets a row some other writer stored, or for any
other batch, it is deduplicated in numpy, COPYed into a temporary staging table and moved
with ``INSERT … ON CONFLICT DO NOTHING``. Every write also upserts the newest sample per tag
into the small ``last_values`` table in the same transaction, so opening a store loads the
last-value cache from a table of one row per tag instead of scanning all samples.

Rollups (see rollups.py, pg_rollups.py): keyless tables materialized behind watermarks;
each write appends the partials of the samples it stored below a watermark (the dedup path
learns them from ``INSERT … RETURNING``) and, when a watermark is due to move, materializes
the new range in a transaction of its own. `apply_retention` materializes what it is about
to delete, drops whole partitions older than the raw cutoff and deletes the rest; later
writes drop samples older than it.
"""

import logging
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
from psycopg import errors as pg_errors
from psycopg import sql

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store import pg_rollups, pg_schema, rollups
from factoryos.store.errors import InvalidBatchError, StoreError
from factoryos.store.lastvalue import LastValueCache
from factoryos.store.pg_copy import (
    HEADER,
    TRAILER,
    by_tag,
    decode,
    decode_samples,
    encode_samples,
    row_dtype,
    split_lanes,
)
from factoryos.store.pg_pool import ReaderPool, connect, describe
from factoryos.store.querycheck import (
    AGGREGATE_NAMES,
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
from factoryos.store.retention import Floors, RetentionPolicy, run_cuts
from factoryos.store.rollups import PARTIAL_COLUMNS, Piece, Watermarks

logger = logging.getLogger(__name__)

PG_AGGREGATES = {
    **{name: f"{name}(value)" for name in ("min", "max", "avg", "sum")},
    "first": "(array_agg(value ORDER BY ts))[1]",
    "last": "(array_agg(value ORDER BY ts DESC))[1]",
    "count": "count(*)",
}
ROLLUP_AGGREGATES = {
    "min": 'min("min")',
    "max": 'max("max")',
    "avg": 'sum("sum") / sum("count")',
    "sum": 'sum("sum")',
    "first": '(array_agg("first" ORDER BY first_ts))[1]',
    "last": '(array_agg("last" ORDER BY last_ts DESC))[1]',
    "count": 'sum("count")::bigint',
}
"""Each aggregate over rollup partials (and raw samples as one-sample partials)."""
WIRE_TYPES = {"int32": ">i4", "int64": ">i8", "float64": ">f8"}
PARTIAL_ROW = row_dtype(tuple((name, WIRE_TYPES[kind]) for name, kind in PARTIAL_COLUMNS))
AGG_WIRE = {name: ">i8" if name == "count" else ">f8" for name in AGGREGATE_NAMES}
WRITERS = 2
"""Writer connections per store: two keep both cores of a small server busy."""
MAX_NEW_PARTITIONS = 1000
"""Partitions one write may create: bounds what a batch with absurd timestamps can do."""
COPY_SAMPLES = "COPY {} (tag_id, ts, value, quality) FROM STDIN (FORMAT BINARY)"
EXPORT_CURSOR = "factoryos_export"
FETCHED_ROW = np.dtype(
    [("tag_id", np.int32), ("ts", np.int64), ("value", np.float64), ("q", np.uint8)]
)
"""One row of an export FETCH, as numpy builds a chunk from psycopg's tuples."""


class _FloorsMovedError(Exception):
    """A write met retention floors newer than the store's: filter the batch again."""


class PostgresStore:
    """Samples in PostgreSQL schema ``schema`` plus the last-value cache.

    ``writers`` writer connections (*lanes*), used under a lock (`write` is synchronous; the
    ingest calls it in a worker thread), and a bounded pool of query connections, so queries
    proceed while ingest writes. Every statement runs with ``statement_timeout_s``.

    A write splits its batch by tag over the lanes, which COPY in parallel, each in its own
    transaction (PostgreSQL inserts one index entry per row in one backend process, so one
    connection leaves a second core idle). Each lane's part is atomic; if one fails, `write`
    raises and parts of other lanes may be stored: writing the batch again stores the rest
    and nothing twice. Lanes own disjoint tags, so they never wait on each other's rows.
    """

    def __init__(
        self,
        url: str,
        *,
        schema: str = "factoryos",
        partition_ns: int | None = None,
        statement_timeout_s: float = 30.0,
        pool_size: int = 4,
        writers: int = WRITERS,
    ) -> None:
        check_positive("writers", writers)
        self.url = url
        self.schema = schema
        self._where = f"{describe(url)} schema {schema}"
        self._timeout_s = statement_timeout_s
        self._write_lock = threading.Lock()
        self._cache_lock = threading.Lock()
        self._closed = False
        self._writers: list[psycopg.Connection[Any] | None] = [None] * writers
        self._lanes = ThreadPoolExecutor(writers, thread_name_prefix=f"pg-writer-{schema}")
        writer = self._writer_connection(0)
        try:
            self.layout = pg_schema.ensure_schema(writer, schema, partition_ns)
            self._partitions = pg_schema.existing_partitions(writer, schema)
            self._floor_state = pg_schema.load_floors(writer, schema)
            writer.commit()
        except psycopg.Error as e:
            writer.close()
            self._lanes.shutdown()
            raise StoreError(f"cannot prepare time-series store {self._where}: {e}") from e
        except BaseException:
            writer.close()
            self._lanes.shutdown()
            raise
        self._pool = ReaderPool(
            url, size=pool_size, statement_timeout_s=statement_timeout_s, wait_s=statement_timeout_s
        )
        try:
            self._cache = self._load_cache()
            self._newest = self._cache.newest_ts()
            self._advance(writer, self._newest)
        except BaseException:
            self._pool.close()
            writer.close()
            self._lanes.shutdown()
            raise
        logger.info(
            "time-series store open at %s (%s, %d tags)",
            self._where,
            self.layout.kind,
            len(self._cache),
        )

    # -- writing ------------------------------------------------------------------------------

    def write(self, batch: SampleBatch) -> int:
        """Store ``batch``; returns how many samples were new (duplicates are ignored)."""
        if len(batch) == 0:
            return 0
        check_batch(batch)
        with self._write_lock:
            self._check_open()
            floors, version = self._floor_state
            batch = _unexpired(batch, floors)
            if len(batch) == 0:
                return 0
            conn = self._writer_connection(0)
            try:
                self._ensure_partitions(conn, batch.ts)
            except psycopg.Error as e:
                _rollback(conn)
                raise StoreError(f"writing {len(batch)} samples to {self._where}: {e}") from e
            parts = [
                (lane, part) for lane, part in split_lanes(batch, len(self._writers)) if len(part)
            ]
            if len(parts) == 1:
                stored = self._write_lane(*parts[0], version)
            else:
                futures = [self._lanes.submit(self._write_lane, *p, version) for p in parts]
                wait(futures)
                stored = sum(f.result() for f in futures)  # raises the first lane's error
            self._newest = max(self._newest, int(batch.ts.max()))
            try:
                self._advance(conn, self._newest)
            except psycopg.Error as e:
                _rollback(conn)
                raise StoreError(f"rolling up in {self._where}: {e}") from e
        return stored

    def _write_lane(self, lane: int, part: SampleBatch, version: int) -> int:
        """Store ``part`` (filtered by floors of ``version``) on writer ``lane``, in one
        transaction; once more if a retention run moved the floors meanwhile."""
        try:
            return self._write_part(lane, part, version)
        except _FloorsMovedError:
            floors, version = self._floor_state
            return self._write_part(lane, _unexpired(part, floors), version)

    def _write_part(self, lane: int, part: SampleBatch, version: int) -> int:
        if len(part) == 0:
            return 0
        conn = self._writer_connection(lane)
        try:
            if self._is_fresh(part) and self._try_append(conn, part, version):
                with self._cache_lock:
                    self._cache.update_fresh(part)
                return len(part)
            unique = part.take(first_of_each_key(part))
            stored = self._insert_missing(conn, unique, version)
            with self._cache_lock:
                self._cache.update(_newest_per_tag(unique))
            return stored
        except psycopg.Error as e:
            _rollback(conn)
            raise StoreError(f"writing {len(part)} samples to {self._where}: {e}") from e

    def _advance(self, conn: psycopg.Connection[Any], newest: int) -> None:
        """Materialize what ``newest`` makes due, unless another writer already has."""
        marks = pg_rollups.read_meta(conn, self.schema).marks
        conn.commit()
        if rollups.advanced(marks, newest, time.time_ns()) == marks:
            return
        marks = pg_rollups.lock_exclusive(conn, self.schema).marks
        pg_rollups.materialize(
            conn, self.schema, marks, rollups.advanced(marks, newest, time.time_ns())
        )
        conn.commit()

    def _is_fresh(self, batch: SampleBatch) -> bool:
        """Strictly increasing in (ts, tag) and newer than everything known for each tag."""
        if not in_key_order(batch):
            return False
        with self._cache_lock:
            return bool(np.all(batch.ts > self._cache.latest_ts(batch.tag_ids)))

    def _try_append(self, conn: psycopg.Connection[Any], batch: SampleBatch, version: int) -> bool:
        """COPY straight into samples; False (nothing written) if a row was already stored."""
        try:
            marks = self._lock_shared(conn, version)
            with conn.cursor() as cur:
                _copy(cur, self._table("samples"), by_tag(batch))
                self._append_late(cur, batch, marks)
                self._upsert_last(cur, _newest_per_tag(batch))
            conn.commit()
        except pg_errors.UniqueViolation:
            conn.rollback()  # another writer stored some of these: take the dedup path
            return False
        return True

    def _insert_missing(
        self, conn: psycopg.Connection[Any], unique: SampleBatch, version: int
    ) -> int:
        marks = self._lock_shared(conn, version)
        with conn.cursor() as cur:
            _copy(cur, sql.Identifier("incoming"), by_tag(unique))
            insert = sql.SQL(
                "COPY (INSERT INTO {} SELECT tag_id, ts, value, quality FROM incoming"
                " ON CONFLICT (tag_id, ts) DO NOTHING RETURNING tag_id, ts, value, quality)"
                " TO STDOUT (FORMAT BINARY)"
            ).format(self._table("samples"))
            with cur.copy(insert) as copy:
                stored = decode_samples(b"".join(bytes(chunk) for chunk in copy))
            self._append_late(cur, stored, marks)
            self._upsert_last(cur, _newest_per_tag(unique))
        conn.commit()
        return len(stored)

    def _lock_shared(self, conn: psycopg.Connection[Any], version: int) -> Watermarks:
        """Take the rollup lock shared; if a retention run (of any writer) has moved the
        floors since ``version`` (what the samples were filtered by), reload them and raise
        _FloorsMovedError."""
        meta = pg_rollups.lock_shared(conn, self.schema)
        if meta.retention_version != version:
            self._floor_state = pg_schema.load_floors(conn, self.schema)
            conn.rollback()
            raise _FloorsMovedError
        return meta.marks

    def _append_late(
        self, cur: psycopg.Cursor[Any], stored: SampleBatch, marks: Watermarks
    ) -> None:
        """Append the partials of the samples of ``stored`` below a watermark."""
        for level, parts in rollups.late_partials(stored, marks):
            statement = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
                self._table(level.table)
            )
            with cur.copy(statement) as copy:
                copy.write(_encode_partials(parts))

    def _upsert_last(self, cur: psycopg.Cursor[Any], newest: SampleBatch) -> None:
        _copy(cur, sql.Identifier("incoming_last"), newest)
        cur.execute(
            sql.SQL(
                "INSERT INTO {} AS lv SELECT tag_id, ts, value, quality FROM incoming_last"
                " ON CONFLICT (tag_id) DO UPDATE SET ts = excluded.ts, value = excluded.value,"
                " quality = excluded.quality WHERE excluded.ts > lv.ts"
            ).format(self._table("last_values"))
        )

    def _ensure_partitions(self, conn: psycopg.Connection[Any], ts: npt.NDArray[np.int64]) -> None:
        """Create the partitions ``ts`` falls in, and the one after the newest (ahead)."""
        if self.layout.kind != "partitioned":
            return
        width = self.layout.partition_ns
        needed = np.unique(ts // width)
        wanted = {int(i) for i in needed}
        if (int(needed[-1]) + 1) * width <= pg_schema.INT64_MAX:
            wanted.add(int(needed[-1]) + 1)
        missing = sorted(wanted - self._partitions)
        if not missing:
            return
        if len(missing) > MAX_NEW_PARTITIONS:
            raise InvalidBatchError(
                f"ts: the batch spans {len(missing)} new {width} ns partitions;"
                f" at most {MAX_NEW_PARTITIONS} per write; nothing written"
            )
        pg_schema.create_partitions(conn, self.schema, missing, width)
        self._partitions |= set(missing)

    # -- queries ------------------------------------------------------------------------------

    def raw(self, tag_id: int, start_ns: int, end_ns: int, *, limit: int = 100_000) -> SampleBatch:
        """Samples of ``tag_id`` with ts in [start_ns, end_ns), oldest first, at most ``limit``."""
        check_tag(tag_id)
        check_range(start_ns, end_ns)
        check_positive("limit", limit)
        query = sql.SQL(
            "SELECT tag_id, ts, value, quality FROM {} WHERE tag_id = {} AND ts >= {} AND ts < {}"
            " ORDER BY ts LIMIT {}"
        ).format(self._table("samples"), *map(sql.Literal, (tag_id, start_ns, end_ns, limit)))
        return decode_samples(self._copy_out(query))

    def iter_raw(
        self, tag_ids: Sequence[int], start_ns: int, end_ns: int, *, chunk_rows: int = 100_000
    ) -> Iterator[SampleBatch]:
        """Samples of many tags over [start_ns, end_ns), ordered by (ts, tag_id), in chunks of
        at most ``chunk_rows``: for exports, which must never hold a whole range in memory.

        Bad parameters raise here, before iterating. The rows come through a server-side
        cursor, one FETCH per chunk: each FETCH is its own statement under the statement
        timeout, so a slow reader (a long download) is not cancelled midway. The iterator
        holds one query connection of the pool until it is exhausted or closed.
        """
        for tag_id in tag_ids:
            check_tag(tag_id)
        check_range(start_ns, end_ns)
        check_positive("chunk_rows", chunk_rows)
        self._check_open()
        query = sql.SQL(
            "SELECT tag_id, ts, value, quality FROM {} WHERE tag_id = ANY(%s::integer[])"
            " AND ts >= %s AND ts < %s ORDER BY ts, tag_id"
        ).format(self._table("samples"))
        return self._stream(query, ([int(t) for t in tag_ids], start_ns, end_ns), chunk_rows)

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
        every = sql.Literal(every_ns)
        plan = rollups.choose(start_ns, end_ns, every_ns)
        sqls = PG_AGGREGATES if plan is None else ROLLUP_AGGREGATES
        exprs = sql.SQL(", ").join(
            sql.SQL("{} AS {}").format(sql.SQL(sqls[n]), sql.Identifier(n)) for n in names
        )
        marks = rollups.NO_MARKS if plan is None else self._read_marks()
        source = self._source(rollups.pieces(start_ns, end_ns, plan, marks), tag_id, plan is None)
        query = sql.SQL(
            "SELECT ts - ((ts % {every} + {every}) % {every}) AS bucket, {exprs}"
            " FROM ({source}) AS p GROUP BY bucket ORDER BY bucket"
        ).format(every=every, exprs=exprs, source=source)
        fields = (("bucket", ">i8"), *((n, AGG_WIRE[n]) for n in names))
        rows = decode(self._copy_out(query), fields)
        native = {n: np.int64 if AGG_WIRE[n] == ">i8" else np.float64 for n in names}
        return Aggregates(
            rows["bucket"].astype(np.int64), {n: rows[n].astype(native[n]) for n in names}
        )

    # -- retention ----------------------------------------------------------------------------

    def apply_retention(self, policy: RetentionPolicy, now_ns: int) -> dict[str, int]:
        """Delete what ``policy`` expires at ``now_ns``, per tag class (whole partitions
        dropped where they lie before every tag's raw cutoff); returns the rows deleted per
        table (a dropped partition counts its rows). What is about to be deleted is rolled
        up first; later writes, by any writer of the schema, drop samples below the raw
        cutoff that applied to their tag."""
        run = run_cuts(policy, now_ns)
        with self._write_lock:
            self._check_open()
            conn = self._writer_connection(0)
            try:
                marks = pg_rollups.lock_exclusive(conn, self.schema).marks
                floors, _ = pg_schema.load_floors(conn, self.schema)
                floors = floors.after(run)
                pg_rollups.materialize(
                    conn, self.schema, marks, rollups.forced(marks, run.widest())
                )
                deleted, dropped, version = pg_schema.delete_expired(
                    conn, self.schema, self.layout, run, floors
                )
                conn.commit()
                self._floor_state = floors, version
            except psycopg.Error as e:
                _rollback(conn)
                raise StoreError(f"retention on {self._where} failed: {e}") from e
            self._partitions -= dropped
        logger.info("retention on %s deleted %s", self._where, deleted)
        return deleted

    def last(self, tag_ids: npt.ArrayLike) -> SampleBatch:
        """The newest sample of each tag, in request order; tags without samples are omitted."""
        with self._cache_lock:
            self._check_open()
            return self._cache.get(tag_ids)

    def count(self, tag_id: int | None = None) -> int:
        """How many samples are stored, for one tag or all."""
        query = sql.SQL("SELECT count(*) FROM {}").format(self._table("samples"))
        if tag_id is not None:
            check_tag(tag_id)
            query = sql.SQL("{} WHERE tag_id = {}").format(query, sql.Literal(tag_id))
        rows = decode(self._copy_out(query), (("n", ">i8"),))
        return int(rows["n"][0])

    def close(self) -> None:
        """Close the connections; later calls raise StoreError."""
        with self._write_lock, self._cache_lock:
            if self._closed:
                return
            self._closed = True
            for writer in self._writers:
                if writer is not None:
                    writer.close()
            self._pool.close()
            self._lanes.shutdown()
        logger.info("time-series store at %s closed", self._where)

    def __enter__(self) -> "PostgresStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- plumbing -----------------------------------------------------------------------------

    def _source(self, parts: list[Piece], tag_id: int, raw: bool) -> sql.Composable:
        """The union of ``parts`` as rows (ts, value) for raw aggregates (``raw``), else as
        partial rows (raw samples as one-sample partials)."""
        selects = []
        tag, bad = sql.Literal(tag_id), sql.Literal(int(Quality.BAD))
        for part in parts:
            lo, hi = sql.Literal(part.start_ns), sql.Literal(part.end_ns)
            if part.table is None:
                what = "ts, value" if raw else rollups.RAW_AS_PARTIAL
                query = sql.SQL(
                    "SELECT " + what + " FROM {} WHERE tag_id = {} AND quality <> {}"
                    " AND ts >= {} AND ts < {}"
                ).format(self._table("samples"), tag, bad, lo, hi)
            else:
                query = sql.SQL(
                    'SELECT bucket_ns AS ts, "min", "max", "sum", "count", first_ts, "first",'
                    ' last_ts, "last" FROM {} WHERE tag_id = {} AND bucket_ns >= {}'
                    " AND bucket_ns < {}"
                ).format(self._table(part.table), tag, lo, hi)
            selects.append(query)
        return sql.SQL(" UNION ALL ").join(selects)

    def _table(self, name: str) -> sql.Identifier:
        return sql.Identifier(self.schema, name)

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError(f"time-series store {self._where} is closed")

    def _writer_connection(self, lane: int) -> psycopg.Connection[Any]:
        """Writer ``lane``'s connection, reconnected if it broke (e.g. the server restarted)."""
        writer = self._writers[lane]
        if writer is not None and not (writer.broken or writer.closed):
            return writer
        if writer is not None:
            logger.warning("writer %d to %s was lost; reconnecting", lane, self._where)
            writer.close()
        conn = connect(self.url, statement_timeout_s=self._timeout_s, autocommit=False)
        try:
            for name in ("incoming", "incoming_last"):
                conn.execute(
                    sql.SQL(
                        "CREATE TEMP TABLE {} (" + pg_schema.COLUMNS + ") ON COMMIT DELETE ROWS"
                    ).format(sql.Identifier(name))
                )
            conn.commit()
        except psycopg.Error as e:
            conn.close()
            raise StoreError(f"cannot prepare the writer of {self._where}: {e}") from e
        self._writers[lane] = conn
        return conn

    def _read_marks(self) -> Watermarks:
        """The watermarks now: other processes writing the schema move them too."""
        self._check_open()
        with self._pool.connection() as conn:
            try:
                return pg_rollups.read_meta(conn, self.schema).marks
            except psycopg.Error as e:
                raise StoreError(f"query on {self._where} failed: {e}") from e

    def _copy_out(self, query: sql.Composable) -> bytes:
        """The result of ``query`` as a binary COPY stream, on a pooled connection."""
        self._check_open()
        statement = sql.SQL("COPY ({}) TO STDOUT (FORMAT BINARY)").format(query)
        with self._pool.connection() as conn:
            try:
                with conn.cursor() as cur, cur.copy(statement) as copy:
                    return b"".join(bytes(chunk) for chunk in copy)
            except psycopg.Error as e:
                raise StoreError(f"query on {self._where} failed: {e}") from e

    def _stream(
        self, query: sql.Composed, params: tuple[object, ...], chunk_rows: int
    ) -> Iterator[SampleBatch]:
        with self._pool.connection() as conn:
            try:  # a server-side cursor lives in a transaction; closing it early rolls back
                with conn.transaction(), conn.cursor(name=EXPORT_CURSOR, binary=True) as cur:
                    cur.execute(query, params)
                    while rows := cur.fetchmany(chunk_rows):
                        chunk = np.array(rows, dtype=FETCHED_ROW)
                        yield SampleBatch(
                            chunk["tag_id"].copy(),
                            chunk["ts"].copy(),
                            chunk["value"].copy(),
                            chunk["q"].copy(),
                        )
            except psycopg.Error as e:
                raise StoreError(f"export from {self._where} failed: {e}") from e

    def _load_cache(self) -> LastValueCache:
        query = sql.SQL("SELECT tag_id, ts, value, quality FROM {}").format(
            self._table("last_values")
        )
        cache = LastValueCache()
        cache.update(decode_samples(self._copy_out(query)))
        return cache


def _copy(cur: psycopg.Cursor[Any], table: sql.Composable, batch: SampleBatch) -> None:
    with cur.copy(sql.SQL(COPY_SAMPLES).format(table)) as copy:
        copy.write(encode_samples(batch))


def _encode_partials(parts: dict[str, npt.NDArray[np.generic]]) -> bytes:
    """Rollup partials as one binary COPY stream in PARTIAL_COLUMNS order."""
    rows = np.empty(len(parts["tag_id"]), dtype=PARTIAL_ROW)
    rows["_n"] = len(PARTIAL_COLUMNS)
    for name, _ in PARTIAL_COLUMNS:
        rows[f"_len_{name}"] = PARTIAL_ROW[name].itemsize
        rows[name] = parts[name]
    return HEADER + rows.tobytes() + TRAILER


def _unexpired(batch: SampleBatch, floors: Floors) -> SampleBatch:
    """``batch`` without the samples below their tag's retention floor."""
    if floors.empty:
        return batch
    keep = batch.ts >= floors.of(batch.tag_ids)
    if bool(keep.all()):
        return batch
    logger.debug("dropping %d samples older than the retention cutoff", int((~keep).sum()))
    return batch.take(keep)


def _newest_per_tag(batch: SampleBatch) -> SampleBatch:
    """The newest sample of each tag (no duplicate (tag, ts) in ``batch``)."""
    order = np.lexsort((batch.ts, batch.tag_ids))
    ids = batch.tag_ids[order]
    last = np.ones(len(order), dtype=np.bool_)
    last[:-1] = ids[1:] != ids[:-1]
    return batch.take(order[last])


def _rollback(conn: psycopg.Connection[Any]) -> None:
    try:
        conn.rollback()
    except psycopg.Error:
        logger.warning("rollback failed; the writer connection will be reopened")
