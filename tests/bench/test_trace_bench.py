"""The trace benchmark run small on SQLite and the real PostgreSQL (no timing assertions: CI
machines vary), its generated supply chain, and its bulk load against capture.

PostgreSQL is the shared server at 127.0.0.1:5432, database ``test``; the benchmark makes its
own schema and drops it.
"""

import json
import os
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from typer.testing import CliRunner

from factoryos.apps.trace.epcis.capture import capture, to_row
from factoryos.apps.trace.epcis.validate import validate_document
from factoryos.apps.trace.genealogy import Direction, Trace, walk_stored
from factoryos.apps.trace.identifiers import parse_urn
from factoryos.bench import trace as trace_bench
from factoryos.bench.errors import BenchError
from factoryos.bench.trace import (
    MIN_EVENTS,
    SupplyChain,
    chunks,
    format_trace_table,
    run_trace_bench,
)
from factoryos.cli import app
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_bulk import EpcisBulk
from factoryos.store.epcis_events import EpcisEvents
from store.test_migrations import pg_url, sqlite_url, url

__all__ = ["pg_url", "sqlite_url", "url"]

PG_URL = os.environ.get(
    "FACTORYOS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
SMALL = 20_000
LONG = 700_000
PROBE_EVENTS = 5_000  # the first pallet of line 1 (the probe's) is packed after ~4,100
FIGURES = {
    f"{direction}_{name}"
    for direction in ("backward", "forward")
    for name in ("p50_ms", "p99_ms", "max_ms", "found_mean", "depth_mean", "depth_min")
}
KEYS = FIGURES | {
    "p99_ms", "p50_ms", "traces", "warmup", "depth", "events", "epc_rows", "edge_share", "mix",
    "load_s", "events_per_s", "generate_s", "analyze_s", "db_mb", "backend", "peak_rss_mb",
    "reindexed", "reindex_s", "genealogy_index_mb_before", "genealogy_index_mb",
    "page_cache_dropped",
    "disk_reads",
    "disk_read_mb",
    "disk_read_ms",
}  # fmt: skip


def bench_schemas() -> set[str]:
    libpq = PG_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(libpq) as conn:
        rows = conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname LIKE 'bench_trace_%'"
        ).fetchall()
    return {row[0] for row in rows}


def check_result(result: dict[str, Any], backend: str, reindexed: bool = True) -> None:
    assert set(result) == KEYS
    assert result["reindexed"] is reindexed and (result["reindex_s"] > 0) is reindexed
    if reindexed:  # edges loaded in time order leave the indexes loosely packed
        assert 0 < result["genealogy_index_mb"] < result["genealogy_index_mb_before"]
    else:
        assert result["genealogy_index_mb"] is None
    assert result["backend"] == backend and result["events"] == SMALL
    assert result["p99_ms"] == max(result["backward_p99_ms"], result["forward_p99_ms"])
    for direction in ("backward", "forward"):
        assert 0 < result[f"{direction}_p50_ms"] <= result[f"{direction}_p99_ms"]
        assert result[f"{direction}_p99_ms"] <= result[f"{direction}_max_ms"]
        assert result[f"{direction}_found_mean"] > 0
        assert result[f"{direction}_depth_min"] == 10  # every trace reaches depth 10
    assert sum(result["mix"].values()) == SMALL
    assert 0.3 < result["edge_share"] < 0.7
    assert result["epc_rows"] > SMALL and result["load_s"] > 0 and result["db_mb"] > 0
    # the catalogs of these tests are on this machine's disk, PostgreSQL's too
    assert result["disk_reads"] >= 0 and result["disk_read_mb"] >= 0 <= result["disk_read_ms"]
    assert format_trace_table(result).row_count == (5 if reindexed else 4)


def test_a_small_sqlite_run_reports_every_figure() -> None:
    check_result(run_trace_bench(SMALL, None, traces=5), "sqlite")


def test_the_indexes_can_be_timed_as_loaded() -> None:
    check_result(run_trace_bench(SMALL, None, traces=2, reindex=False), "sqlite", reindexed=False)


def test_the_page_cache_is_dropped_before_the_traces_when_asked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the kernel's file stands in: dropping the machine's cache would slow every other test
    knob = tmp_path / "drop_caches"
    knob.write_text("0\n")
    monkeypatch.setattr(trace_bench, "DROP_CACHES", knob)
    result = run_trace_bench(MIN_EVENTS, None, traces=2, drop_page_cache=True)
    assert result["page_cache_dropped"] is True and knob.read_text() == "3\n"
    assert "page cache dropped" in str(format_trace_table(result).title)
    monkeypatch.setattr(trace_bench, "DROP_CACHES", tmp_path / "none" / "drop_caches")
    with pytest.raises(BenchError, match=r"--drop-page-cache: cannot write .*none/drop_caches"):
        run_trace_bench(MIN_EVENTS, None, drop_page_cache=True)  # refused before the load


def test_a_small_postgres_run_reports_every_figure_and_drops_its_schema() -> None:
    before = bench_schemas()
    check_result(run_trace_bench(SMALL, PG_URL, traces=5), "postgresql")
    assert bench_schemas() <= before


def test_a_given_sqlite_file_is_made_and_removed(tmp_path: Path) -> None:
    path = tmp_path / "bench.sqlite"
    result = run_trace_bench(MIN_EVENTS, f"sqlite:///{path}", traces=2)
    assert result["backend"] == "sqlite" and not path.exists()


def test_the_command_prints_one_json_object() -> None:
    out = CliRunner().invoke(
        app, ["bench", "trace", "--events", str(MIN_EVENTS), "--traces", "2", "--no-reindex",
              "--json"]
    )  # fmt: skip
    assert out.exit_code == 0, out.output
    printed = json.loads(out.stdout)
    assert printed["backend"] == "sqlite" and printed["reindexed"] is False


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((MIN_EVENTS - 1, None), "events"),
        ((MIN_EVENTS, None, 0), "traces"),
        ((MIN_EVENTS, None, 1, 0), "depth"),
        ((MIN_EVENTS, "duckdb:///x.duckdb"), "catalog-url"),
        ((MIN_EVENTS, "sqlite://"), "catalog-url"),
    ],
)
def test_bad_parameters_are_refused(args: tuple[Any, ...], message: str) -> None:
    with pytest.raises(BenchError, match=message):
        run_trace_bench(*args)


def test_an_existing_sqlite_file_is_not_touched(tmp_path: Path) -> None:
    path = tmp_path / "mine.sqlite"
    path.write_bytes(b"precious")
    with pytest.raises(BenchError, match="exists"):
        run_trace_bench(MIN_EVENTS, f"sqlite:///{path}")
    assert path.read_bytes() == b"precious"


# -- the generated supply chain --------------------------------------------------------


def _events(n: int, seed: int = 20260101) -> list[dict[str, Any]]:
    return list(SupplyChain(n, seed))


def _document(events: Sequence[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-24T08:00:00Z",
        "epcisBody": {"eventList": list(events)},
    }


def test_the_chain_is_deterministic_exact_in_size_and_in_time_order() -> None:
    first = _events(3000)
    assert len(first) == 3000
    assert first == _events(3000)
    assert first != _events(3000, seed=1)
    assert _events(6000)[:3000] == first  # the size only decides where the stream stops
    times = [e["eventTime"] for e in first]
    assert times == sorted(times)


@pytest.fixture(scope="module")
def long_run() -> tuple[SupplyChain, list[dict[str, Any]]]:
    """700,000 events (a week of the plant: stores have received and sold units) and up to
    20 of each kind of event in them (type, action, business step)."""
    chain = SupplyChain(LONG)
    kinds: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for event in chain:
        bucket = kinds.setdefault((event["type"], event.get("action", ""), event["bizStep"]), [])
        if len(bucket) < 20:
            bucket.append(event)
    return chain, [event for bucket in kinds.values() for event in bucket]


def test_every_kind_of_event_is_valid_epcis_with_real_epc_urns(
    long_run: tuple[SupplyChain, list[dict[str, Any]]],
) -> None:
    _, sample = long_run
    assert {event["bizStep"] for event in sample} == {
        "creating_class_instance", "assembling", "inspecting", "commissioning", "packing",
        "loading", "shipping", "receiving", "storing", "unloading", "unpacking", "retail_selling",
    }  # fmt: skip
    validate_document(_document(sample))  # GS1's JSON schema: raises on any problem
    rows = [to_row(event) for event in sample]
    identifiers = {epc for r in rows for _, epc in r.epcs}
    for epc in identifiers:
        assert parse_urn(epc).uri == epc  # checked by the identifiers module, round trip
    assert {epc.split(":")[3] for epc in identifiers} == {"sgtin", "lgtin", "sscc"}
    assert max(len(r.body) for r in rows) < 2000  # compact bodies


def test_the_mix_has_edges_and_noise_and_distribution_happens(
    long_run: tuple[SupplyChain, list[dict[str, Any]]],
) -> None:
    chain, _ = long_run
    assert set(chain.mix) == {
        "TransformationEvent", "AggregationEvent ADD", "AggregationEvent DELETE",
        "ObjectEvent ADD", "ObjectEvent OBSERVE",
    }  # fmt: skip
    assert sum(chain.mix.values()) == chain.emitted == LONG
    assert 0.3 < chain.edge_share < 0.7
    assert len(chain.pallets.items) > 0 and len(chain.raw_lots.items) > 0
    assert len(chain.probe) == 11


# -- bulk load against capture, and the chain traced end to end ------------------------


@pytest.fixture
def two_catalogs(url: str, tmp_path: Path) -> Iterator[tuple[Catalog, Catalog]]:
    """Two fresh catalogs of the same backend: in one schema (PostgreSQL, two tenants there
    would share id sequences, which is fine) or two files (SQLite)."""
    other = f"sqlite:///{tmp_path / 'other.sqlite'}" if url.startswith("sqlite") else url
    a, b = Catalog(url), Catalog(other)
    a.migrate()
    b.migrate()
    yield a, b
    a.close()
    b.close()


def _stored(catalog: Catalog, tenant: int) -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
    """What the tenant's EPCIS tables hold, without the row ids the two paths assign."""
    with catalog._read() as s:
        events = s.connection().exec_driver_sql(
            "SELECT event_id, event_type, event_time_ns, action, biz_step, disposition,"
            " read_point, biz_location, body FROM epcis_events"
            f" WHERE tenant_id = {tenant} ORDER BY event_id"
        )
        epcs = s.connection().exec_driver_sql(
            "SELECT e.event_id, p.role, p.epc FROM epcis_event_epcs p"
            " JOIN epcis_events e ON e.id = p.event"
            f" WHERE p.tenant_id = {tenant} ORDER BY e.event_id, p.id"
        )
        return [tuple(r) for r in events], [tuple(r) for r in epcs]


def _same_trace(a: Trace, b: Trace) -> bool:
    return a.depth == b.depth and set(a.steps) == set(b.steps) and a.truncated == b.truncated


def test_the_bulk_path_stores_and_traces_what_capture_does(
    two_catalogs: tuple[Catalog, Catalog],
) -> None:
    by_capture, by_bulk = two_catalogs
    tenant_c, tenant_b = by_capture.ensure_tenant("captured"), by_bulk.ensure_tenant("bulk")
    chain = SupplyChain(PROBE_EVENTS)
    events = list(chain)
    for at in range(0, len(events), 2000):
        capture(EpcisEvents(by_capture), tenant_c, _document(events[at : at + 2000]), 0)
    for rows in chunks(SupplyChain(PROBE_EVENTS), size=1500):
        EpcisBulk(by_bulk).load(tenant_b, rows, 0)
    assert _stored(by_capture, tenant_c) == _stored(by_bulk, tenant_b)
    captured, bulk = EpcisEvents(by_capture), EpcisEvents(by_bulk)
    pallet, resin = chain.probe[0], chain.probe[-1]
    for root, direction in ((pallet, Direction.BACKWARD), (resin, Direction.FORWARD)):
        assert _same_trace(
            walk_stored(captured, tenant_c, root, direction, 10),
            walk_stored(bulk, tenant_b, root, direction, 10),
        )


def test_a_generated_chain_is_traced_end_to_end(url: str) -> None:
    catalog = Catalog(url)
    catalog.migrate()
    tenant = catalog.ensure_tenant("bench")
    chain = SupplyChain(SMALL)
    for rows in chunks(chain):
        EpcisBulk(catalog).load(tenant, rows, 0)
    store = EpcisEvents(catalog)
    # pallet, case, unit, assembly, sub-assembly, coated, machined, blank, blend,
    # masterbatch, resin: each exactly one level further back
    back = walk_stored(store, tenant, chain.probe[0], Direction.BACKWARD, 10)
    for level, identifier in enumerate(chain.probe):
        assert back.depth[identifier] == level, identifier
    forward = walk_stored(store, tenant, chain.probe[-1], Direction.FORWARD, 10)
    assert forward.depth[chain.probe[0]] == 10
    assert all(forward.depth[i] == 10 - level for level, i in enumerate(chain.probe))
    catalog.close()


def test_the_progress_bar_goes_to_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    run_trace_bench(MIN_EVENTS, None, traces=2, progress=True)
    captured = capsys.readouterr()
    assert "generate + bulk load" in captured.err and "traces" in captured.err
    assert captured.out == ""
