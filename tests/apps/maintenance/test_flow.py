"""Anomaly → work order → maintenance window, end to end on the platform's own parts.

The demo plant's CNC-01 runs in the virtual factory; two hours of its polls are stored in
DuckDB; the maintenance app trains its anomaly model on them (the registry keeps and
promotes it), then scores the live stream on the bus while an overheat is injected. The
anomaly opens one work order whose evidence names the spindle temperature; more anomalous
rows add evidence instead of opening a second order; a planner assigns it with a downtime
window, and production scheduling's query sees that window on the machine."""

import asyncio
import time
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.maintenance.config import AnomalySpec, GateSpec, MaintenanceSection
from factoryos.apps.maintenance.monitor import HealthState
from factoryos.apps.maintenance.service import MaintenanceApp, TrainingRequest
from factoryos.apps.maintenance.workorders import Window
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch
from factoryos.model.site import load_site
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory
from factoryos.sim.sites import DEMO_SITE
from factoryos.store.backend import open_store
from factoryos.store.catalog import Catalog

CNC = "demo/machining/line1/cell1/cnc-01"
SIGNALS = ["power_kw", "spindle_speed_rpm", "vibration_mm_s", "spindle_temp_c", "coolant_temp_c"]
HOUR_NS = 3_600 * 10**9
T0 = 1_767_600_000 * 10**9 + 7 * HOUR_NS  # a Monday 07:00 UTC: CNC-01 is on shift


def _live_polls(factory: VirtualFactory, tag_ids: dict[str, int], steps: int) -> list[SampleBatch]:
    paths = [f"{CNC}/{name}" for name in [*SIGNALS, "state"]]
    polls = []
    for _ in range(steps):
        factory.step()
        values = [factory.value(p) for p in paths]
        polls.append(SampleBatch.build([tag_ids[p] for p in paths], factory.now_ns, values))
    return polls


@pytest.fixture
def plant(tmp_path: Path) -> tuple[MaintenanceApp, VirtualFactory, dict[str, int], InProcessBus]:
    site = load_site(DEMO_SITE)
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    tag_ids = catalog.register_site(site)
    store = open_store(tmp_path / "ts.duckdb")
    factory = VirtualFactory(site, seed=3, start_ns=T0, step_s=1.0)
    record_history(factory, store, tag_ids, 2 * 3_600)
    spec = AnomalySpec(
        signals=SIGNALS,
        gate=GateSpec(tag="state", values=[6]),
        score_tag="anomaly_score",
        family="pca",
        persistence=10,
    )
    bus = InProcessBus()
    app = MaintenanceApp(
        MaintenanceSection(anomaly={CNC: spec}), catalog, store, bus, tag_ids, "default"
    )
    return app, factory, tag_ids, bus


async def test_an_overheat_opens_one_work_order_whose_window_scheduling_sees(
    plant: tuple[MaintenanceApp, VirtualFactory, dict[str, int], InProcessBus],
) -> None:
    app, factory, tag_ids, bus = plant
    now = factory.now_ns
    trained = await asyncio.to_thread(
        app.train, TrainingRequest(CNC, now - 2 * HOUR_NS, now, promote=True), "user ann", now
    )
    assert (trained.status, trained.family, trained.train_rows > 1_000) == ("promoted", "pca", True)
    assert trained.metrics["onnx_max_abs_diff"] <= 1e-5

    stop = asyncio.Event()
    scores = bus.subscribe("scores-seen", maxsize=100_000)
    runner = asyncio.create_task(app.run(stop))
    await asyncio.sleep(0.1)  # the app loads the promoted model before the first batch
    for poll in _live_polls(factory, tag_ids, 600):  # ten normal minutes
        await bus.publish(poll)
        await asyncio.sleep(0)  # as a poller does: the app takes each batch as it comes
    factory.inject_fault(CNC, "overheat", severity=1.5, duration_s=3_600)
    for poll in _live_polls(factory, tag_ids, 1_800):
        await bus.publish(poll)
        await asyncio.sleep(0)
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and app.orders.orders(app.tenant_id).orders == []:  # noqa: ASYNC110 - the order is opened in a worker thread
        await asyncio.sleep(0.05)
    stop.set()
    await runner

    (health,) = app.monitor.health()
    assert health.state is HealthState.ANOMALY and health.version == trained.version
    assert health.top[0][0] == f"{CNC}/spindle_temp_c"
    (order,) = app.orders.orders(app.tenant_id).orders
    assert (order.equipment, order.source, order.status) == (CNC, "anomaly", "open")
    assert "spindle_temp_c" in order.evidence and order.model_version == f"anomaly/{CNC} v1"

    published = [b for b in scores.take_all() if tag_ids[f"{CNC}/anomaly_score"] in b.tag_ids]
    values = np.concatenate([b.values for b in published])
    assert values.max() > 1.0 and np.median(values[:300]) < 1.0  # normal first, then above

    window = Window(factory.now_ns + 2 * HOUR_NS, factory.now_ns + 4 * HOUR_NS)
    app.orders.assign(
        app.tenant_id, order.id, order.version, assignee="tech bo", window=window, actor="ann"
    )
    seen = app.orders.maintenance_windows(
        app.tenant_id, CNC, start_ns=factory.now_ns, end_ns=factory.now_ns + 24 * HOUR_NS
    )
    assert [(w.equipment, w.start_ns, w.end_ns, w.order_id) for w in seen] == [
        (CNC, window.start_ns, window.end_ns, order.id)
    ]


def test_training_on_too_little_history_says_how_much_there_was(
    plant: tuple[MaintenanceApp, VirtualFactory, dict[str, int], InProcessBus],
) -> None:
    app, factory, _, _ = plant
    now = factory.now_ns
    from factoryos.apps.maintenance.errors import MaintenanceError

    with pytest.raises(MaintenanceError, match="cnc-01"):
        app.train(TrainingRequest(CNC, now - 10 * 10**9, now), "user ann", now)
    assert app.registry.versions(app.tenant_id) == []
