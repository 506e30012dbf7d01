"""Compressed-air figures against hand-computed examples (docs/energy.md, "Compressed air")."""

import numpy as np
import pytest

from factoryos.apps.energy.air import (
    ATM_BAR,
    CompressorSeries,
    Leakage,
    figures,
    leakage,
    power_slope,
    run_on_advice,
    setpoint_advice,
    unloaded_stretches,
)
from factoryos.apps.energy.errors import ReadingError

S = 1_000_000_000


def series(
    t_s: list[float],
    kw: list[float],
    flow: list[float],
    bar: list[float],
    loaded: list[int],
    running: list[int],
    max_gap_s: float = 61.0,
) -> CompressorSeries:
    return CompressorSeries(
        "comp",
        (np.array(t_s) * S).astype(np.int64),
        np.array(kw, float),
        np.array(flow, float),
        np.array(bar, float),
        np.array(loaded, bool),
        np.array(running, bool),
        max_gap_s,
    )


def test_specific_power_and_load_ratio() -> None:
    c = series(
        [0, 60, 120, 180, 240],
        kw=[60, 60, 20, 20, 0],
        flow=[10, 10, 0, 0, 0],
        bar=[7, 7, 7, 7, 7],
        loaded=[1, 1, 0, 0, 0],
        running=[1, 1, 1, 1, 0],
    )
    f = figures(c)
    # 60 kW for 2 min + 20 kW for 2 min = 2 + 0.6667 kWh; 10 m³/min for 2 min = 20 m³
    assert f.kwh == pytest.approx(9600 / 3600)
    assert f.air_m3 == pytest.approx(20.0)
    assert f.specific_power == pytest.approx(8.0)  # 2.6667 kWh × 60 / 20 m³
    assert f.load_ratio == pytest.approx(0.5)
    assert f.unloaded_kwh == pytest.approx(2400 / 3600)


def test_a_gap_counts_for_nothing() -> None:
    c = series([0, 60, 600], [60, 60, 60], [10, 10, 10], [7, 7, 7], [1, 1, 1], [1, 1, 1])
    assert figures(c).kwh == pytest.approx(1.0)  # the 540-s silence is not integrated


def test_leakage_from_a_no_demand_window_with_storage() -> None:
    t = [0, 60, 120, 180, 240, 300, 360, 420, 480, 540, 600]
    flow = [10, 0, 10, 0, 0, 10, 0, 0, 0, 0, 0]  # 3 loaded minutes: 30 m³ in 10 min
    bar = [7.0, 7.2, 7.1, 7.3, 7.2, 7.1, 7.4, 7.3, 7.2, 7.1, 7.5]
    c = series(t, [50] * 11, flow, bar, [f > 0 for f in flow], [1] * 11)
    leak = leakage([c], [(0, 600 * S)], [2.0])
    assert leak is not None
    stored = (7.5 - 7.0) * 2.0 / ATM_BAR  # the receiver ends 0.5 bar higher
    assert leak.m3_min == pytest.approx((30.0 - stored) / 10.0)
    assert leak.pressure_bar == pytest.approx(np.mean(bar[:10]))
    assert leakage([c], [], [2.0]) is None


def test_leaks_scale_with_absolute_pressure() -> None:
    leak = Leakage(2.0, 7.0, 8.0)
    assert leak.at(6.0) == pytest.approx(2.0 * (6.0 + ATM_BAR) / (7.0 + ATM_BAR))


def _band(n: int = 200) -> CompressorSeries:
    """Loaded at 40 + 2·p kW while the pressure climbs 6.5 → 7.5 bar, 1 s apart."""
    bar = np.linspace(6.5, 7.5, n)
    return series(list(range(n)), list(40 + 2 * bar), [10.0] * n, list(bar), [1] * n, [1] * n, 2.0)


def test_power_slope_is_fitted_on_loaded_samples() -> None:
    slope = power_slope(_band())
    assert slope is not None and slope.kw_per_bar == pytest.approx(2.0)
    assert power_slope(_band(10)) is None  # too few samples to fit


def test_setpoint_advice_hand_computed() -> None:
    c = _band()
    leak = Leakage(1.0, 7.0, 8.0)
    advice = setpoint_advice([c], leak, required_bar=5.5, margin_bar=0.2)
    lowest = float(np.percentile(c.pressure_bar[:-1], 1.0))  # the last one holds for 0 s
    assert advice.lowest_bar == pytest.approx(lowest)
    assert advice.reduce_bar == pytest.approx(round(lowest - 5.7, 1)) == pytest.approx(0.8)
    hours = 199 / 3600  # the last sample holds for nothing
    assert advice.loaded_kwh_saved == pytest.approx(2.0 * 0.8 * hours)
    less = 1.0 * 0.8 / (7.0 + ATM_BAR)  # m³/min fewer through the same holes, at any mean
    f = figures(c)
    assert advice.leak_kwh_saved == pytest.approx(less * 60 * hours * f.kwh / f.air_m3)
    assert advice.saving_kwh == pytest.approx(advice.loaded_kwh_saved + advice.leak_kwh_saved)


def test_no_advice_when_the_band_already_sits_on_the_need() -> None:
    advice = setpoint_advice([_band()], None, required_bar=6.4, margin_bar=0.2)
    assert advice.reduce_bar == 0.0 and advice.saving_kwh == 0.0
    assert "already" in advice.note


def test_run_on_timer_replay() -> None:
    # loaded 60 s; unloaded 300 s then the motor stops; stopped 60 s; restarts loaded 60 s;
    # unloaded 100 s then reloads; loaded 60 s
    t = [0, 60, 360, 420, 480, 580, 640]
    c = series(
        t,
        kw=[55, 16.5, 0.3, 55, 16.5, 55, 55],
        flow=[10, 0, 0, 10, 0, 10, 10],
        bar=[7] * 7,
        loaded=[1, 0, 0, 1, 0, 1, 1],
        running=[1, 1, 0, 1, 1, 1, 1],
        max_gap_s=400,
    )
    assert unloaded_stretches(c) == [(300.0, True), (100.0, False)]
    advice = run_on_advice(c, delay_s=120, idle_kw=0.3, max_starts_per_h=100)
    assert advice is not None
    # 180 s of the first stretch are cut; the 100-s one ends by reloading before 120 s
    assert advice.saving_kwh == pytest.approx(180 * (16.5 - 0.3) / 3600)
    assert advice.starts_per_h == pytest.approx(1 / (640 / 3600))
    assert run_on_advice(c, delay_s=60, idle_kw=0.3, max_starts_per_h=5) is None


def test_bad_series_are_refused_by_name() -> None:
    with pytest.raises(ReadingError, match="comp: fewer than two samples"):
        series([0], [1], [1], [7], [1], [1])
    with pytest.raises(ReadingError, match="flow_m3_min is not a number"):
        series([0, 1], [1, 1], [1, float("nan")], [7, 7], [1, 1], [1, 1])
    with pytest.raises(ReadingError, match="not increasing"):
        series([0, 0], [1, 1], [1, 1], [7, 7], [1, 1], [1, 1])
