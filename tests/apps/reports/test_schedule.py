"""Run times and periods on the plant's wall clock, across DST changes."""

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from pydantic import ValidationError

from factoryos.apps.reports import (
    Period,
    Schedule,
    ScheduleError,
    due,
    last_run,
    next_run,
    period_of,
)

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
H = 3600


def daily(at: str = "06:30", zone: str = "Europe/Berlin") -> Schedule:
    return Schedule.model_validate({"every": "daily", "at": at, "timezone": zone})


def weekly(day: str = "monday", at: str = "06:00", zone: str = "Europe/Berlin") -> Schedule:
    return Schedule.model_validate({"every": "weekly", "weekday": day, "at": at, "timezone": zone})


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_daily_next_run_follows_the_wall_clock_across_spring_forward() -> None:
    s = daily()
    first = next_run(s, datetime(2024, 3, 30, 7, 0, tzinfo=BERLIN))
    assert first == utc(2024, 3, 31, 4, 30)  # 06:30 CEST
    assert first.tzinfo is UTC
    assert next_run(s, first) == utc(2024, 4, 1, 4, 30)
    assert next_run(s, utc(2024, 3, 30, 5, 29)) == utc(2024, 3, 30, 5, 30)  # 06:30 CET


def test_daily_period_is_the_previous_calendar_day_of_23_24_or_25_hours() -> None:
    s = daily()
    spring = period_of(s, utc(2024, 4, 1, 4, 30))
    assert spring == Period(
        datetime(2024, 3, 31, tzinfo=BERLIN), datetime(2024, 4, 1, tzinfo=BERLIN)
    )
    assert spring.seconds == 23 * H
    assert str(spring.start.utcoffset()) == "1:00:00" and str(spring.end.utcoffset()) == "2:00:00"
    assert period_of(s, utc(2024, 10, 28, 5, 30)).seconds == 25 * H
    assert period_of(s, utc(2024, 10, 29, 5, 30)).seconds == 24 * H


def test_new_york_days_around_both_changes() -> None:
    s = daily("00:15", "America/New_York")
    assert period_of(s, next_run(s, utc(2024, 3, 11, 0, 0))).seconds == 23 * H
    assert period_of(s, next_run(s, utc(2024, 11, 4, 0, 0))).seconds == 25 * H
    assert next_run(s, utc(2024, 11, 3, 12, 0)) == utc(2024, 11, 4, 5, 15)  # 00:15 EST


def test_a_run_time_in_the_skipped_hour_runs_once_an_hour_later() -> None:
    s = daily("02:30")
    run = next_run(s, datetime(2024, 3, 31, 0, 0, tzinfo=BERLIN))
    assert run == utc(2024, 3, 31, 1, 30)  # the clock shows 03:30 CEST
    assert next_run(s, run) == utc(2024, 4, 1, 0, 30)


def test_a_run_time_in_the_repeated_hour_runs_once() -> None:
    s = daily("02:30")
    run = next_run(s, datetime(2024, 10, 27, 0, 0, tzinfo=BERLIN))
    assert run == utc(2024, 10, 27, 0, 30)  # first 02:30 (CEST)
    assert next_run(s, run) == utc(2024, 10, 28, 1, 30)  # not again at 02:30 CET


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York"])
def test_every_hour_of_a_year_lies_between_its_last_and_next_run(zone: str) -> None:
    s = daily("06:30", zone)
    tz = ZoneInfo(zone)
    now = utc(2024, 1, 1)
    while now < utc(2025, 1, 1):
        before, after = last_run(s, now), next_run(s, now)
        assert before <= now < after
        assert next_run(s, before) == after
        assert before.astimezone(tz).strftime("%H:%M") == "06:30"
        period = period_of(s, after)
        assert period.end.astimezone(tz).date() == after.astimezone(tz).date()
        assert period.seconds in (23 * H, 24 * H, 25 * H)
        now += timedelta(hours=7)  # not a divisor of 24: every hour of the day is visited


def test_weekly_runs_on_its_weekday_and_covers_the_previous_iso_week() -> None:
    s = weekly()
    run = next_run(s, datetime(2024, 3, 27, 12, 0, tzinfo=BERLIN))  # a Wednesday
    assert run == utc(2024, 4, 1, 4, 0)  # Monday 06:00 CEST
    period = period_of(s, run)
    assert period == Period(
        datetime(2024, 3, 25, tzinfo=BERLIN), datetime(2024, 4, 1, tzinfo=BERLIN)
    )
    assert period.seconds == 7 * 24 * H - H
    assert next_run(s, run) == utc(2024, 4, 8, 4, 0)


def test_a_weekly_run_late_in_the_week_still_reports_the_previous_week() -> None:
    s = weekly("friday", "18:00")
    run = next_run(s, datetime(2024, 4, 1, tzinfo=BERLIN))
    assert run == utc(2024, 4, 5, 16, 0)
    assert period_of(s, run).start == datetime(2024, 3, 25, tzinfo=BERLIN)


def test_due_returns_only_the_latest_missed_period() -> None:
    s = daily()
    now = utc(2024, 4, 4, 12, 0)
    latest = Period(datetime(2024, 4, 3, tzinfo=BERLIN), datetime(2024, 4, 4, tzinfo=BERLIN))
    assert due(s, now, None) == latest
    three_days_down = datetime(2024, 4, 1, tzinfo=BERLIN)
    assert due(s, now, three_days_down) == latest
    assert due(s, now, latest.end) is None
    assert due(s, utc(2024, 4, 4, 4, 29), latest.start) is None  # before today's run
    assert due(s, utc(2024, 4, 4, 4, 30), latest.start) == latest


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ScheduleError, match="time-zone-aware"):
        next_run(daily(), datetime(2024, 1, 1))


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"every": "daily", "at": "06:30", "timezone": "Europe/Berlln"}, "unknown time zone"),
        ({"every": "daily", "at": "24:00", "timezone": "UTC"}, 'expected a time "HH:MM"'),
        ({"every": "daily", "at": "6:30", "timezone": "UTC"}, 'expected a time "HH:MM"'),
        ({"every": "daily", "at": 390, "timezone": "UTC"}, "base-60"),
        ({"every": "weekly", "at": "06:30", "timezone": "UTC"}, "needs a weekday"),
        (
            {"every": "daily", "at": "06:30", "weekday": "monday", "timezone": "UTC"},
            "takes no weekday",
        ),
        ({"every": "weekly", "at": "06:30", "weekday": "mon", "timezone": "UTC"}, "weekday"),
        ({"every": "hourly", "at": "06:30", "timezone": "UTC"}, "every"),
    ],
)
def test_bad_schedules_are_refused_with_the_field(data: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Schedule.model_validate(data)
