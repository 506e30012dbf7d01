"""``factoryos bench ingest --backend postgres``: points per second into PostgreSQL.

Three measurements on the same generated data, each in a fresh schema dropped afterwards:

- the real path: InProcessBus.publish → Ingestor → PostgresStore.write, timed from the first
  publish until everything is stored;
- the baseline: one ``INSERT … ON CONFLICT DO NOTHING`` per row in one transaction, run on
  the first ``insert_sample`` points only and extrapolated as a rate (at a few thousand rows
  per second, 10 M rows would take hours);
- the limit: the same data pre-encoded as binary COPY streams in chunks of the mean size the
  ingest wrote, laid out as the store does (split by tag over its writer connections, sorted
  by (tag, ts)) and COPYed in parallel straight into an identical partitioned table
  (encoding not timed).
"""

import asyncio
import contextlib
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from rich.progress import Progress
from rich.table import Table

from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import make_samples, peak_rss_mb, progress_bar, split, time_ingest
from factoryos.model.samples import SampleBatch
from factoryos.store import pg_schema
from factoryos.store.pg_copy import by_tag, encode_samples, split_lanes
from factoryos.store.postgres_store import WRITERS, PostgresStore

MAX_ROWS = 500_000
INSERT_SAMPLE = 20_000


def run_postgres_ingest_bench(
    points: int,
    url: str,
    tags: int = 1000,
    batch_rows: int = 1000,
    *,
    max_rows: int = MAX_ROWS,
    insert_sample: int = INSERT_SAMPLE,
    progress: bool = False,
) -> dict[str, float]:
    """Run the three measurements; returns points_per_s, insert_points_per_s,
    copy_points_per_s, ratio_to_copy (real path / COPY), peak_rss_mb."""
    for name, value in (
        ("points", points), ("tags", tags), ("batch_rows", batch_rows),
        ("max_rows", max_rows), ("insert_sample", insert_sample),
    ):  # fmt: skip
        if value < 1:
            raise BenchError(f"{name} must be >= 1, got {value}")
    samples = make_samples(points, tags)
    run = uuid.uuid4().hex[:8]
    schemas = [f"bench_{kind}_{run}" for kind in ("ingest", "copy", "insert")]
    try:
        with progress_bar(progress) as bar:
            ingest_s, write_rows = asyncio.run(
                time_ingest(
                    split(samples, batch_rows),
                    PostgresStore(url, schema=schemas[0], statement_timeout_s=300),
                    max_rows,
                    bar,
                )
            )
            copy_s = _time_copy(split(samples, write_rows), url, schemas[1], bar)
            sample = samples.take(np.arange(min(insert_sample, points)))
            insert_s = _time_row_inserts(sample, url, schemas[2], bar)
    finally:
        _drop(url, schemas)
    return {
        "points_per_s": points / ingest_s,
        "insert_points_per_s": len(sample) / insert_s,
        "copy_points_per_s": points / copy_s,
        "ratio_to_copy": copy_s / ingest_s,
        "peak_rss_mb": peak_rss_mb(),
    }


def _time_copy(chunks: list[SampleBatch], url: str, schema: str, bar: Progress | None) -> float:
    """COPY pre-encoded chunks into a fresh partitioned table the way the store lays them
    out (each chunk split by tag over WRITERS connections, sorted by (tag, ts)), the lanes in
    parallel, one commit per chunk and lane: the same I/O with nothing else around it."""
    task = None if bar is None else bar.add_task("raw binary COPY", total=len(chunks))
    PostgresStore(url, schema=schema).close()  # creates the same tables
    lanes = [
        [encode_samples(by_tag(part)) for _, part in split_lanes(chunk, WRITERS)]
        for chunk in chunks
    ]
    statement = sql.SQL("COPY {} FROM STDIN (FORMAT BINARY)").format(
        sql.Identifier(schema, "samples")
    )
    conns = [_connect(url) for _ in range(WRITERS)]
    try:
        width = pg_schema.DAY_NS
        days = {int(d) for c in chunks for d in np.unique(c.ts // width)}
        pg_schema.create_partitions(conns[0], schema, sorted(days), width)

        def copy(conn: psycopg.Connection[Any], data: bytes) -> None:
            with conn.cursor() as cur, cur.copy(statement) as out:
                out.write(data)
            conn.commit()

        with ThreadPoolExecutor(WRITERS) as pool:
            started = time.perf_counter()
            for parts in lanes:
                wait(
                    [pool.submit(copy, conn, data) for conn, data in zip(conns, parts, strict=True)]
                )
                if bar is not None and task is not None:
                    bar.advance(task)
            return time.perf_counter() - started
    finally:
        for conn in conns:
            conn.close()


def _time_row_inserts(sample: SampleBatch, url: str, schema: str, bar: Progress | None) -> float:
    """One INSERT per row (the naive way), in one transaction."""
    PostgresStore(url, schema=schema).close()
    task = None if bar is None else bar.add_task("row-by-row INSERT", total=len(sample))
    rows = list(
        zip(
            sample.tag_ids.tolist(),
            sample.ts.tolist(),
            sample.values.tolist(),
            sample.quality.tolist(),
            strict=True,
        )
    )
    with _connect(url) as conn:
        width = pg_schema.DAY_NS
        days = sorted({int(d) for d in np.unique(sample.ts // width)})
        pg_schema.create_partitions(conn, schema, days, width)
        statement = sql.SQL(
            "INSERT INTO {} VALUES (%s, %s, %s, %s) ON CONFLICT (tag_id, ts) DO NOTHING"
        ).format(sql.Identifier(schema, "samples"))
        started = time.perf_counter()
        with conn.cursor() as cur:
            for i, row in enumerate(rows):
                cur.execute(statement, row)
                if bar is not None and task is not None and i % 1000 == 999:
                    bar.advance(task, 1000)
        conn.commit()
        return time.perf_counter() - started


def _connect(url: str) -> psycopg.Connection[Any]:
    try:
        return psycopg.connect(url, connect_timeout=5)
    except psycopg.Error as e:
        raise BenchError(f"cannot connect to PostgreSQL for the benchmark: {e}") from e


def _drop(url: str, schemas: list[str]) -> None:
    with contextlib.suppress(psycopg.Error), psycopg.connect(url, autocommit=True) as conn:
        for schema in schemas:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def format_postgres_ingest_table(result: dict[str, float]) -> Table:
    """The result of `run_postgres_ingest_bench` as a Rich table."""
    table = Table(title="factoryos bench ingest --backend postgres")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row(
        "ingest path (bus → ingest → PostgreSQL)", f"{result['points_per_s']:,.0f} points/s"
    )
    table.add_row("row-by-row INSERT (sample)", f"{result['insert_points_per_s']:,.0f} points/s")
    table.add_row("raw binary COPY (the limit)", f"{result['copy_points_per_s']:,.0f} points/s")
    table.add_row("ratio to COPY", f"{result['ratio_to_copy']:.2f}")
    table.add_row("peak RSS", f"{result['peak_rss_mb']:,.0f} MB")
    return table
