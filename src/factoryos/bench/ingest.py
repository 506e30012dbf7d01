"""``factoryos bench ingest``: points per second through the real ingest path.

The real path is InProcessBus.publish → Ingestor → DuckDBStore.write on a fresh on-disk store,
timed from the first publish until everything is stored. Next to it, the physical limit:
the same data appended as Arrow tables straight into a fresh DuckDB file with the same table,
in chunks of the mean size the ingest worker wrote.
"""

import asyncio
import contextlib
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.progress import Progress, TaskID
from rich.table import Table

from factoryos.bench.errors import BenchError
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.duckdb_store import SCHEMA, DuckDBStore
from factoryos.store.ingest import Ingestor

START_NS = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
POLL_PERIOD_NS = 100_000_000  # every tag is polled at 10 Hz
MAX_ROWS = 500_000


def make_samples(points: int, tags: int) -> SampleBatch:
    """``points`` samples of ``tags`` tags polled in turn, in (ts, tag) order, all good."""
    index = np.arange(points, dtype=np.int64)
    tag_ids = (index % tags).astype(np.int32)
    ts = START_NS + (index // tags) * POLL_PERIOD_NS
    values = np.sin(index * 1e-3) * 100.0
    return SampleBatch.build(tag_ids, ts, values)


def split(samples: SampleBatch, rows: int) -> list[SampleBatch]:
    """Consecutive slices (views, no copies) of at most ``rows`` samples."""
    return [
        SampleBatch(
            samples.tag_ids[i : i + rows],
            samples.ts[i : i + rows],
            samples.values[i : i + rows],
            samples.quality[i : i + rows],
        )
        for i in range(0, len(samples), rows)
    ]


def run_ingest_bench(
    points: int = 10_000_000,
    tags: int = 1000,
    batch_rows: int = 1000,
    *,
    rounds: int = 3,
    max_rows: int = MAX_ROWS,
    progress: bool = False,
) -> dict[str, float]:
    """Run both measurements; returns points_per_s, raw_points_per_s, ratio, peak_rss_mb.

    Each published batch is one driver poll of ``batch_rows`` samples. The two paths run
    alternately ``rounds`` times, each on a fresh file, and the median time of each counts,
    so a burst of load on a shared machine skews neither side alone. ``progress`` shows a
    Rich progress bar on stderr.
    """
    for name, value in (
        ("points", points), ("tags", tags), ("batch_rows", batch_rows), ("rounds", rounds)
    ):  # fmt: skip
        if value < 1:
            raise BenchError(f"{name} must be >= 1, got {value}")
    samples = make_samples(points, tags)
    batches = split(samples, batch_rows)
    ingest_times: list[float] = []
    raw_times: list[float] = []
    with (
        tempfile.TemporaryDirectory(prefix="factoryos-bench-") as tmp,
        progress_bar(progress) as bar,
    ):
        for i in range(rounds):
            ingest_s, write_rows = asyncio.run(
                time_ingest(batches, DuckDBStore(Path(tmp) / f"ingest-{i}.duckdb"), max_rows, bar)
            )
            chunks = split(samples, write_rows)
            ingest_times.append(ingest_s)
            raw_times.append(_time_raw_append(chunks, Path(tmp) / f"raw-{i}.duckdb", bar))
    points_per_s = points / statistics.median(ingest_times)
    raw_points_per_s = points / statistics.median(raw_times)
    return {
        "points_per_s": points_per_s,
        "raw_points_per_s": raw_points_per_s,
        "ratio": points_per_s / raw_points_per_s,
        "peak_rss_mb": peak_rss_mb(),
    }


async def time_ingest(
    batches: list[SampleBatch], store: TimeSeriesStore, max_rows: int, bar: Progress | None
) -> tuple[float, int]:
    """Seconds from the first publish until all of ``batches`` is stored in the (fresh)
    ``store`` through the real path, and the mean rows per write. Closes the store."""
    total = sum(len(b) for b in batches)
    with store:
        bus = InProcessBus()
        ingestor = Ingestor(store, bus, max_rows=max_rows)
        stop = asyncio.Event()
        worker = asyncio.create_task(ingestor.run(stop))
        shown = asyncio.create_task(_show_ingest(ingestor, total, bar))
        started = time.perf_counter()
        for batch in batches:
            await bus.publish(batch)
        await ingestor.flush()
        elapsed = time.perf_counter() - started
        stop.set()
        await worker
        shown.cancel()
        stored = store.count()
    if stored != total:
        raise BenchError(f"ingest stored {stored} of {total} samples")
    return elapsed, max(1, round(total / ingestor.stats.writes))


async def _show_ingest(ingestor: Ingestor, total: int, bar: Progress | None) -> None:
    if bar is None:
        return
    task = bar.add_task("ingest path", total=total)
    while True:
        bar.update(task, completed=ingestor.stats.rows_stored)
        await asyncio.sleep(0.1)


def _time_raw_append(chunks: list[SampleBatch], path: Path, bar: Progress | None) -> float:
    task: TaskID | None = None if bar is None else bar.add_task("raw append", total=len(chunks))
    tables = [
        pa.table({"tag_id": c.tag_ids, "ts": c.ts, "value": c.values, "quality": c.quality})
        for c in chunks
    ]
    con = duckdb.connect(str(path))
    try:
        con.execute(f"CREATE TABLE samples ({', '.join(f'{n} {k}' for n, k in SCHEMA)})")
        started = time.perf_counter()
        for table in tables:
            con.register("chunk", table)
            con.execute("INSERT INTO samples SELECT * FROM chunk")
            con.unregister("chunk")
            if bar is not None and task is not None:
                bar.advance(task)
        return time.perf_counter() - started
    finally:
        con.close()


@contextlib.contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A Rich progress bar on stderr for a benchmark's steps, or None when disabled."""
    if not enabled:
        yield None
        return
    with Progress(console=Console(stderr=True)) as bar:
        yield bar


def peak_rss_mb() -> float:
    """This process's peak resident set size in MiB."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10  # bytes on macOS, KiB else


def format_ingest_table(result: dict[str, float]) -> Table:
    """The result of `run_ingest_bench` as a Rich table."""
    table = Table(title="factoryos bench ingest")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("ingest path (bus → ingest → DuckDB)", f"{result['points_per_s']:,.0f} points/s")
    table.add_row("raw DuckDB Arrow append", f"{result['raw_points_per_s']:,.0f} points/s")
    table.add_row("ratio", f"{result['ratio']:.2f}")
    table.add_row("peak RSS", f"{result['peak_rss_mb']:,.0f} MB")
    return table
