"""When a report runs and which period it covers, in the plant's time zone (pure functions).

Run times are computed on the plant's wall clock and returned in UTC, so that comparing
and subtracting them is plain arithmetic (Python compares two datetimes that share a
``ZoneInfo`` by wall time, which is wrong across a DST change). A run time that falls in the
hour skipped in spring (02:30 in Berlin on the last Sunday of March) runs an hour later by
the clock (03:30, the same instant as "02:30 winter time"); one in the hour repeated in
autumn runs once, at the first occurrence.

Periods are calendar days or ISO weeks on the plant's wall clock, so a day is 23, 24 or 25
hours long.
"""

import re
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Literal, NamedTuple, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, BeforeValidator, ConfigDict, model_validator

from factoryos.apps.reports.errors import ScheduleError

_HH_MM = re.compile(r"([01]\d|2[0-3]):([0-5]\d)")
_SEARCH_DAYS = 8  # a weekly schedule matches one day in any 7 consecutive days


class Weekday(StrEnum):
    MONDAY = "monday"
    TUESDAY = "tuesday"
    WEDNESDAY = "wednesday"
    THURSDAY = "thursday"
    FRIDAY = "friday"
    SATURDAY = "saturday"
    SUNDAY = "sunday"

    @property
    def number(self) -> int:
        """0 for Monday … 6 for Sunday, as :meth:`date.weekday`."""
        return list(Weekday).index(self)


def _clock_time(raw: object) -> object:
    if isinstance(raw, time):
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        raise ValueError(
            f"got the number {raw}: YAML reads an unquoted 6:30 as a base-60 number; "
            'write the time in quotes, "06:30"'
        )
    match = _HH_MM.fullmatch(raw) if isinstance(raw, str) else None
    if match is None:
        raise ValueError(f'expected a time "HH:MM" (00:00..23:59), got {raw!r}')
    return time(int(match[1]), int(match[2]))


def _zone(raw: object) -> object:
    if not isinstance(raw, str):
        raise ValueError(f"expected an IANA time zone name, got {raw!r}")
    try:
        ZoneInfo(raw)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"unknown time zone {raw!r} (an IANA name such as Europe/Berlin)"
        ) from None
    return raw


ClockTime = Annotated[time, BeforeValidator(_clock_time)]
ZoneName = Annotated[str, BeforeValidator(_zone)]


class Schedule(BaseModel):
    """``daily`` at ``at``, or ``weekly`` on ``weekday`` at ``at``, in ``timezone``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    every: Literal["daily", "weekly"]
    at: ClockTime
    weekday: Weekday | None = None
    timezone: ZoneName

    @model_validator(mode="after")
    def _weekday_iff_weekly(self) -> Self:
        if self.every == "weekly" and self.weekday is None:
            raise ValueError("a weekly schedule needs a weekday (monday … sunday)")
        if self.every == "daily" and self.weekday is not None:
            raise ValueError("a daily schedule takes no weekday (use every: weekly)")
        return self

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


class Period(NamedTuple):
    """``[start, end)`` in the plant's time zone; use ``seconds``, not ``end - start``."""

    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end.astimezone(UTC) - self.start.astimezone(UTC)).total_seconds()


def _check_aware(moment: datetime) -> None:
    if moment.utcoffset() is None:
        raise ScheduleError(f"expected a time-zone-aware datetime, got {moment!r}")


def _wall(day: date, at: time, zone: ZoneInfo) -> datetime:
    """The instant the plant's clock shows ``at`` on ``day`` (UTC)."""
    return datetime.combine(day, at, zone).astimezone(UTC)


def _runs_on(schedule: Schedule, day: date) -> bool:
    return schedule.weekday is None or day.weekday() == schedule.weekday.number


def _run_on(schedule: Schedule, day: date) -> datetime | None:
    return _wall(day, schedule.at, schedule.zone) if _runs_on(schedule, day) else None


def next_run(schedule: Schedule, after: datetime) -> datetime:
    """The first run strictly after ``after`` (UTC)."""
    _check_aware(after)
    after = after.astimezone(UTC)
    today = after.astimezone(schedule.zone).date()
    for offset in range(-1, _SEARCH_DAYS):
        run = _run_on(schedule, today + timedelta(days=offset))
        if run is not None and run > after:
            return run
    raise AssertionError("unreachable: every schedule runs once a week")


def last_run(schedule: Schedule, now: datetime) -> datetime:
    """The latest run at or before ``now`` (UTC)."""
    _check_aware(now)
    now = now.astimezone(UTC)
    today = now.astimezone(schedule.zone).date()
    for offset in range(1, -_SEARCH_DAYS, -1):
        run = _run_on(schedule, today + timedelta(days=offset))
        if run is not None and run <= now:
            return run
    raise AssertionError("unreachable: every schedule runs once a week")


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return _wall(day, time(0), zone).astimezone(zone)


def period_of(schedule: Schedule, run_at: datetime) -> Period:
    """The period a run at ``run_at`` reports on: the previous calendar day (daily) or the
    previous Monday 00:00 – Monday 00:00 (weekly), in the plant's time zone."""
    _check_aware(run_at)
    zone = schedule.zone
    day = run_at.astimezone(zone).date()
    if schedule.every == "daily":
        return Period(_midnight(day - timedelta(days=1), zone), _midnight(day, zone))
    monday = day - timedelta(days=day.weekday())
    return Period(_midnight(monday - timedelta(days=7), zone), _midnight(monday, zone))


def due(schedule: Schedule, now: datetime, last_end: datetime | None) -> Period | None:
    """The period to produce now: that of the latest run, unless a period ending at or after
    it was already delivered (``last_end``). Only the latest is returned, never a backlog."""
    period = period_of(schedule, last_run(schedule, now))
    if last_end is not None and period.end.astimezone(UTC) <= last_end.astimezone(UTC):
        return None
    return period
