"""A smoke run of the ingest benchmark (no timing assertions: CI machines vary)."""

import pytest

from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import format_ingest_table, run_ingest_bench


def test_a_small_run_reports_the_four_figures() -> None:
    result = run_ingest_bench(points=200_000, tags=100, batch_rows=100, max_rows=50_000)
    assert set(result) == {"points_per_s", "raw_points_per_s", "ratio", "peak_rss_mb"}
    assert all(value > 0 for value in result.values())
    assert result["ratio"] == pytest.approx(result["points_per_s"] / result["raw_points_per_s"])
    assert format_ingest_table(result).row_count == 4


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(BenchError, match="points"):
        run_ingest_bench(points=0)


def test_the_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    run_ingest_bench(points=10_000, tags=10, batch_rows=10, max_rows=5_000, progress=True)
    captured = capsys.readouterr()
    assert "raw append" in captured.err
    assert captured.out == ""
