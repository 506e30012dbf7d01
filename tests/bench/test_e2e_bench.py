"""The end-to-end benchmark: a short smoke run against the shared Mosquitto (a correctness
check: nothing lost, nothing duplicated; no timing assertions, CI machines vary) and its
measuring parts on their own."""

import socket
from pathlib import Path

import duckdb
import numpy as np
import pytest

from factoryos.bench.e2e import format_e2e_table, run_e2e_bench
from factoryos.bench.e2e_edge import bench_site
from factoryos.bench.e2e_measure import LatencyRecorder, check_store
from factoryos.bench.errors import BenchError
from factoryos.model.samples import SampleBatch

BROKER = ("127.0.0.1", 1883)


@pytest.fixture
def mosquitto() -> str:
    """The shared Mosquitto; skipped when absent (a failure under CI=true)."""
    try:
        with socket.create_connection(BROKER, timeout=1):
            pass
    except OSError:
        pytest.skip(f"no MQTT broker at {BROKER[0]}:{BROKER[1]}")
    return f"mqtt://{BROKER[0]}:{BROKER[1]}"


@pytest.mark.timeout(120)
def test_a_short_run_stores_every_offered_point_once(mosquitto: str) -> None:
    result = run_e2e_bench(seconds=5, rate=10_000, tags=500, broker=mosquitto)
    assert {"points_per_s", "p50_ms", "p99_ms", "lost", "duplicated"} <= set(result)
    assert result["offered"] > 0
    assert result["lost"] == 0
    assert result["duplicated"] == 0
    assert result["extra"] == 0
    assert result["points_per_s"] > 0
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert format_e2e_table(result).row_count == 8


def test_bad_parameters_are_refused_before_anything_runs() -> None:
    with pytest.raises(BenchError, match="seconds must be >= 5"):
        run_e2e_bench(seconds=1)
    with pytest.raises(BenchError, match="rate"):
        run_e2e_bench(seconds=5, rate=0)
    with pytest.raises(BenchError, match="--broker"):
        run_e2e_bench(seconds=5, broker="http://127.0.0.1:1883")


def test_the_bench_site_has_the_asked_number_of_distinct_tags() -> None:
    paths = [ref.path for ref in bench_site(10_050).tags()]
    assert len(paths) == len(set(paths)) == 10_050
    assert paths[0] == "bench/plant/line/c0/e00/t00"
    assert paths[-1] == "bench/plant/line/c1/e00/t49"


def test_latency_percentiles_count_every_sample() -> None:
    recorder = LatencyRecorder()
    commit_ns = 10_000_000_000
    # 98 samples 5 ms old, one 50 ms old, one 900 ms old, in two writes
    ages_ms = np.array([5.0] * 98 + [50.0, 900.0])
    ts = (commit_ns - ages_ms * 1e6).astype(np.int64)
    recorder(SampleBatch.build(np.arange(60), ts[:60], np.zeros(60)), commit_ns)
    recorder(SampleBatch.build(np.arange(40), ts[60:], np.zeros(40)), commit_ns)
    assert recorder.samples == 100
    assert recorder.percentile_ms(50) == pytest.approx(5.1)  # upper edge of a 0.1 ms bin
    assert recorder.percentile_ms(99) == pytest.approx(50.1)
    assert recorder.percentile_ms(100) == pytest.approx(900.1)
    assert recorder.last_commit_ns == commit_ns


def test_no_latency_without_samples() -> None:
    with pytest.raises(BenchError, match="no sample"):
        LatencyRecorder().percentile_ms(50)


def test_the_store_check_sees_duplicates_and_missing_points(tmp_path: Path) -> None:
    path = tmp_path / "ts.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE samples (tag_id INTEGER, ts BIGINT, value DOUBLE, quality UTINYINT)")
    # offered: tags 1..3 at ts 10 and 20; stored: all but (3, 20), (1, 10) twice, and (9, 10)
    rows = [(1, 10), (1, 10), (2, 10), (3, 10), (1, 20), (2, 20), (9, 10)]
    con.executemany("INSERT INTO samples VALUES (?, ?, 0.0, 0)", rows)
    con.close()
    check = check_store(path, range(1, 4), [10, 20])
    assert check.rows == 7
    assert check.duplicated == 1
    assert check.offered_found == 5  # of 6 offered: one lost
    assert check.extra == 1
