"""Random walks: the engine fires exactly where a plain per-sample loop says it should."""

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.apps.alarms import AlarmEngine, EventKind, LimitRule
from factoryos.model.samples import SampleBatch

from .helpers import S


def expected_activations(
    times: list[int], values: list[float], setpoint: float, deadband: float, on: int, off: int
) -> list[int]:
    """The reference: hysteresis, then on/off delays, one sample at a time."""
    raw = confirmed = False
    run_start = 0
    fired = []
    for t, v in zip(times, values, strict=True):
        new_raw = True if v > setpoint else False if v <= setpoint - deadband else raw
        if new_raw != raw:
            raw, run_start = new_raw, t
        if raw != confirmed and t - run_start >= (on if raw else off):
            confirmed = raw
            if raw:
                fired.append(t)
    return fired


walks = st.lists(st.tuples(st.integers(1, 3), st.integers(-3, 3)), min_size=1, max_size=120)


@settings(max_examples=300, deadline=None)
@given(
    steps=walks,
    setpoint=st.integers(-5, 5),
    deadband=st.sampled_from([0.0, 1.0, 2.5]),
    on_s=st.integers(0, 4),
    off_s=st.integers(0, 4),
    cuts=st.lists(st.integers(0, 120), max_size=6),
)
def test_activations_match_threshold_crossings(
    steps: list[tuple[int, int]],
    setpoint: int,
    deadband: float,
    on_s: int,
    off_s: int,
    cuts: list[int],
) -> None:
    times, values, t, v = [], [], 0, 0.0
    for gap, delta in steps:
        t, v = t + gap * S, v + delta
        times.append(t)
        values.append(v)
    rule = LimitRule(
        name="h",
        tag_id=7,
        level="H",
        setpoint=setpoint,
        deadband=deadband,
        on_delay_s=on_s,
        off_delay_s=off_s,
    )
    engine = AlarmEngine([rule])
    events = []
    bounds = sorted({0, len(times), *(c for c in cuts if c < len(times))})
    for lo, hi in itertools.pairwise(bounds):
        events += engine.process(SampleBatch.build([7] * (hi - lo), times[lo:hi], values[lo:hi]))
    fired = [e.ts for e in events if e.kind is EventKind.ACTIVATED]
    assert fired == expected_activations(times, values, setpoint, deadband, on_s * S, off_s * S)
    kinds = [e.kind for e in events]
    assert all(a != b for a, b in itertools.pairwise(kinds))  # strictly alternating
