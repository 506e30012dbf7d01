"""The job-shop harness on the shared JSPLIB and Brandimarte folders: small instances (the
full runs are the benchmark), the keys the issue names, gaps against the best-known values,
and a broken instance file named with its line."""

import json
from pathlib import Path

import pytest
from rich.console import Console

from factoryos.bench.errors import BenchError
from factoryos.bench.jsp import expand, format_table, run_bench, summary

SHARED = Path(__file__).resolve().parents[3] / "shared" / "datasets"


def test_ranges_expand_with_their_width() -> None:
    assert expand("ft06, la01-la03,ta10") == ["ft06", "la01", "la02", "la03", "ta10"]
    with pytest.raises(BenchError, match="not a range"):
        expand("la05-la01")


def test_small_job_shops_are_solved_to_their_known_optimum() -> None:
    results = run_bench(
        SHARED / "jsplib", ["ft06", "la01"], flexible=False, time_limit=10, progress=False
    )
    assert [r["instance"] for r in results] == ["ft06", "la01"]
    for r in results:
        assert {"instance", "makespan", "best_known", "gap", "rule_gap"} <= set(r)
        assert r["optimal"] and r["makespan"] == r["best_known"] and r["gap"] == 0.0
        assert r["rule_makespan"] >= r["makespan"] and r["rule_gap"] >= 0
    assert (results[0]["best_known"], results[1]["best_known"]) == (55, 666)
    assert summary(results)["optimal"] == 2
    json.loads(json.dumps(results))  # the --json answer
    console = Console(record=True, width=140)
    console.print(format_table(results, "jsp"))
    text = console.export_text()
    assert "ft06" in text and "2/2" in text


def test_a_flexible_job_shop_reports_its_gap() -> None:
    (r,) = run_bench(
        SHARED / "fjsp_brandimarte", ["mk01"], flexible=True, time_limit=5, progress=False
    )
    assert r["best_known"] == 40 and r["makespan"] >= 40  # 40 is mk01's proven optimum
    assert r["gap"] == pytest.approx(100 * (r["makespan"] - 40) / 40, abs=0.01)


def test_a_broken_instance_is_named_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "instances").mkdir()
    (tmp_path / "instances" / "bad").write_text("# comment\n2 2\n0 5 1 4\n0 3 7 2\n")
    (tmp_path / "instances.json").write_text(
        json.dumps([{"name": "bad", "path": "instances/bad", "optimum": 9}])
    )
    with pytest.raises(BenchError, match=r"bad:4: machine 7 is not below 2"):
        run_bench(tmp_path, None, flexible=False, time_limit=1, progress=False)
    with pytest.raises(BenchError, match="no instance named nope"):
        run_bench(tmp_path, ["nope"], flexible=False, time_limit=1, progress=False)
