"""Train in the platform, infer at the edge: the scores agree to 1e-5.

The platform trains CNC-01's anomaly model on an hour of the virtual factory's polls and
exports it to ONNX. The edge side is the gateway's own path: Modbus pollers against the
simulator, the scoring publisher running the ONNX file with ONNX Runtime, the durable outbox
and the NATS uplink to the real JetStream server. The platform side stores what arrives
(inputs and edge scores) and recomputes every score with the trained detector's own numpy
code from the stored inputs. Each edge score must equal the platform's to 1e-5, row for row,
through normal running and an injected overheat that drives the score well above 1."""

import asyncio
from pathlib import Path

import numpy as np

from edge.harness import Platform, ids_of_platform
from factoryos.apps.maintenance.config import AnomalySpec, GateSpec, signal_paths
from factoryos.apps.maintenance.training import history_rows, train_anomaly
from factoryos.connect import build_pollers
from factoryos.edge import Gateway, NatsUplink, NatsUplinkConfig, Outbox, edge_tag_ids
from factoryos.edge.inference import Gate, ScoringPublisher, load_models
from factoryos.model import SiteFile
from factoryos.runtime.history import record_history
from factoryos.sim import (
    DEFAULT_START_NS,
    SimulatorHost,
    VirtualFactory,
    load_demo_site,
    with_ports,
)
from factoryos.store.duckdb_store import DuckDBStore
from support.nats_server import NatsProcess
from support.ports import free_ports

CNC = "demo/machining/line1/cell1/cnc-01"
SIGNALS = ["power_kw", "spindle_speed_rpm", "vibration_mm_s", "spindle_temp_c", "coolant_temp_c"]
SCORE_TAG = f"{CNC}/anomaly_score"
HOUR_NS = 3_600 * 10**9
START = DEFAULT_START_NS + 7 * HOUR_NS  # on shift
STEPS, OVERHEAT_AT = 400, 200


def _site() -> SiteFile:
    site = load_demo_site()
    return with_ports(site, dict(zip([d.name for d in site.devices], free_ports(8), strict=True)))


def _train(
    site: SiteFile, factory: VirtualFactory, tmp_path: Path
) -> tuple[AnomalySpec, object, Path]:
    """The platform's training: an hour of polls stored, rows built, the model exported."""
    store = DuckDBStore(tmp_path / "training.duckdb")
    ids = ids_of_platform(site)
    record_history(factory, store, ids, 3_600)
    spec = AnomalySpec(signals=SIGNALS, gate=GateSpec(tag="state", values=[6]), family="pca")
    signals = signal_paths(CNC, spec)
    gate = Gate(f"{CNC}/state", (6.0,))
    wanted = [ids[s] for s in [*signals, gate.tag]]
    rows = history_rows(store.iter_raw(wanted, 0, 2**62), signals, ids, gate)
    store.close()
    trained = train_anomaly(CNC, spec, rows, created_by="test")
    model_file = tmp_path / "cnc-01.onnx"
    model_file.write_bytes(trained.model.artifact)
    return spec, trained.detector, model_file


async def test_edge_scores_equal_the_platform_model_to_1e_5(
    nats_process: NatsProcess, stream_name: str, tmp_path: Path
) -> None:
    nats_url = nats_process.url  # the uplink creates its stream over every site's subject
    site = _site()
    factory = VirtualFactory(site, seed=5, start_ns=START)  # trained on, then served live
    spec, detector, model_file = _train(site, factory, tmp_path)
    edge_ids, platform_ids = edge_tag_ids(site), ids_of_platform(site)
    scorer = load_models([model_file], edge_ids)
    outbox = await Outbox.open(tmp_path / "outbox.sqlite", max_bytes=50 * 2**20)
    config = NatsUplinkConfig(url=nats_url, stream=stream_name, timeout_s=2)
    uplink = NatsUplink(config, gateway="gw-1", site="demo",
                        path_of={i: p for p, i in edge_ids.items()})  # fmt: skip
    gateway = Gateway("gw-1", outbox, uplink, edge_ids)
    publish = ScoringPublisher(gateway.publish, scorer, {str(model_file): edge_ids[SCORE_TAG]})
    stop = asyncio.Event()
    sender = asyncio.create_task(gateway.run_sender(stop))
    platform = Platform(nats_url, stream_name, platform_ids, tmp_path)
    platform.start()
    pollers = [p for p in build_pollers(site, edge_ids) if p.name == "cnc-01-plc"]
    try:
        async with SimulatorHost(factory) as host:
            for step in range(STEPS):
                if step == OVERHEAT_AT:
                    factory.inject_fault(CNC, "overheat", severity=2.0, duration_s=600)
                host.advance(1)
                for poller in pollers:
                    await publish(await poller.poll_once(factory.now_ns, retry_now=True))
        async with asyncio.timeout(30):
            while outbox.stats.pending_records:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.05)
        await platform.caught_up(nats_url, stream_name)

        store = platform.store
        edge = store.raw(platform_ids[SCORE_TAG], 0, 2**62)
        signals = signal_paths(CNC, spec)
        gate = Gate(f"{CNC}/state", (6.0,))
        wanted = [platform_ids[s] for s in [*signals, gate.tag]]
        rows = history_rows(store.iter_raw(wanted, 0, 2**62), signals, platform_ids, gate)
        platform_scores = detector.score(rows.values)  # type: ignore[attr-defined]
        scored_ts = rows.ts[detector.window - 1 :]  # type: ignore[attr-defined]

        assert len(edge) > 300 and edge.ts.tolist() == scored_ts.tolist()
        assert np.isfinite(edge.values).all()
        assert np.max(np.abs(edge.values - platform_scores)) <= 1e-5
        assert edge.values.max() > 2.0 and np.median(edge.values[:100]) < 1.0
    finally:
        stop.set()
        await sender
        for p in pollers:
            await p.close()
        await uplink.close()
        await outbox.close()
        await platform.close()
