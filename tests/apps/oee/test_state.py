"""Machine state: from a state tag, derived from signals, and time per category."""

import numpy as np
import pytest
from pydantic import ValidationError

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.kpi import availability
from factoryos.apps.oee.state import (
    DerivationRules,
    Intervals,
    PackMLState,
    PlannedWindow,
    categorize,
    derive_states,
    state_intervals,
)
from factoryos.apps.oee.taxonomy import TimeCategory
from factoryos.model.quality import Quality
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.states import NS_PER_S, MachineState

S = NS_PER_S
P, C = PackMLState, TimeCategory
EXE, IDLE, DOWN, UNDEF = P.EXECUTE, P.IDLE, P.ABORTED, P.UNDEFINED


def _secs(*values: float) -> np.ndarray:
    return np.array([round(v * S) for v in values], dtype=np.int64)


def _intervals(*spans: tuple[float, PackMLState]) -> Intervals:
    """Consecutive intervals from (duration s, state) pairs, starting at 0."""
    ends = np.cumsum([round(d * S) for d, _ in spans]).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return Intervals(starts, ends, np.array([s for _, s in spans], dtype=np.int16))


def _as_list(iv: Intervals) -> list[tuple[float, float, PackMLState]]:
    return [
        (int(a) / S, int(b) / S, PackMLState(int(c)))
        for a, b, c in zip(iv.start_ns, iv.end_ns, iv.state, strict=True)
    ]


# --- state tag ---------------------------------------------------------------------------


def test_state_tag_samples_hold_and_repeats_merge() -> None:
    iv = state_intervals(_secs(0, 10, 20, 30), np.array([6.0, 6.0, 4.0, 9.0]), end_ns=40 * S)
    assert _as_list(iv) == [(0, 20, EXE), (20, 30, IDLE), (30, 40, DOWN)]


def test_unknown_codes_and_bad_samples_are_undefined() -> None:
    codes = np.array([6.0, 42.0, 6.5, np.nan, 6.0, 4.0])
    quality = np.array([0, 0, 0, 0, 0, Quality.BAD], dtype=np.uint8)
    iv = state_intervals(_secs(0, 1, 2, 3, 4, 5), codes, 6 * S, quality)
    assert _as_list(iv) == [(0, 1, EXE), (1, 4, UNDEF), (4, 5, EXE), (5, 6, UNDEF)]


def test_uncertain_samples_keep_their_state() -> None:
    quality = np.array([Quality.UNCERTAIN], dtype=np.uint8)
    iv = state_intervals(_secs(0), np.array([11.0]), 5 * S, quality)
    assert _as_list(iv) == [(0, 5, P.HELD)]


@pytest.mark.parametrize(
    ("ts", "end", "match"),
    [
        (_secs(), 1, "no samples"),
        (_secs(0, 2, 2), 3 * S, "t=2000000000 ns is not after"),
        (_secs(0, 5), 4 * S, "before the last sample"),
    ],
)
def test_state_tag_refuses_bad_timestamps(ts: np.ndarray, end: int, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        state_intervals(ts, np.full(ts.size, 6.0), end)


# --- derived states ----------------------------------------------------------------------

RULES = DerivationRules(idle_power_kw=2.0, running_speed=100.0, count_window_s=10.0)


def test_speed_and_power_give_running_idle_and_down() -> None:
    ts = _secs(0, 10, 20, 30)
    iv = derive_states(
        ts, np.array([20.0, 5.0, 0.5, 20.0]), np.array([800.0, 0.0, 0.0, 800.0]), None,
        RULES, end_ns=40 * S,
    )  # fmt: skip
    assert _as_list(iv) == [(0, 10, EXE), (10, 20, IDLE), (20, 30, DOWN), (30, 40, EXE)]


def test_a_rising_counter_alone_means_running() -> None:
    # counts at 0,5,10,15,20,25 s: window 10 s compares with the sample 10 s earlier
    counter = np.array([0.0, 1.0, 2.0, 2.0, 2.0, 3.0])
    power = np.full(6, 5.0)
    iv = derive_states(_secs(0, 5, 10, 15, 20, 25), power, None, counter, RULES, end_ns=30 * S)
    # t=0: no increase yet; 5, 10, 15: increase within 10 s; 20: none; 25: +1
    assert _as_list(iv) == [(0, 5, IDLE), (5, 20, EXE), (20, 25, IDLE), (25, 30, EXE)]


def test_missing_data_is_undefined_not_idle() -> None:
    speed = np.array([0.0, np.nan, 0.0])
    power = np.array([5.0, 5.0, np.nan])
    iv = derive_states(_secs(0, 1, 2), power, speed, None, RULES, end_ns=3 * S)
    assert _as_list(iv) == [(0, 1, IDLE), (1, 3, UNDEF)]


def test_flicker_below_min_duration_stays_in_the_state_before() -> None:
    rules = RULES.model_copy(update={"min_duration_s": 5.0})
    # running 0–10, a 4 s speed dip (flicker), running to 30, then idle for exactly 5 s
    ts = _secs(0, 10, 14, 30, 35)
    speed = np.array([800.0, 0.0, 800.0, 0.0, 800.0])
    iv = derive_states(ts, np.full(5, 5.0), speed, None, rules, end_ns=45 * S)
    assert _as_list(iv) == [(0, 30, EXE), (30, 35, IDLE), (35, 45, EXE)]


def test_derivation_needs_a_running_signal() -> None:
    with pytest.raises(InvalidInputError, match="speed or a counter"):
        derive_states(_secs(0), np.array([1.0]), None, None, RULES, end_ns=S)


def test_rules_are_strict() -> None:
    with pytest.raises(ValidationError):
        DerivationRules(idle_power_kw="2", running_speed=100.0)  # type: ignore[arg-type]
    with pytest.raises(ValidationError):
        DerivationRules(idle_power_kw=2.0, running_speed=100.0, min_duration_s=-1.0)


# --- categorize --------------------------------------------------------------------------


def test_packml_states_map_to_categories() -> None:
    iv = _intervals((100, EXE), (50, P.HELD), (30, P.ABORTED), (20, P.STOPPED), (10, UNDEF))
    t = categorize(iv, micro_stop_s=0)
    assert t.time_s == {C.PRODUCING: 100, C.SETUP: 50, C.UNPLANNED_DOWN: 30, C.IDLE: 20}
    assert (t.unknown_s, t.calendar_s, t.down_events) == (10, 210, 1)


def test_micro_stop_is_strictly_shorter_than_the_limit() -> None:
    # a 29 s stop between running periods is a micro-stop; a 30 s one (= limit) is not
    iv = _intervals((100, EXE), (29, IDLE), (100, EXE), (30, DOWN), (100, EXE))
    t = categorize(iv, micro_stop_s=30)
    assert t.time_s == {C.PRODUCING: 300, C.MICRO_STOP: 29, C.UNPLANNED_DOWN: 30}
    assert (t.micro_stops, t.down_events) == (1, 1)


def test_a_stop_of_idle_then_down_counts_as_one_stop() -> None:
    iv = _intervals((100, EXE), (10, IDLE), (15, DOWN), (100, EXE))
    assert categorize(iv, micro_stop_s=30).time_s[C.MICRO_STOP] == 25
    assert categorize(iv, micro_stop_s=25).time_s == {
        C.PRODUCING: 200, C.IDLE: 10, C.UNPLANNED_DOWN: 15,
    }  # fmt: skip


def test_a_short_stop_not_between_running_periods_is_not_a_micro_stop() -> None:
    iv = _intervals((5, IDLE), (100, EXE), (5, P.HELD), (100, EXE), (5, DOWN))
    t = categorize(iv, micro_stop_s=30)
    assert C.MICRO_STOP not in t.time_s
    assert t.time_s[C.IDLE] == 5 and t.time_s[C.SETUP] == 5


def test_planned_windows_cut_intervals() -> None:
    # down 100–200 s; a planned window 150–250 s covers its second half and 50 s of running
    iv = _intervals((100, EXE), (100, DOWN), (100, EXE))
    window = PlannedWindow(150 * S, 250 * S, C.BREAK)
    t = categorize(iv, micro_stop_s=0, planned=[window])
    assert t.time_s == {C.PRODUCING: 200, C.UNPLANNED_DOWN: 50, C.BREAK: 50}
    period = t.period("line1/cnc")
    assert availability(period).value == pytest.approx(200 / 250)


def test_a_stop_cut_by_a_planned_window_is_not_a_micro_stop() -> None:
    iv = _intervals((100, EXE), (20, IDLE), (100, EXE))
    t = categorize(iv, micro_stop_s=30, planned=[PlannedWindow(110 * S, 120 * S)])
    assert t.time_s == {C.PRODUCING: 200, C.IDLE: 10, C.PLANNED_DOWNTIME: 10}


def test_bad_planned_windows_and_limits_are_refused() -> None:
    iv = _intervals((10, EXE))
    overlapping = [PlannedWindow(0, 5 * S), PlannedWindow(4 * S, 8 * S)]
    with pytest.raises(InvalidInputError, match="overlap"):
        categorize(iv, 0, overlapping)
    with pytest.raises(InvalidInputError, match="not a planned stop"):
        PlannedWindow(0, S, C.SETUP)
    with pytest.raises(InvalidInputError, match="micro_stop_s"):
        categorize(iv, float("nan"))
    with pytest.raises(InvalidInputError, match="missing"):
        categorize(iv, 0, mapping={EXE: C.PRODUCING})


# --- against the simulator's ground truth -----------------------------------------------


def test_state_tag_path_matches_the_ground_truth() -> None:
    factory = VirtualFactory(load_demo_site(), seed=3, step_s=60.0)
    path = "demo/machining/line1/cell1/cnc-01"
    ts, codes = [factory.now_ns], [factory.signals(path)["state"]]
    for _ in range(3 * 1440):  # three days in one-minute steps
        factory.step()
        ts.append(factory.now_ns)
        codes.append(factory.signals(path)["state"])
    iv = state_intervals(np.array(ts[:-1]), np.array(codes[:-1]), end_ns=ts[-1])
    truth: dict[PackMLState, float] = {}
    for t in factory.truth.intervals(path):
        end = ts[-1] if t.end_ns is None else t.end_ns
        truth[PackMLState(t.state)] = truth.get(PackMLState(t.state), 0.0) + (end - t.start_ns) / S
    assert set(truth) == {PackMLState(s) for s in MachineState}
    assert iv.seconds() == truth
