"""``factoryos bench e2e``: gateway → Mosquitto → platform → store, points/s and latency.

Two processes on one machine, like an edge gateway and a platform sharing a broker. The edge
process (:mod:`factoryos.bench.e2e_edge`) polls a synthetic driver at the offered rate into
the real gateway (durable outbox, sender, Sparkplug B uplink with QoS 1). This process runs
the platform: Sparkplug B host subscription → InProcessBus → Ingestor → DuckDBStore in a
temporary directory, and times every sample from its sample time to the commit that made
it queryable. At the end the store is checked against every offered (tag, ts) key.
"""

import asyncio
import json
import logging
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiomqtt
import numpy as np
from rich.progress import Progress
from rich.table import Table

from factoryos.bench.e2e_edge import DRAIN_TIMEOUT_S, EdgeParams, bench_site, cpu_s
from factoryos.bench.e2e_measure import LatencyRecorder, StoreCheck, check_store
from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import progress_bar
from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.sparkplug_ingest import SparkplugIngestSource
from factoryos.connect.errors import ConfigError, ConnectError
from factoryos.connect.mqtt_client import BrokerSettings, connected
from factoryos.connect.sparkplug_b import state_topic
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor

log = logging.getLogger(__name__)

MIN_SECONDS = 5.0
PLATFORM_ID_BASE = 100_001
"""The platform numbers its catalog unlike the gateway, which resolves paths, not ids."""
STARTUP_TIMEOUT_S = 60.0
"""Edge process start-up (imports, site, outbox, broker connection) at most."""
IDLE_S = 0.5
"""All offered samples stored and nothing arriving for this long: the run is over."""
SETTLE_TIMEOUT_S = 10.0
"""Samples still missing after nothing arrived for this long are lost."""
_TICK_S = 0.1


def run_e2e_bench(
    seconds: float = 60.0,
    rate: float = 250_000.0,
    tags: int = 10_000,
    broker: str = "mqtt://127.0.0.1:1883",
    *,
    progress: bool = False,
) -> dict[str, float]:
    """Offer ``rate`` points/s in polls of ``tags`` tags for ``seconds`` through the whole
    path; returns points_per_s, p50_ms, p99_ms, lost, duplicated and the figures behind them.

    ``progress`` shows a Rich progress bar on stderr.
    """
    if seconds < MIN_SECONDS:
        raise BenchError(f"seconds must be >= {MIN_SECONDS:g}, got {seconds:g}")
    if rate <= 0 or tags < 1:
        raise BenchError(f"need rate > 0 and tags >= 1, got rate {rate:g}, tags {tags}")
    try:
        settings = BrokerSettings.from_url(broker)
    except ConfigError as exc:
        raise BenchError(f"--broker: {exc}") from exc
    with tempfile.TemporaryDirectory(prefix="factoryos-e2e-") as tmp, progress_bar(progress) as bar:
        run_id = uuid.uuid4().hex[:12]
        params = EdgeParams(broker, f"e2e-{run_id}", f"e2e-host-{run_id}", rate, seconds, tags, tmp)
        return asyncio.run(_run(params, settings, Path(tmp), bar))


async def _run(
    params: EdgeParams, broker: BrokerSettings, tmp: Path, bar: Progress | None
) -> dict[str, float]:
    ids = {ref.path: PLATFORM_ID_BASE + i for i, ref in enumerate(bench_site(params.tags).tags())}
    recorder = LatencyRecorder()
    cpu_before = cpu_s()
    with DuckDBStore(tmp / "e2e.duckdb") as store:
        bus = InProcessBus()
        ingestor = Ingestor(store, bus, on_stored=recorder)
        source = SparkplugIngestSource(
            broker, params.group_id, bus=bus, tag_ids=ids, host_id=params.host_id
        )
        stop_source, stop_ingest = asyncio.Event(), asyncio.Event()
        tasks = [
            asyncio.create_task(source.run(stop_source), name="e2e-source"),
            asyncio.create_task(ingestor.run(stop_ingest), name="e2e-ingest"),
        ]
        shown = asyncio.create_task(_show(ingestor, params, bar))
        try:
            await _ready(source, broker)
            report = await _first_of(asyncio.create_task(_run_edge(params)), tasks)
            _warn_if_edge_lost(report)
            await _settle(ingestor, len(report["polls"]) * params.tags)
        finally:
            shown.cancel()
            stop_source.set()
            await asyncio.gather(tasks[0], return_exceptions=True)
            stop_ingest.set()
            await asyncio.gather(*tasks)
            await _forget_session(source)
    platform_cpu_s = cpu_s() - cpu_before
    check = check_store(
        tmp / "e2e.duckdb", range(PLATFORM_ID_BASE, PLATFORM_ID_BASE + params.tags), report["polls"]
    )
    return _result(params, report, recorder, check, platform_cpu_s)


def _warn_if_edge_lost(report: dict[str, Any]) -> None:
    """The edge's own account of losses, which explain a ``lost`` count (its stderr is not
    shown when it succeeds)."""
    if not report["drained"] or report["outbox_dropped_samples"]:
        log.warning(
            "e2e bench: the gateway's outbox dropped %d samples and %s",
            report["outbox_dropped_samples"],
            "was drained" if report["drained"] else "still held records at the end",
        )


async def _forget_session(source: SparkplugIngestSource) -> None:
    """Leave nothing on the shared broker: the platform's persistent session (its client id
    with a clean session ends it) and its retained STATE (an empty retained message)."""
    try:
        async with connected(source.broker, log, clean_session=True) as client:
            await client.publish(state_topic(source.host_id), b"", qos=1, retain=True)
    except (ConnectError, aiomqtt.MqttError) as exc:
        log.warning("e2e bench: could not clean up at %s: %s", source.broker.address, exc)


async def _ready(source: SparkplugIngestSource, broker: BrokerSettings) -> None:
    try:
        async with asyncio.timeout(STARTUP_TIMEOUT_S):
            await source.wait_ready()
    except TimeoutError:
        raise BenchError(f"the platform could not subscribe at {broker.address}") from None


async def _first_of(
    edge: "asyncio.Task[dict[str, Any]]", platform: list["asyncio.Task[None]"]
) -> dict[str, Any]:
    """The edge's report; if a platform task ends first (it failed), stop the edge."""
    await asyncio.wait([edge, *platform], return_when=asyncio.FIRST_COMPLETED)
    if not edge.done():
        edge.cancel()
        await asyncio.gather(edge, return_exceptions=True)
        await asyncio.gather(*platform)  # raises the platform's error
        raise BenchError("the platform stopped before the edge finished")
    return edge.result()


async def _run_edge(params: EdgeParams) -> dict[str, Any]:
    """Run the edge process to its end; its report (see ``run_edge``)."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "factoryos.bench.e2e_edge",
        params.to_json(),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    limit = STARTUP_TIMEOUT_S + params.seconds + DRAIN_TIMEOUT_S
    try:
        async with asyncio.timeout(limit):
            out, err = await proc.communicate()
    except TimeoutError:
        raise BenchError(f"the edge process did not finish within {limit:g} s") from None
    finally:
        if proc.returncode is None:  # timed out or cancelled
            proc.kill()
            await proc.wait()
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-5:]
        raise BenchError(f"the edge process failed ({proc.returncode}): " + " | ".join(tail))
    report: dict[str, Any] = json.loads(out)
    return report


async def _settle(ingestor: Ingestor, offered: int) -> None:
    """Return once the platform is idle: everything offered stored and nothing arriving
    for IDLE_S, or nothing arriving for SETTLE_TIMEOUT_S (what is missing then is lost)."""
    await ingestor.flush()
    last, quiet_since = -1, time.monotonic()
    while True:
        stats = ingestor.stats
        now = time.monotonic()
        if stats.rows_in != last or stats.queue_depth:
            last, quiet_since = stats.rows_in, now
        quiet = now - quiet_since
        if (stats.rows_stored >= offered and quiet >= IDLE_S) or quiet >= SETTLE_TIMEOUT_S:
            await ingestor.flush()
            return
        await asyncio.sleep(_TICK_S)


def _result(
    params: EdgeParams,
    report: dict[str, Any],
    recorder: LatencyRecorder,
    check: StoreCheck,
    platform_cpu_s: float,
) -> dict[str, float]:
    polls: list[int] = report["polls"]
    if not polls or not recorder.samples:
        raise BenchError("nothing arrived in the store: is the broker running?")
    offered = len(polls) * params.tags
    elapsed_s = (recorder.last_commit_ns - polls[0]) / 1e9
    return {
        "points_per_s": check.offered_found / elapsed_s,
        "p50_ms": recorder.percentile_ms(50),
        "p99_ms": recorder.percentile_ms(99),
        "max_ms": recorder.percentile_ms(100),
        "lost": offered - check.offered_found,
        "duplicated": check.duplicated,
        "offered": offered,
        "offered_points_per_s": offered / ((polls[-1] - polls[0]) / 1e9 + params.period_s),
        "skipped_polls": report["skipped_polls"],
        "edge_publish_p99_ms": float(np.percentile(report["publish_ms"], 99)),
        "extra": check.extra,
        "elapsed_s": elapsed_s,
        "edge_cpu_s": float(report["cpu_s"]),
        "platform_cpu_s": platform_cpu_s,
    }


async def _show(ingestor: Ingestor, params: EdgeParams, bar: Progress | None) -> None:
    if bar is None:
        return
    task = bar.add_task("points stored", total=params.rate * params.seconds)
    while True:
        bar.update(task, completed=ingestor.stats.rows_stored)
        await asyncio.sleep(_TICK_S)


def format_e2e_table(result: dict[str, float]) -> Table:
    """The result of `run_e2e_bench` as a Rich table."""
    table = Table(title="factoryos bench e2e (gateway → MQTT Sparkplug B → platform → DuckDB)")
    table.add_column("measure")
    table.add_column("value", justify="right")
    table.add_row("sustained", f"{result['points_per_s']:,.0f} points/s")
    table.add_row("offered", f"{result['offered_points_per_s']:,.0f} points/s")
    table.add_row("latency p50", f"{result['p50_ms']:,.1f} ms")
    table.add_row("latency p99", f"{result['p99_ms']:,.1f} ms")
    table.add_row("latency max", f"{result['max_ms']:,.1f} ms")
    table.add_row("lost", f"{result['lost']:,.0f} of {result['offered']:,.0f}")
    table.add_row("duplicated", f"{result['duplicated']:,.0f}")
    table.add_row(
        "CPU edge / platform", f"{result['edge_cpu_s']:.1f} s / {result['platform_cpu_s']:.1f} s"
    )
    return table
