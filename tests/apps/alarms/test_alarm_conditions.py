"""Each condition type on hand-made sample sequences (times in seconds)."""

from factoryos.apps.alarms import (
    AlarmEngine,
    DeviationRule,
    LimitRule,
    RateRule,
    StaleRule,
    StateRule,
)
from factoryos.model.samples import SampleBatch

from .helpers import A, C, S, bad, kinds, series


def test_high_limit_with_deadband_fires_once_per_violation() -> None:
    engine = AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=10, deadband=2)])
    # 11 activates; 9 is inside the deadband (holds); 8 clears; 11 again is a new activation
    events = engine.process(series(1, [5, 11, 12, 9, 11, 8, 9.5, 11]))
    assert kinds(events) == [(1, A), (5, C), (7, A)]
    assert events[0].value == 11.0


def test_low_limits_mirror_high_limits() -> None:
    engine = AlarmEngine(
        [
            LimitRule(name="l", tag_id=1, level="L", setpoint=10, deadband=1),
            LimitRule(name="ll", tag_id=1, level="LL", setpoint=5),
        ]
    )
    events = engine.process(series(1, [12, 9, 4, 5, 10.5, 11]))
    assert [(e.ts // S, e.alarm, e.kind) for e in events] == [
        (1, "l", A),
        (2, "ll", A),
        (3, "ll", C),
        (5, "l", C),
    ]


def test_no_activation_without_violation() -> None:
    engine = AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=10)])
    assert engine.process(series(1, [1, 10, 9.99, 10])) == []
    assert engine.process(series(2, [100, 200])) == []  # another tag


def test_on_delay_needs_the_condition_to_hold() -> None:
    engine = AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=10, on_delay_s=3)])
    # a 2-second excursion is ignored; the next one holds 3 s and fires at the 3rd second
    events = engine.process(series(1, [11, 11, 5, 11, 11, 11, 11]))
    assert kinds(events) == [(6, A)]


def test_off_delay_and_tick_complete_pending_changes() -> None:
    engine = AlarmEngine(
        [LimitRule(name="h", tag_id=1, level="H", setpoint=10, on_delay_s=2, off_delay_s=5)]
    )
    assert engine.process(series(1, [11])) == []
    assert kinds(engine.tick(1 * S)) == []
    assert kinds(engine.tick(2 * S)) == [(2, A)]  # no new sample needed
    assert kinds(engine.process(series(1, [5, 11, 5], t0_s=3))) == []  # clear interrupted
    assert kinds(engine.tick(9 * S)) == []
    assert kinds(engine.tick(10 * S)) == [(10, C)]


def test_delay_run_spans_batches() -> None:
    engine = AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=0, on_delay_s=4)])
    assert engine.process(series(1, [1, 1], t0_s=0)) == []
    assert kinds(engine.process(series(1, [1, 1, 1], t0_s=2))) == [(4, A)]


def test_bad_quality_neither_activates_nor_clears() -> None:
    engine = AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=10)])
    assert engine.process(bad(1, 99, 0)) == []
    assert kinds(engine.process(series(1, [11], t0_s=1))) == [(1, A)]
    assert engine.process(bad(1, 0, 2)) == []
    assert engine.status("h").condition_active


def test_unsorted_mixed_batch_is_evaluated_in_time_order() -> None:
    engine = AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=10)])
    batch = SampleBatch.build([1, 2, 1, 1], [3 * S, 0, 1 * S, 2 * S], [5, 50, 20, 30])
    assert kinds(engine.process(batch)) == [(1, A), (3, C)]


def test_deviation_from_setpoint() -> None:
    engine = AlarmEngine([DeviationRule(name="d", tag_id=1, setpoint=50, limit=5, deadband=1)])
    events = engine.process(series(1, [50, 56, 45.5, 44, 54.5, 54]))
    assert kinds(events) == [(1, A), (5, C)]


def test_deviation_from_reference_tag_uses_latest_value_before_sample() -> None:
    engine = AlarmEngine([DeviationRule(name="d", tag_id=1, reference_tag_id=2, limit=5)])
    assert engine.process(series(1, [100])) == []  # no reference yet: no judgement
    batch = SampleBatch.build([2, 1, 2, 1], [1 * S, 2 * S, 3 * S, 4 * S], [10, 20, 18, 20])
    assert kinds(engine.process(batch)) == [(2, A), (4, C)]
    assert kinds(engine.process(series(1, [30], t0_s=5))) == [(5, A)]  # reference carried


def test_a_reference_arriving_in_batches_of_its_own_is_used() -> None:
    # the setpoint comes from another device, polled apart from the measured tag
    engine = AlarmEngine([DeviationRule(name="d", tag_id=1, reference_tag_id=2, limit=10)])
    assert engine.process(series(2, [100])) == []
    assert kinds(engine.process(series(1, [150], t0_s=2))) == [(2, A)]
    assert engine.process(series(2, [148], t0_s=3)) == []
    assert kinds(engine.process(series(1, [150], t0_s=4))) == [(4, C)]


def test_rate_of_change_per_second() -> None:
    engine = AlarmEngine([RateRule(name="r", tag_id=1, limit_per_s=2, deadband=0.5)])
    # rates: +1, +3 (fires), +1.6 (inside the deadband: holds), +1 (clears)
    events = engine.process(series(1, [0, 1, 4, 5.6, 6.6]))
    assert kinds(events) == [(2, A), (4, C)]
    # the previous sample is carried across batches: 6.6 at 4 s -> 0 at 7 s is -2.2/s
    assert kinds(engine.process(series(1, [0.0], t0_s=7))) == [(7, A)]


def test_state_rule_matches_exact_value() -> None:
    engine = AlarmEngine([StateRule(name="fault", tag_id=1, value=3)])
    assert kinds(engine.process(series(1, [0, 3, 3, 2, 3]))) == [(1, A), (3, C), (4, A)]


def test_stale_after_timeout_and_clear_on_good_data() -> None:
    engine = AlarmEngine([StaleRule(name="s", tag_id=1, timeout_s=10)])
    assert engine.tick(0) == []  # watching starts
    assert engine.tick(9 * S) == []
    assert kinds(engine.tick(10 * S)) == [(10, A)]
    assert engine.tick(11 * S) == []  # one alarm per activation
    assert engine.process(bad(1, 1, 12)) == []  # bad data is no data
    assert kinds(engine.process(series(1, [1, 2], t0_s=13))) == [(13, C)]
    assert engine.tick(22 * S) == []
    assert kinds(engine.tick(24 * S)) == [(24, A)]
