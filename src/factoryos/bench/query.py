"""``factoryos bench query``: query latency p50/p99 of a store holding ``points`` samples.

The data, generated in (ts, tag) order and loaded through ``TimeSeriesStore.write`` in
``LOAD_ROWS`` batches into a fresh store (a DuckDB file in a temporary directory, or a
unique PostgreSQL schema dropped afterwards), spans the 30 days before ``END_NS``:

- ``LAST_TAGS`` (100,000) tags polled in turn over the 30 days, as many samples each as the
  budget leaves (about 900 at 100 M points), so each has a recent value;
- ``HISTORY_TAGS`` further tags with 1 s data over the last ``history_s`` seconds (30 days,
  2,592,000 samples each, when ``points`` is large enough).

Three queries, each timed alone (``time.perf_counter_ns`` around the call) ``repeats`` times
after ``WARMUP`` untimed calls, each call with other arguments so no cache answers a repeat:
``last`` of the 100,000 tags in a fresh random order; ``aggregate`` of one random history
tag over a random 1-day window in 1-minute buckets; the same over a 30-day window ending at
a random second of the last day, in 1-hour buckets (where the stores keep rollups).
"""

import contextlib
import logging
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from rich.progress import Progress
from rich.table import Table

from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import peak_rss_mb, progress_bar
from factoryos.model.samples import SampleBatch
from factoryos.store.duckdb_store import DuckDBStore

if TYPE_CHECKING:
    from factoryos.store.backend import TimeSeriesStore

logger = logging.getLogger(__name__)

S = 1_000_000_000
MINUTE, HOUR, DAY = 60 * S, 3600 * S, 86_400 * S
SPAN_NS = 30 * DAY
END_NS = 1_767_225_600 * S  # 2026-01-01T00:00:00Z: the data covers the 30 days before
START_NS = END_NS - SPAN_NS
LAST_TAGS = 100_000
HISTORY_TAGS = 4
HISTORY_FIRST_ID = LAST_TAGS  # history tags follow the 100,000 polled ones
MIN_POINTS = 2 * LAST_TAGS
LOAD_ROWS = 1_000_000
WARMUP = 5
AGGS = ("min", "max", "avg")
DEFAULT_URL = "postgresql://postgres@127.0.0.1:5432/test"
WRITE_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class Layout:
    """How ``points`` samples split between the polled tags and the 1 s history tags."""

    points: int
    history_s: int
    """Seconds of 1 s data per history tag, ending at END_NS."""
    background: int
    """Samples of the LAST_TAGS polled tags, sample i at START_NS + i * step_ns."""
    step_ns: int

    @property
    def history_start_ns(self) -> int:
        return END_NS - self.history_s * S


def plan_layout(points: int) -> Layout:
    """Up to 30 days of 1 s data per history tag, at most half of what the 100k tags leave."""
    if points < MIN_POINTS:
        raise BenchError(f"points must be >= {MIN_POINTS:,} (two per polled tag), got {points:,}")
    history_s = min(SPAN_NS // S, (points - LAST_TAGS) // (2 * HISTORY_TAGS))
    background = points - HISTORY_TAGS * history_s
    return Layout(points, history_s, background, SPAN_NS // background)


def iter_chunks(layout: Layout, rows: int = LOAD_ROWS) -> Iterator[SampleBatch]:
    """All samples of ``layout`` in (ts, tag) order, in time windows of about ``rows``."""
    windows = -(-layout.points // rows)
    edges = START_NS + (np.arange(windows + 1, dtype=np.int64) * SPAN_NS) // windows
    for lo, hi in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        chunk = SampleBatch.concat([_background(layout, lo, hi), _history(layout, lo, hi)])
        yield chunk.take(np.lexsort((chunk.tag_ids, chunk.ts)))


def _background(layout: Layout, lo: int, hi: int) -> SampleBatch:
    """The polled tags' samples with ts in [lo, hi): tag i % LAST_TAGS, one every step_ns."""
    first, stop = (min(layout.background, -(-(t - START_NS) // layout.step_ns)) for t in (lo, hi))
    index = np.arange(first, stop, dtype=np.int64)
    ts = START_NS + index * layout.step_ns
    return SampleBatch.build(index % LAST_TAGS, ts, np.sin(index * 1e-3) * 100.0)


def _history(layout: Layout, lo: int, hi: int) -> SampleBatch:
    """The history tags' 1 s samples with ts in [lo, hi)."""
    begin = max(lo, layout.history_start_ns)
    if begin >= hi:
        return SampleBatch.empty()
    seconds = np.arange(-(-begin // S), -(-hi // S), dtype=np.int64)
    ts = np.tile(seconds * S, HISTORY_TAGS)
    tags = np.repeat(np.arange(HISTORY_TAGS) + HISTORY_FIRST_ID, len(seconds))
    values = 50.0 + 10.0 * np.sin(seconds * (2 * np.pi / 3600))
    return SampleBatch.build(tags, ts, np.tile(values, HISTORY_TAGS))


def run_query_bench(
    backend: str,
    *,
    points: int = 100_000_000,
    url: str = DEFAULT_URL,
    repeats: int = 200,
    progress: bool = False,
) -> dict[str, float]:
    """Load ``points`` samples into a fresh ``backend`` store (duckdb or postgres at ``url``)
    and time the three queries; returns last_100k_*, day_1m_*, month_1h_* (p50_ms, p99_ms),
    points, load_s (seconds inside write calls) and peak_rss_mb (this process)."""
    if backend not in ("duckdb", "postgres"):
        raise BenchError(f"backend must be duckdb or postgres, got {backend!r}")
    if repeats < 1:
        raise BenchError(f"repeats must be >= 1, got {repeats}")
    layout = plan_layout(points)
    with progress_bar(progress) as bar, _fresh_store(backend, url) as store:
        load_s = _load(store, layout, bar)
        figures = _measure(store, layout, repeats, bar)
    return {**figures, "points": float(points), "load_s": load_s, "peak_rss_mb": peak_rss_mb()}


@contextlib.contextmanager
def _fresh_store(backend: str, url: str) -> Iterator["TimeSeriesStore"]:
    if backend == "duckdb":
        with (
            tempfile.TemporaryDirectory(prefix="factoryos-bench-") as tmp,
            DuckDBStore(Path(tmp) / "query.duckdb") as store,
        ):
            yield store
        return
    from factoryos.store.postgres_store import PostgresStore

    schema = f"bench_query_{uuid.uuid4().hex[:8]}"
    try:
        with PostgresStore(url, schema=schema, statement_timeout_s=WRITE_TIMEOUT_S) as pg:
            yield pg
    finally:
        _drop_schema(url, schema)


def _drop_schema(url: str, schema: str) -> None:
    """Best effort: a failure here must not hide the benchmark's own error, so it is logged."""
    import psycopg
    from psycopg import sql

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=5) as conn:
            conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
    except psycopg.Error as e:
        logger.warning("could not drop benchmark schema %s: %s", schema, e)


def _load(store: "TimeSeriesStore", layout: Layout, bar: Progress | None) -> float:
    """Write every chunk; returns the seconds spent inside ``write`` (generation excluded)."""
    task = None if bar is None else bar.add_task("load", total=layout.points)
    spent = 0
    for chunk in iter_chunks(layout):
        started = time.perf_counter_ns()
        stored = store.write(chunk)
        spent += time.perf_counter_ns() - started
        if stored != len(chunk):
            raise BenchError(f"the store kept {stored} of {len(chunk)} new samples")
        if bar is not None and task is not None:
            bar.advance(task, len(chunk))
    return spent / 1e9


def _measure(
    store: "TimeSeriesStore", layout: Layout, repeats: int, bar: Progress | None
) -> dict[str, float]:
    rng = np.random.default_rng(20260101)
    queries: dict[str, tuple[str, Callable[[], Callable[[], int]]]] = {
        "last_100k": ("last value × 100,000 tags", lambda: _last_call(store, rng)),
        "day_1m": ("1 tag, 1 day → 1 min", lambda: _day_call(store, layout, rng)),
        "month_1h": ("1 tag, 30 days → 1 h", lambda: _month_call(store, layout, rng)),
    }
    figures: dict[str, float] = {}
    for key, (label, make_call) in queries.items():
        task = None if bar is None else bar.add_task(label, total=WARMUP + repeats)
        times = np.empty(repeats, dtype=np.int64)
        for i in range(-WARMUP, repeats):
            elapsed = _timed(make_call())
            if i >= 0:
                times[i] = elapsed
            if bar is not None and task is not None:
                bar.advance(task)
        p50, p99 = latencies(times)
        figures |= {f"{key}_p50_ms": p50, f"{key}_p99_ms": p99}
    return figures


def _timed(call: Callable[[], int]) -> int:
    """Nanoseconds ``call`` took; it returns how many rows it got, which must not be 0."""
    started = time.perf_counter_ns()
    rows = call()
    elapsed = time.perf_counter_ns() - started
    if rows == 0:
        raise BenchError("a benchmark query returned nothing; the loaded data is wrong")
    return elapsed


def _last_call(store: "TimeSeriesStore", rng: np.random.Generator) -> Callable[[], int]:
    tag_ids = rng.permutation(LAST_TAGS).astype(np.int32)
    return lambda: len(store.last(tag_ids))


def _day_call(
    store: "TimeSeriesStore", layout: Layout, rng: np.random.Generator
) -> Callable[[], int]:
    """One history tag over a day starting at a random second where it has data."""
    tag = _history_tag(rng)
    latest = END_NS - DAY
    start = latest - int(rng.integers(0, max(1, layout.history_s - DAY // S))) * S
    return lambda: _buckets(store, tag, start, start + DAY, MINUTE)


def _month_call(
    store: "TimeSeriesStore", layout: Layout, rng: np.random.Generator
) -> Callable[[], int]:
    """One history tag over the 30 days ending at a random second of the last day (of the
    history, if shorter)."""
    tag = _history_tag(rng)
    end = END_NS - int(rng.integers(0, min(DAY // S, layout.history_s))) * S
    return lambda: _buckets(store, tag, end - SPAN_NS, end, HOUR)


def _history_tag(rng: np.random.Generator) -> int:
    return HISTORY_FIRST_ID + int(rng.integers(0, HISTORY_TAGS))


def _buckets(store: "TimeSeriesStore", tag: int, start: int, end: int, every: int) -> int:
    return len(store.aggregate(tag, start, end, every, AGGS).bucket_ns)


def latencies(times_ns: npt.NDArray[np.int64]) -> tuple[float, float]:
    """p50 and p99 of ``times_ns`` in milliseconds."""
    p50, p99 = np.percentile(times_ns, [50, 99]) / 1e6
    return float(p50), float(p99)


def format_query_table(result: dict[str, float]) -> Table:
    """The result of `run_query_bench` as a Rich table (targets from the issue)."""
    table = Table(title=f"factoryos bench query ({result['points']:,.0f} points stored)")
    table.add_column("query")
    for name in ("p50", "p99", "target"):
        table.add_column(name, justify="right")
    for key, label, target in (
        ("last_100k", "last value of 100,000 tags", "p99 < 20 ms"),
        ("day_1m", "1 tag, 1 day of 1 s data → 1 min", "p99 < 50 ms"),
        ("month_1h", "1 tag, 30 days → 1 h", "p99 < 50 ms"),
    ):
        p50, p99 = result[f"{key}_p50_ms"], result[f"{key}_p99_ms"]
        table.add_row(label, f"{p50:.2f} ms", f"{p99:.2f} ms", target)
    table.add_row("load (inside write)", f"{result['load_s']:,.2f} s", "", "")
    table.add_row("peak RSS", f"{result['peak_rss_mb']:,.0f} MB", "", "")
    return table
