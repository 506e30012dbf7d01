"""Shift calendars: shift instances and planned windows, DST, holidays, bad input."""

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from factoryos.apps.oee.calendar import CalendarSpec, calendar_windows
from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.taxonomy import TimeCategory as C

S = 1_000_000_000
H = 3600 * S
UTC_Z = ZoneInfo("UTC")
BERLIN = ZoneInfo("Europe/Berlin")
MONDAY = int(datetime(2025, 1, 6, tzinfo=UTC).timestamp()) * S

WORKDAYS = ["mon", "tue", "wed", "thu", "fri"]
TWO_SHIFTS = {
    "shifts": [
        {"name": "early", "start": "06:00", "end": "14:00", "days": WORKDAYS,
         "breaks": [{"start": "10:00", "minutes": 30}]},
        {"name": "late", "start": "14:00", "end": "22:00", "days": WORKDAYS},
    ]
}  # fmt: skip


def spec(**extra: object) -> CalendarSpec:
    return CalendarSpec.model_validate({**TWO_SHIFTS, **extra})


def planned_seconds(windows: list, category: C) -> float:  # type: ignore[type-arg]
    return sum((w.end_ns - w.start_ns) / S for w in windows if w.category is category)


def test_a_weekday_has_two_shifts_a_break_and_no_shift_around() -> None:
    cal = calendar_windows(spec(), UTC_Z, MONDAY, MONDAY + 24 * H)
    assert [(s.label, (s.end_ns - s.start_ns) / H) for s in cal.shifts] == [
        ("2025-01-06 early", 8.0),
        ("2025-01-06 late", 8.0),
    ]
    assert planned_seconds(cal.planned, C.BREAK) == 1800
    assert planned_seconds(cal.planned, C.NO_SHIFT) == 8 * 3600  # 00-06 and 22-24
    # non-overlapping and sorted, as categorize needs them
    assert all(a.end_ns <= b.start_ns for a, b in zip(cal.planned, cal.planned[1:], strict=False))


def test_a_week_counts_five_days_and_a_weekend() -> None:
    cal = calendar_windows(spec(), UTC_Z, MONDAY, MONDAY + 7 * 24 * H)
    assert len(cal.shifts) == 10
    worked = 7 * 24 * 3600 - planned_seconds(cal.planned, C.NO_SHIFT)
    assert worked == 5 * 16 * 3600


def test_holidays_cancel_shifts_and_planned_stops_take_shift_time() -> None:
    cal = calendar_windows(
        spec(
            holidays=["2025-01-07"],
            planned_stops=[
                # 13:00-15:00 crosses the shift change; 21:00-23:00 runs past the late shift
                {"start": "2025-01-06T13:00:00", "end": "2025-01-06T15:00:00", "reason": "PM"},
                {
                    "start": "2025-01-06T21:00:00",
                    "end": "2025-01-06T23:00:00",
                    "category": "no_order",
                },
            ],
        ),
        UTC_Z,
        MONDAY,
        MONDAY + 2 * 24 * H,
    )
    assert [s.label for s in cal.shifts] == ["2025-01-06 early", "2025-01-06 late"]
    assert planned_seconds(cal.planned, C.PLANNED_DOWNTIME) == 2 * 3600
    assert planned_seconds(cal.planned, C.NO_ORDER) == 3600  # 22-23 is no shift anyway
    assert planned_seconds(cal.planned, C.NO_SHIFT) == 48 * 3600 - 16 * 3600


def test_a_night_shift_belongs_to_the_day_it_starts_and_clips_to_the_range() -> None:
    night = CalendarSpec.model_validate(
        {"shifts": [{"name": "night", "start": "22:00", "end": "06:00", "days": ["mon"]}]}
    )
    cal = calendar_windows(night, UTC_Z, MONDAY + 24 * H, MONDAY + 48 * H)  # Tuesday
    assert [(s.label, (s.end_ns - s.start_ns) / H) for s in cal.shifts] == [
        ("2025-01-06 night", 6.0)
    ]


def test_shifts_keep_wall_clock_times_across_daylight_saving() -> None:
    # Europe/Berlin springs forward on 2025-03-30 at 02:00: the night shift Sat->Sun is 7 h.
    night = CalendarSpec.model_validate(
        {"shifts": [{"name": "night", "start": "22:00", "end": "06:00"},
                    {"name": "day", "start": "06:00", "end": "22:00"}]}
    )  # fmt: skip
    start = int(datetime(2025, 3, 29, 12, tzinfo=UTC).timestamp()) * S
    cal = calendar_windows(night, BERLIN, start, start + 36 * H)
    lengths = {s.label: (s.end_ns - s.start_ns) / H for s in cal.shifts}
    assert lengths["2025-03-29 night"] == 7.0
    assert lengths["2025-03-30 day"] == 16.0
    day = next(s for s in cal.shifts if s.label == "2025-03-30 day")
    assert datetime.fromtimestamp(day.start_ns / S, BERLIN).hour == 6


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"shifts": [{"name": "a", "start": "06:00", "end": "14:00"},
                     {"name": "b", "start": "13:00", "end": "20:00"}]}, "overlap"),
        ({"shifts": [{"name": "n", "start": "22:00", "end": "07:00", "days": ["sun"]},
                     {"name": "m", "start": "06:00", "end": "14:00", "days": ["mon"]}]}, "overlap"),
        ({"shifts": [{"name": "a", "start": "06:00", "end": "14:00",
                      "breaks": [{"start": "13:50", "minutes": 30}]}]}, "not inside"),
        ({"shifts": [{"name": "a", "start": "6:00", "end": "14:00"}]}, "HH:MM"),
        ({"shifts": [{"name": "a", "start": "06:00", "end": "14:00"}],
          "planned_stops": [{"start": "2025-01-06T10:00:00", "end": "2025-01-06T09:00:00"}]},
         "end must be after start"),
        ({"shifts": [{"name": "a", "start": "06:00", "end": "14:00"}],
          "planned_stops": [{"start": "2025-01-06T10:00:00", "end": "2025-01-06T11:00:00",
                             "category": "break"}]}, "planned_downtime or no_order"),
    ],
)  # fmt: skip
def test_bad_calendars_are_refused_with_the_reason(change: dict, message: str) -> None:  # type: ignore[type-arg]
    with pytest.raises(ValidationError, match=message):
        CalendarSpec.model_validate(change)


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(InvalidInputError, match="not after start"):
        calendar_windows(spec(), UTC_Z, MONDAY, MONDAY)
    with pytest.raises(InvalidInputError, match="longer than"):
        calendar_windows(spec(), UTC_Z, MONDAY, MONDAY + 500 * 24 * H)


def test_holiday_is_a_date() -> None:
    assert spec(holidays=["2025-12-25"]).holidays == [date(2025, 12, 25)]


def test_breaks_keep_wall_clock_times_on_daylight_saving_nights() -> None:
    night = CalendarSpec.model_validate(
        {"shifts": [{"name": "night", "start": "22:00", "end": "06:00",
                     "breaks": [{"start": "05:30", "minutes": 30}]}]}
    )  # fmt: skip
    for day in (datetime(2025, 3, 29, 12, tzinfo=UTC), datetime(2025, 10, 25, 12, tzinfo=UTC)):
        start = int(day.timestamp()) * S
        cal = calendar_windows(night, BERLIN, start, start + 24 * H)
        (brk,) = [w for w in cal.planned if w.category is C.BREAK]
        local = datetime.fromtimestamp(brk.start_ns / S, BERLIN)
        assert (local.hour, local.minute) == (5, 30)
        assert brk.end_ns - brk.start_ns == 30 * 60 * S
