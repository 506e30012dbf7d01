"""Remaining useful life in the platform: cycles by running time, a type's model trained on
run-to-failure lives the virtual factory simulates, estimates for an equipment from its
stored history (ONNX equal to the fitted model), and a RUL work order under the threshold."""

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.maintenance.config import GateSpec, MaintenanceSection, RulSpec
from factoryos.apps.maintenance.orders import OrdersConfig
from factoryos.apps.maintenance.rul import RulConfig
from factoryos.apps.maintenance.rul_live import (
    RulEstimate,
    RulEstimateError,
    RulRunner,
    cycle_means,
    runs_of,
    trained_model,
)
from factoryos.apps.maintenance.rul_service import simulate_lives
from factoryos.apps.maintenance.service import MaintenanceApp
from factoryos.bus.inprocess import InProcessBus
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.store.backend import open_store
from factoryos.store.catalog import Catalog

S = 10**9
CNC = "demo/machining/line1/cell1/cnc-02"  # runs around the clock: wears every hour
SPEC = RulSpec(
    equipment=[CNC],
    sensors=["power_kw", "vibration_mm_s", "spindle_temp_c", "coolant_temp_c"],
    gate=GateSpec(tag="state", values=[6]),
    cycle_s=1800,
    simulated_lives=12,
)
FAST = RulConfig(seeds=1, folds=3, rounds=150, threads=1)


def test_cycles_mean_the_same_at_any_row_rate() -> None:
    hour_1s = np.arange(3_600, dtype=np.int64) * S
    values_1s = np.column_stack([np.arange(3_600.0), np.ones(3_600)])
    by_second = cycle_means(hour_1s, values_1s, 600)
    hour_60s = hour_1s[::60]
    by_minute = cycle_means(hour_60s, values_1s[::60], 600)
    assert by_second.shape == by_minute.shape == (5, 2)  # the sixth cycle is still running
    assert by_second[:, 0] == pytest.approx([300.5 + 600 * i for i in range(5)], abs=1)
    assert by_minute[:, 1].tolist() == [1.0] * 5


def test_a_long_stop_counts_as_one_minute_of_running() -> None:
    ts = np.array([0, 60, 120, 120 + 86_400, 120 + 86_460], dtype=np.int64) * S
    cycles = cycle_means(ts, np.arange(5.0)[:, np.newaxis], 120)
    # running seconds: 0, 60, 120, 180 (the day-long stop counts 60), 240 → cycles 0,0,1,1,2
    assert cycles[:, 0].tolist() == [0.5, 2.5]


def test_no_complete_cycle_is_no_estimate() -> None:
    assert cycle_means(np.zeros(0, np.int64), np.zeros((0, 2)), 600).shape == (0, 2)
    with pytest.raises(RulEstimateError, match="no life has a complete cycle"):
        runs_of([np.zeros((0, 2))])


@pytest.fixture(scope="module")
def lives() -> list[np.ndarray]:
    found, _ = simulate_lives(load_demo_site(), SPEC)
    assert len(found) == SPEC.simulated_lives  # every life reached its wear failure
    return found


def test_onnx_answers_what_the_fitted_model_answers(lives: list[np.ndarray]) -> None:
    model, record = trained_model("cnc", SPEC, lives, (0, 1), "test", "t", FAST)
    assert record.name == "rul/cnc" and record.kind == "rul" and record.train_rows > 500
    runner = RulRunner.of(record.artifact, dict(record.metrics), SPEC.cycle_s)
    cut = [life[: len(life) // 2] for life in lives[:4]]  # halfway through each life
    expected = model.predict(runs_of(cut))
    hours = SPEC.cycle_s / 3_600
    for unit, history in enumerate(cut):
        rul_h, lower_h, upper_h = runner.estimate(history)
        assert rul_h == pytest.approx(expected.rul[unit] * hours, abs=1e-5)
        assert lower_h == pytest.approx(expected.lower[unit] * hours, abs=1e-5)
        assert upper_h == pytest.approx(expected.upper[unit] * hours, abs=1e-5)


def test_a_worn_machine_gets_an_estimate_and_a_work_order(
    tmp_path: Path, lives: list[np.ndarray]
) -> None:
    site = load_demo_site()
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    tag_ids = catalog.register_site(site)
    store = open_store(tmp_path / "ts.duckdb")
    factory = VirtualFactory(site, seed=4, step_s=10.0)
    record_history(factory, store, tag_ids, 24 * 360)  # a day at 10-s polls
    section = MaintenanceSection(rul={"cnc": SPEC}, work_orders=OrdersConfig(rul_threshold_h=1_000))
    app = MaintenanceApp(section, catalog, store, InProcessBus(), tag_ids, "default")
    _, record = trained_model("cnc", SPEC, lives, (0, 1), "test", "t", FAST)
    now = datetime.fromtimestamp(factory.now_ns / 1e9, UTC)
    version = app.registry.register(app.tenant_id, record, now)
    app.registry.promote(app.tenant_id, "rul/cnc", version.version, "test", now)
    app.reload_models(app.promoted())

    app.rul.estimate(factory.now_ns)

    estimate = app.rul.estimates[CNC]
    assert isinstance(estimate, RulEstimate), estimate
    assert estimate.cycles >= 40  # a day of running in 30-minute cycles, less its stops
    assert 0 <= estimate.lower_h <= estimate.rul_h <= estimate.upper_h
    assert estimate.coverage == pytest.approx(0.8)
    (order,) = app.orders.orders(app.tenant_id).orders
    assert (order.equipment, order.source, order.model_version) == (CNC, "rul", "rul/cnc v1")
    store.close()
