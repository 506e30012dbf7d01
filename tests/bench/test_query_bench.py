"""Smoke runs of the query benchmark on both backends (no timing assertions: CI machines vary).

PostgreSQL is the shared server at 127.0.0.1:5432, database ``test``; the benchmark uses its
own schema and drops it.
"""

import os

import numpy as np
import psycopg
import pytest

from factoryos.bench.errors import BenchError
from factoryos.bench.query import (
    END_NS,
    HISTORY_FIRST_ID,
    HISTORY_TAGS,
    LAST_TAGS,
    MIN_POINTS,
    SPAN_NS,
    format_query_table,
    iter_chunks,
    plan_layout,
    run_query_bench,
)
from factoryos.model.samples import SampleBatch

PG_URL = os.environ.get("FACTORYOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
FIGURES = {
    f"{query}_{p}_ms" for query in ("last_100k", "day_1m", "month_1h") for p in ("p50", "p99")
}


def bench_schemas() -> set[str]:
    with psycopg.connect(PG_URL) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_query_%'"
        ).fetchall()
    return {row[0] for row in rows}


@pytest.fixture
def postgres() -> None:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as e:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {e}")


def check_result(result: dict[str, float], points: int) -> None:
    assert set(result) == FIGURES | {"points", "load_s", "peak_rss_mb"}
    assert all(value > 0 for value in result.values())
    assert all(result[key.replace("p50", "p99")] >= result[key] for key in FIGURES if "p50" in key)
    assert result["points"] == points
    assert format_query_table(result).row_count == 5


def test_a_small_duckdb_run_reports_every_figure() -> None:
    check_result(run_query_bench("duckdb", points=MIN_POINTS, repeats=10), MIN_POINTS)


def test_a_small_postgres_run_reports_every_figure_and_drops_its_schema(postgres: None) -> None:
    before = bench_schemas()
    check_result(run_query_bench("postgres", points=MIN_POINTS, url=PG_URL, repeats=10), MIN_POINTS)
    assert bench_schemas() <= before


def test_the_data_is_exactly_points_samples_in_key_order() -> None:
    layout = plan_layout(1_000_000)
    data = SampleBatch.concat(list(iter_chunks(layout, rows=300_000)))
    assert len(data) == 1_000_000
    later = np.diff(data.ts) > 0
    same_ts_higher_tag = (np.diff(data.ts) == 0) & (np.diff(data.tag_ids) > 0)
    assert np.all(later | same_ts_higher_tag)  # strictly increasing (ts, tag): no repeated key
    assert data.ts.min() >= END_NS - SPAN_NS and data.ts.max() < END_NS
    # every polled tag has a value; each history tag holds 1 s data up to the end
    assert np.array_equal(np.unique(data.tag_ids[data.tag_ids < LAST_TAGS]), np.arange(LAST_TAGS))
    for tag in range(HISTORY_FIRST_ID, HISTORY_FIRST_ID + HISTORY_TAGS):
        ts = data.ts[data.tag_ids == tag]
        assert len(ts) == layout.history_s
        assert np.all(np.diff(ts) == 1_000_000_000) and ts[-1] == END_NS - 1_000_000_000


def test_the_full_size_holds_30_days_of_1_s_history() -> None:
    layout = plan_layout(100_000_000)
    assert layout.history_s == 30 * 86_400
    assert layout.background + HISTORY_TAGS * layout.history_s == 100_000_000


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"backend": "sqlite"}, "backend"),
        ({"backend": "duckdb", "points": MIN_POINTS - 1}, "points"),
        ({"backend": "duckdb", "points": MIN_POINTS, "repeats": 0}, "repeats"),
    ],
)
def test_bad_parameters_are_refused(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(BenchError, match=message):
        run_query_bench(**kwargs)  # type: ignore[arg-type]


def test_the_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    run_query_bench("duckdb", points=MIN_POINTS, repeats=2, progress=True)
    captured = capsys.readouterr()
    assert "load" in captured.err
    assert captured.out == ""
