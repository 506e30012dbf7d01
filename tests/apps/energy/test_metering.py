"""Energy from counters and power, checked against examples computed by hand."""

import numpy as np
import pytest

from factoryos.apps.energy.demand import (
    Window,
    energy_by_key,
    idle_kwh,
    load_profile,
    per_unit,
    state_windows,
)
from factoryos.apps.energy.errors import ReadingError, UnitError
from factoryos.apps.energy.metering import CounterMeter, PowerMeter, from_counter, from_power

H = 3_600_000_000_000
S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z


def times(*hours: float) -> np.ndarray:
    return np.array([T0 + round(h * H) for h in hours], dtype=np.int64)


def values(*v: float) -> np.ndarray:
    return np.array(v, dtype=np.float64)


def test_a_rollover_adds_the_wrapped_difference() -> None:
    # 950 → 990: 40; 990 → 20 wraps at 1000: 20 + 1000 − 990 = 30; 20 → 70: 50.
    spec = CounterMeter("m/energy_kwh", modulus=1000.0, max_step=100.0)
    curve = from_counter(spec, times(0, 1, 2, 3), values(950, 990, 20, 70))
    assert curve.total_kwh == pytest.approx(120.0)
    assert curve.rollovers == (int(times(2)[0]),)
    assert curve.resets == ()


def test_a_reset_adds_the_new_reading_and_is_listed() -> None:
    # 500 → 520: 20; 520 → 5 restarted from 0: 5; 5 → 25: 20.
    spec = CounterMeter("m/energy_kwh", max_step=50.0)
    curve = from_counter(spec, times(0, 1, 2, 3), values(500, 520, 5, 25))
    assert curve.total_kwh == pytest.approx(45.0)
    assert curve.resets == (int(times(2)[0]),)


def test_the_counter_unit_is_converted() -> None:
    curve = from_counter(CounterMeter("m/energy", unit="MWh"), times(0, 1), values(1.0, 1.25))
    assert curve.total_kwh == pytest.approx(250.0)
    wh = from_counter(CounterMeter("m/energy", unit="Wh"), times(0, 1), values(0.0, 1500.0))
    assert wh.total_kwh == pytest.approx(1.5)


@pytest.mark.parametrize(
    ("spec", "readings", "says"),
    [
        # a drop that is neither a wrap within max_step nor a restart near 0
        (CounterMeter("m/e", max_step=50.0), (500, 480, 490), "fell 500.0 → 480.0"),
        # without max_step no drop can be told from a glitch
        (CounterMeter("m/e"), (500, 10, 20), "neither a rollover nor a reset"),
        (CounterMeter("m/e", max_step=50.0), (500, 600, 620), "rose 100.0 kWh"),
        (CounterMeter("m/e"), (500, -1, 20), "-1.0 is not a number ≥ 0"),
        (CounterMeter("m/e"), (500, float("nan"), 20), "nan is not a number ≥ 0"),
        (CounterMeter("m/e", modulus=1000.0, max_step=100.0), (500, 1000, 20), "modulus"),
    ],
)
def test_an_impossible_reading_names_the_meter_and_time(
    spec: CounterMeter, readings: tuple[float, ...], says: str
) -> None:
    with pytest.raises(ReadingError, match="meter m/e at 2026-01-01T01:00:00") as err:
        from_counter(spec, times(0, 1, 2), values(*readings))
    assert says in str(err.value)


def test_readings_out_of_order_or_missing_are_refused() -> None:
    with pytest.raises(ReadingError, match="not after the previous one"):
        from_counter(CounterMeter("m/e"), times(0, 2, 1), values(1, 2, 3))
    with pytest.raises(ReadingError, match="no readings"):
        from_counter(CounterMeter("m/e"), times(), values())


def test_a_wrapping_counter_needs_a_limit_below_its_modulus() -> None:
    with pytest.raises(ReadingError, match="needs max_step or max_power"):
        CounterMeter("m/e", modulus=1000.0)
    with pytest.raises(ReadingError, match="max_step must be below the modulus"):
        CounterMeter("m/e", modulus=1000.0, max_step=1000.0)
    with pytest.raises(ReadingError, match="max_power must be > 0"):
        CounterMeter("m/e", max_power=0.0)


def test_after_an_outage_a_counter_may_rise_by_what_the_load_could_draw() -> None:
    # limit = 10 kWh + 100 kW × dt: 10 + 100 × 5 = 510 kWh over a 5-h silence, 110 over 1 h.
    spec = CounterMeter("m/e", modulus=1000.0, max_step=10.0, max_power=100.0)
    t = times(0, 5, 6)  # readings at 00:00, 05:00 and 06:00
    # 400 → 900 after 5 h: 500 kWh; 900 → 5 wraps: 5 + 1000 − 900 = 105 kWh in the hour
    curve = from_counter(spec, t, values(400, 900, 5))
    assert curve.total_kwh == pytest.approx(605.0)
    assert curve.rollovers == (int(t[2]),)
    with pytest.raises(ReadingError, match="meter m/e at 2026-01-01T05:00:00") as err:
        from_counter(spec, t, values(300, 820, 830))  # 520 kWh in 5 h
    assert "above the 510 kWh a meter can count in that time" in str(err.value)
    with pytest.raises(ReadingError, match=r"rose 120\.0 kWh") as err:
        from_counter(spec, t, values(0, 500, 620))  # 120 kWh in the sixth hour
    assert "above the 110 kWh" in str(err.value)


def test_a_silence_that_could_hide_a_whole_turn_of_the_register_is_refused() -> None:
    # 1000 kWh register, 100 kW: a turn takes 10 h, so a 10-h silence could hide one.
    spec = CounterMeter("m/e", modulus=1000.0, max_step=1.0, max_power=100.0)
    with pytest.raises(ReadingError, match=r"at 2026-01-01T10:00:00\.000Z: silent since") as err:
        from_counter(spec, times(0, 10), values(100, 200))
    assert "a whole turn of the register (1000.0) unseen" in str(err.value)


def test_power_is_integrated_by_trapezoids() -> None:
    # (100 + 200) / 2 kW × 10 s + (200 + 200) / 2 kW × 10 s = 3500 kJ = 0.97222 kWh
    spec = PowerMeter("m/active_power_kw")
    t = np.array([T0, T0 + 10 * S, T0 + 20 * S], dtype=np.int64)
    curve = from_power(spec, t, values(100, 200, 200))
    assert curve.total_kwh == pytest.approx(3500 / 3600)
    watts = from_power(PowerMeter("m/p", unit="W"), t, values(100e3, 200e3, 200e3))
    assert watts.total_kwh == pytest.approx(3500 / 3600)


def test_a_silence_longer_than_max_gap_is_a_gap_not_a_guess() -> None:
    # 0–10 s at 100 kW, silent 10–100 s, 100–110 s at 100 kW: 2 × 1000 kJ, not 11,000 kJ.
    spec = PowerMeter("m/p", max_gap_s=60.0)
    t = np.array([T0, T0 + 10 * S, T0 + 100 * S, T0 + 110 * S], dtype=np.int64)
    curve = from_power(spec, t, values(100, 100, 100, 100))
    assert curve.total_kwh == pytest.approx(2000 / 3600)
    assert curve.gaps == ((T0 + 10 * S, T0 + 100 * S),)
    assert curve.coverage(T0, T0 + 110 * S) == pytest.approx(20 / 110)
    assert curve.coverage(T0, T0 + 10 * S) == pytest.approx(1.0)
    # a window before the first reading is not measured either
    assert curve.coverage(T0 - 10 * S, T0 + 10 * S) == pytest.approx(0.5)


def test_power_in_the_wrong_unit_or_implausible_is_refused() -> None:
    t = times(0, 1)
    with pytest.raises(UnitError, match=r"meter m/p: 'kWh' \(an energy\) .* 'kW' \(a power\)"):
        from_power(PowerMeter("m/p", unit="kWh"), t, values(1, 2))
    with pytest.raises(ReadingError, match=r"meter m/p at 2026-01-01T01:00:00.*above max_power"):
        from_power(PowerMeter("m/p", max_power=500.0), t, values(100, 900))
    with pytest.raises(ReadingError, match=r"-5\.0 is not a number ≥ 0"):
        from_power(PowerMeter("m/p"), t, values(100, -5))


def test_a_window_takes_its_share_of_a_straddling_interval_by_time() -> None:
    # 100 kWh counted between 00:00 and 02:00: the hour 00:00–01:00 gets 50.
    curve = from_counter(CounterMeter("m/e"), times(0, 2), values(0, 100))
    shifts = [
        ("early", Window(T0, T0 + H)),
        ("late", Window(T0 + H, T0 + 2 * H)),
        ("early", Window(T0 + 2 * H, T0 + 3 * H)),  # after the last reading: nothing
    ]
    assert energy_by_key(curve, shifts) == pytest.approx({"early": 50.0, "late": 50.0})


def test_idle_energy_is_what_was_used_while_not_producing() -> None:
    # 60 kWh/h for 3 h; executing (6) 0–1 h, idle (4) 1–2 h, executing 2–2.5 h, held (11)
    # 2.5–3 h → idle energy = 60 + 30 = 90 kWh.
    curve = from_counter(CounterMeter("m/e"), times(0, 1, 2, 3), values(0, 60, 120, 180))
    state_t = times(0, 0.5, 1, 2, 2.5)
    states = values(6, 6, 4, 6, 11)
    assert [s for s, _ in state_windows(state_t, states, T0 + 3 * H)] == [6, 4, 6, 11]
    assert idle_kwh(curve, state_t, states, T0 + 3 * H) == pytest.approx(90.0)


def test_per_good_part_is_undefined_without_good_parts() -> None:
    assert per_unit(90.0, 45) == pytest.approx(2.0)
    assert per_unit(90.0, 0) is None


def test_load_profile_and_peak_demand() -> None:
    # 15-min intervals: 100 kW for 15 min, 300 kW for 15 min, then the meter is silent.
    spec = PowerMeter("m/p", max_gap_s=60.0)
    t = np.arange(T0, T0 + 30 * 60 * S + 1, 30 * S, dtype=np.int64)
    p = np.where(t < T0 + 15 * 60 * S, 100.0, 300.0)
    p[t == T0 + 15 * 60 * S] = 100.0  # the step happens right after 00:15
    curve = from_power(spec, t, p)
    profile = load_profile(curve, T0, T0 + 45 * 60 * S)
    # the 00:15 interval: 30 s ramping 100 → 300 kW, then 300: (200 × 30 + 300 × 870) / 900
    assert profile.kw.tolist() == pytest.approx([100.0, (200 * 30 + 300 * 870) / 900, 0.0])
    assert profile.coverage.tolist() == pytest.approx([1.0, 1.0, 0.0])
    assert profile.peak() == (T0 + 15 * 60 * S, pytest.approx(296.6667, rel=1e-6))
    with pytest.raises(ReadingError, match="multiples of 900 s"):
        load_profile(curve, T0 + S, T0 + 900 * S)


def test_a_partly_measured_interval_shows_the_demand_of_its_measured_part() -> None:
    # 60 kW from 00:10 to 00:20: the 00:00 and 00:15 intervals are each measured for 5 min.
    spec = PowerMeter("m/p", max_gap_s=60.0)
    t = np.arange(T0 + 10 * 60 * S, T0 + 20 * 60 * S + 1, 30 * S, dtype=np.int64)
    curve = from_power(spec, t, np.full(len(t), 60.0))
    profile = load_profile(curve, T0, T0 + 30 * 60 * S)
    assert profile.kw.tolist() == pytest.approx([60.0, 60.0])  # 5 kWh over 5 min each
    assert profile.coverage.tolist() == pytest.approx([1 / 3, 1 / 3])
    assert profile.peak() is None  # no interval was measured whole


def test_state_samples_after_the_end_and_bad_windows_are_not_counted() -> None:
    # 100 kWh/h for 1 h; the window ends at 0.5 h: the idle state from 0.6 h is outside it
    curve = from_counter(CounterMeter("m/e"), times(0, 1), values(0, 100))
    state_t, states = times(0, 0.6), values(6, 4)
    assert idle_kwh(curve, state_t, states, T0 + H // 2) == pytest.approx(0.0)
    assert [w for _, w in state_windows(state_t, states, T0 + H // 2)] == [Window(T0, T0 + H // 2)]
    with pytest.raises(
        ReadingError, match=r"state at 2026-01-01T00:36:00\.000Z: state is not a number"
    ):
        state_windows(state_t, values(6, float("nan")), T0 + H)
    with pytest.raises(ReadingError, match="ends before it starts"):
        Window(T0 + H, T0)
