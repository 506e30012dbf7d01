"""Smoke run of the alarm benchmark (no timing assertions: CI machines vary)."""

import json

import pytest
from typer.testing import CliRunner

from factoryos.bench.alarms import TOGGLE_S, format_alarm_table, run_alarm_bench
from factoryos.bench.errors import BenchError
from factoryos.cli import app


def test_a_short_run_fires_alarms_and_reports_every_figure() -> None:
    result = run_alarm_bench(rules=50, rate=2_000, seconds=2 * TOGGLE_S + 0.5, progress=False)
    assert result["samples"] > 0 and result["batches_processed"] > 0
    # two toggles: the first 1 % goes high (activations), then it clears as the next goes high
    assert result["events"] >= 3
    assert 0 < result["p50_ms"] <= result["p99_ms"] <= result["max_ms"]
    assert 0.0 <= result["within_1s"] <= 1.0
    assert format_alarm_table(result).row_count == 9


def test_the_cli_prints_json() -> None:
    out = CliRunner().invoke(
        app, ["bench", "alarms", "--rules", "20", "--rate", "500", "--seconds", "3", "--json"]
    )
    assert out.exit_code == 0, out.output
    figures = json.loads(out.stdout.splitlines()[-1])
    assert figures["rules"] == 20 and figures["events"] >= 1


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(BenchError, match="positive"):
        run_alarm_bench(rules=0, progress=False)
