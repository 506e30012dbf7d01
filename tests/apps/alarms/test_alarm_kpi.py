import pytest

from factoryos.apps.alarms import AlarmError, AlarmEvent, EventKind, Priority, compute_kpis

from .helpers import S

MIN = 60 * S
HOUR = 3600 * S


def ev(t: int, alarm: str, kind: EventKind = EventKind.ACTIVATED) -> AlarmEvent:
    return AlarmEvent(t, alarm, kind, Priority.MEDIUM)


def test_rates_and_flood_periods() -> None:
    # window 0: 11 alarms (flood), window 1: 12 (flood, merged), window 2: 1, window 3: 0
    events = [ev(i * S, f"a{i % 5}") for i in range(11)]
    events += [ev(10 * MIN + i * S, "b") for i in range(12)]
    events += [ev(25 * MIN, "c"), ev(0, "x", EventKind.CLEARED)]
    kpis = compute_kpis(events, 0, 40 * MIN)
    assert kpis.total == 24
    assert kpis.per_10min_avg == 6.0
    assert kpis.per_10min_max == 12
    assert [(f.start, f.end, f.alarms) for f in kpis.floods] == [(0, 20 * MIN, 23)]
    assert kpis.flood_time_fraction == 0.5


def test_ten_alarms_is_not_a_flood() -> None:
    kpis = compute_kpis([ev(i * S, "a") for i in range(10)], 0, 10 * MIN)
    assert kpis.floods == []


def test_chattering_needs_three_activations_within_a_minute() -> None:
    events = [ev(0, "chat"), ev(20 * S, "chat"), ev(59 * S, "chat")]
    events += [ev(0, "slow"), ev(30 * S, "slow"), ev(60 * S, "slow")]
    assert compute_kpis(events, 0, HOUR).chattering == ["chat"]


def test_standing_alarms_longer_than_a_day() -> None:
    events = [
        ev(0, "long"),
        ev(0, "cleared"),
        ev(23 * HOUR, "cleared", EventKind.CLEARED),
        ev(0, "shelved"),
        ev(25 * HOUR, "shelved", EventKind.SHELVED),
    ]
    standing = compute_kpis(events, 0, 30 * HOUR).standing
    assert [(s.alarm, s.duration_ns) for s in standing] == [
        ("long", 30 * HOUR),
        ("shelved", 25 * HOUR),
    ]


def test_top_ten_by_count_then_name() -> None:
    events = [ev(i * S, f"a{i % 12:02d}") for i in range(12)] + [ev(20 * S, "a05")]
    top = compute_kpis(events, 0, HOUR).top
    assert top[0] == ("a05", 2)
    assert [name for name, _ in top[1:]] == [f"a{i:02d}" for i in range(12) if i != 5][:9]


def test_empty_history_and_empty_period() -> None:
    kpis = compute_kpis([], 0, HOUR)
    assert (kpis.total, kpis.per_10min_avg, kpis.per_10min_max) == (0, 0.0, 0)
    with pytest.raises(AlarmError, match="empty"):
        compute_kpis([], HOUR, HOUR)
