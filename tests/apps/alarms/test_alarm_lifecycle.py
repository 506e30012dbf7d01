"""The ISA-18.2 life cycle: acknowledge, return to normal, shelving, out of service."""

import pytest

from factoryos.apps.alarms import (
    AlarmEngine,
    AlarmState,
    AlarmStateError,
    EventKind,
    LimitRule,
    UnknownAlarmError,
)

from .helpers import A, C, S, kinds, series

K = EventKind


def _engine() -> AlarmEngine:
    return AlarmEngine([LimitRule(name="h", tag_id=1, level="H", setpoint=10)], max_shelve_s=60)


def test_ack_then_clear_returns_to_normal() -> None:
    engine = _engine()
    engine.process(series(1, [11]))
    assert engine.status("h").state is AlarmState.UNACKED
    assert kinds(engine.acknowledge("h", 1 * S)) == [(1, K.ACKNOWLEDGED)]
    assert engine.status("h").state is AlarmState.ACKED
    assert engine.acknowledge("h", 2 * S) == []  # nothing left to acknowledge
    engine.process(series(1, [5], t0_s=3))
    assert engine.status("h").state is AlarmState.NORMAL


def test_clear_before_ack_leaves_rtn_unacked_and_reactivation() -> None:
    engine = _engine()
    assert kinds(engine.process(series(1, [11, 5]))) == [(0, A), (1, C)]
    assert engine.status("h").state is AlarmState.RTN_UNACKED
    assert kinds(engine.process(series(1, [12], t0_s=2))) == [(2, A)]
    assert engine.status("h").state is AlarmState.UNACKED
    engine.process(series(1, [1], t0_s=3))
    engine.acknowledge("h", 4 * S)
    assert engine.status("h").state is AlarmState.NORMAL
    assert engine.status("h").activations == 2


def test_shelved_alarm_is_silent_and_returns_at_expiry() -> None:
    engine = _engine()
    engine.process(series(1, [11]))
    assert kinds(engine.shelve("h", 30 * S, 1 * S)) == [(1, K.SHELVED)]
    assert engine.process(series(1, [5, 12, 5, 13], t0_s=2)) == []
    assert engine.tick(29 * S) == []
    assert kinds(engine.tick(30 * S)) == [(30, K.UNSHELVED), (30, A)]  # still active
    status = engine.status("h")
    assert status.state is AlarmState.UNACKED and status.shelved_until is None
    assert status.activations == 2  # suppressed activations are not counted


def test_expiry_while_condition_cleared_goes_to_normal() -> None:
    engine = _engine()
    engine.shelve("h", 10 * S, 0)
    engine.process(series(1, [11, 5]))
    assert kinds(engine.tick(10 * S)) == [(10, K.UNSHELVED)]
    assert engine.status("h").state is AlarmState.NORMAL


def test_expiry_is_noticed_by_a_sample_transition() -> None:
    engine = _engine()
    engine.shelve("h", 5 * S, 0)
    assert kinds(engine.process(series(1, [11], t0_s=6))) == [(6, K.UNSHELVED), (6, A)]


def test_shelve_bounds_and_manual_unshelve() -> None:
    engine = _engine()
    with pytest.raises(AlarmStateError, match=r"'h'.*at most 60 s"):
        engine.shelve("h", 61 * S, 0)
    with pytest.raises(AlarmStateError, match="after now"):
        engine.shelve("h", 0, 0)
    with pytest.raises(AlarmStateError, match="not shelved"):
        engine.unshelve("h", 0)
    engine.shelve("h", 60 * S, 0)
    assert kinds(engine.unshelve("h", 1 * S)) == [(1, K.UNSHELVED)]


def test_out_of_service_suppresses_until_returned() -> None:
    engine = _engine()
    assert kinds(engine.remove_from_service("h", 0)) == [(0, K.REMOVED_FROM_SERVICE)]
    assert engine.process(series(1, [11, 5, 11], t0_s=1)) == []
    assert engine.tick(10**6 * S) == []
    with pytest.raises(AlarmStateError, match="out of service"):
        engine.shelve("h", 10**6 * S + 1, 10**6 * S)
    assert kinds(engine.return_to_service("h", 5 * S)) == [(5, K.RETURNED_TO_SERVICE), (5, A)]
    with pytest.raises(AlarmStateError, match="not out of service"):
        engine.return_to_service("h", 6 * S)


def test_unknown_alarm_is_named() -> None:
    with pytest.raises(UnknownAlarmError, match="'nope'"):
        _engine().acknowledge("nope", 0)


def test_events_carry_priority_and_alarm_name() -> None:
    engine = AlarmEngine([LimitRule(name="x", tag_id=1, level="H", setpoint=0, priority=4)])
    (event,) = engine.process(series(1, [1]))
    assert (event.alarm, int(event.priority)) == ("x", 4)
