"""Smoke runs of the resolution benchmark (no speed assertions: CI machines vary): every
figure is there, positive and consistent with the others."""

import json
from collections import Counter
from typing import Any

import pytest
from typer.testing import CliRunner

from factoryos.bench.errors import BenchError
from factoryos.bench.resolve import (
    BATCH,
    HOT_FRACTION,
    format_resolve_table,
    handle_of,
    plan,
    run_resolve_bench,
)
from factoryos.cli import app
from factoryos.twin.handles import parse_handle
from store.test_migrations import pg_url

__all__ = ["pg_url"]  # a fixture, used by name: a PostgreSQL that is reachable (or a skip)


def check_figures(r: dict[str, Any], identifiers: int, seconds: float) -> None:
    assert r["identifiers"] == identifiers and r["register_per_s"] > 0
    for prefix, per_request in (("", 1), ("http_", 1), ("http_batch_", BATCH)):
        resolutions, per_s = r[f"{prefix}resolutions"], r[f"{prefix}per_s"]
        assert resolutions > 0 and resolutions % per_request == 0
        assert 0 < r[f"{prefix}p50_ms"] <= r[f"{prefix}p99_ms"]
        # per_s is resolutions over the measured wall time, which is at least the run's
        # length (a loaded machine may take longer to finish the requests in flight)
        wall_s = r[f"{prefix}wall_s"]
        assert per_s == pytest.approx(resolutions / wall_s, rel=1e-9)
        assert wall_s >= seconds * 0.95
    assert 0 < r["hit_rate"] < 1  # the cache starts empty, and hot handles hit
    assert 0 <= r["not_found"] < r["resolutions"]
    assert r["http_not_found"] < r["http_resolutions"]
    assert r["cpus"] >= 1 and r["load_before"] >= 0
    assert format_resolve_table(r).row_count == 10


def test_the_cli_prints_every_figure_as_json() -> None:
    out = CliRunner().invoke(
        app, ["bench", "resolve", "--identifiers", "1000", "--seconds", "1", "--json"]
    )

    assert out.exit_code == 0, out.output
    figures = json.loads(out.stdout.splitlines()[-1])
    check_figures(figures, 1000, 1.0)
    assert figures["catalog"] == "sqlite"
    assert {"per_s", "p99_ms", "http_per_s", "http_p99_ms"} <= figures.keys()


def test_a_postgresql_catalog_is_measured_in_a_schema_of_its_own(pg_url: str) -> None:
    result = run_resolve_bench(300, 0.5, catalog_url=pg_url, http_clients=4, progress=False)

    check_figures(result, 300, 0.5)
    assert result["catalog"] == "postgresql"


def test_the_plan_mixes_hot_cold_and_missing_handles() -> None:
    handles = plan(10_000, size=50_000)
    counts = Counter(handles)
    missing = [h for h in handles if "/NONE-" in h]
    hot = {h for h, n in counts.items() if n >= 50}  # hot handles come ~450 times each

    assert len(missing) / len(handles) == pytest.approx(0.01, abs=0.003)
    assert len(hot) == 10_000 * HOT_FRACTION
    assert sum(counts[h] for h in hot) / len(handles) == pytest.approx(0.90, abs=0.01)
    assert all(parse_handle(h) for h in counts)  # every one a valid handle
    assert plan(10_000, size=1000) == plan(10_000, size=1000)  # seeded: runs compare
    assert handle_of(123_456) == "88.100.12/SN-00123456"


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(BenchError, match="positive"):
        run_resolve_bench(identifiers=10, progress=False)
    with pytest.raises(BenchError, match="is not postgresql"):
        run_resolve_bench(300, 0.5, catalog_url="mysql://x/y", progress=False)
