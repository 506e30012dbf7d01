"""Shift calendars: when equipment is planned to work, as the plant defines it.

A calendar is data (the ``oee.calendars`` section of the apps file): weekly shifts with
their breaks, holidays, and planned stops (maintenance, cleaning, no order). For a time
range :func:`calendar_windows` gives

- the **shift instances** (``2025-01-06 early``), for OEE per shift, and
- the **planned windows** that are not planned busy time — no shift (outside every shift,
  holidays), breaks, planned stops — non-overlapping, as :func:`~.state.categorize` takes them.

Times of day are wall-clock times in the plant's time zone, so a shift starts at 06:00 on
both sides of a daylight-saving change (and that day's night shift is an hour shorter or
longer). A shift whose end is not after its start runs past midnight and belongs to the day
it starts. A holiday cancels the shifts that start on it.
"""

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from enum import StrEnum
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.state import PlannedWindow
from factoryos.apps.oee.taxonomy import TimeCategory

NS_PER_S = 1_000_000_000
MAX_RANGE_DAYS = 400  # a year of shifts and a margin; longer ranges are split by the caller


class Weekday(StrEnum):
    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"


_WEEKDAYS = list(Weekday)


def _clock(text: str) -> str:
    try:
        time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day HH:MM") from None
    if len(text) != 5:
        raise ValueError(f"{text!r} is not a time of day HH:MM")
    return text


Clock = Annotated[str, AfterValidator(_clock)]


def _minutes(clock: str) -> int:
    t = time.fromisoformat(clock)
    return t.hour * 60 + t.minute


class _Strict(BaseModel):
    # Not strict: dates, times and weekdays arrive as strings from JSON and as dates from YAML.
    model_config = ConfigDict(extra="forbid", frozen=True)


class BreakSpec(_Strict):
    """A break inside a shift: starts at ``start`` (plant time), lasts ``minutes``."""

    start: Clock
    minutes: int = Field(gt=0, le=240)


class ShiftSpec(_Strict):
    """A shift worked on ``days`` from ``start`` to ``end`` (plant time)."""

    name: str = Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_.-]+$")
    start: Clock
    end: Clock
    days: list[Weekday] = Field(default_factory=lambda: list(Weekday), min_length=1)
    breaks: list[BreakSpec] = Field(default_factory=list, max_length=8)

    @property
    def start_min(self) -> int:
        return _minutes(self.start)

    @property
    def length_min(self) -> int:
        """Nominal length in minutes; an end at or before the start is the next day."""
        return (_minutes(self.end) - self.start_min) % 1440 or 1440

    def break_offsets(self) -> list[tuple[int, int]]:
        """Breaks as (minutes after shift start, minutes)."""
        return [((_minutes(b.start) - self.start_min) % 1440, b.minutes) for b in self.breaks]

    @model_validator(mode="after")
    def _breaks_inside(self) -> Self:
        offsets = sorted(self.break_offsets())
        for offset, minutes in offsets:
            if offset + minutes > self.length_min:
                raise ValueError(f"shift {self.name!r}: a break is not inside the shift")
        for (a, la), (b, _) in itertools.pairwise(offsets):
            if b < a + la:
                raise ValueError(f"shift {self.name!r}: breaks overlap")
        return self


class PlannedStopSpec(_Strict):
    """A planned stop; naive times are plant time."""

    start: datetime
    end: datetime
    reason: str = Field(default="planned stop", max_length=200)
    category: TimeCategory = TimeCategory.PLANNED_DOWNTIME

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.category not in (TimeCategory.PLANNED_DOWNTIME, TimeCategory.NO_ORDER):
            raise ValueError("category of a planned stop must be planned_downtime or no_order")
        if (self.start.tzinfo is None) != (self.end.tzinfo is None):
            raise ValueError("give both start and end with a time zone, or neither")
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class CalendarSpec(_Strict):
    """One shift calendar."""

    shifts: list[ShiftSpec] = Field(min_length=1, max_length=32)
    holidays: list[date] = Field(default_factory=list, max_length=1000)
    planned_stops: list[PlannedStopSpec] = Field(default_factory=list, max_length=10_000)

    @model_validator(mode="after")
    def _shifts_do_not_overlap(self) -> Self:
        names = [s.name for s in self.shifts]
        if len(set(names)) != len(names):
            raise ValueError("shift names must be unique")
        week = 7 * 1440
        spans = sorted(
            ((_WEEKDAYS.index(d) * 1440 + s.start_min, s.length_min, s.name))
            for s in self.shifts
            for d in s.days
        )
        # Compare around the week's end too: Sunday's night shift runs into Monday.
        wrapped = [*spans, *((a + week, n, name) for a, n, name in spans[:1])]
        for (a, la, na), (b, _, nb) in itertools.pairwise(wrapped):
            if b < a + la:
                raise ValueError(f"shifts {na!r} and {nb!r} overlap")
        return self


@dataclass(frozen=True, slots=True)
class ShiftWindow:
    """One worked shift: ``name`` on ``day`` (the plant date it starts), ``[start_ns, end_ns)``
    clipped to the range asked for."""

    name: str
    day: date
    start_ns: int
    end_ns: int

    @property
    def label(self) -> str:
        return f"{self.day.isoformat()} {self.name}"


@dataclass(frozen=True, slots=True)
class CalendarWindows:
    shifts: list[ShiftWindow]
    planned: list[PlannedWindow]


def _ns(day: date, minute: int, tz: ZoneInfo) -> int:
    """Plant wall-clock time ``minute`` minutes after midnight of ``day`` (may pass into later
    days) in ns since the epoch; a non-existent time (spring forward) moves on by the gap."""
    wall = datetime.combine(day, time()) + timedelta(minutes=minute)
    return int(wall.replace(tzinfo=tz).timestamp()) * NS_PER_S


def _to_ns(moment: datetime, tz: ZoneInfo) -> int:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)
    return round(aware.timestamp() * NS_PER_S)


def _days(start_ns: int, end_ns: int, tz: ZoneInfo) -> Iterator[date]:
    """Plant dates from the day before ``start_ns`` (its night shift may reach in) on."""
    first = datetime.fromtimestamp(start_ns / NS_PER_S, tz).date() - timedelta(days=1)
    last = datetime.fromtimestamp(end_ns / NS_PER_S, tz).date()
    for k in range((last - first).days + 1):
        yield first + timedelta(days=k)


def _worked(
    spec: CalendarSpec, start_ns: int, end_ns: int, tz: ZoneInfo
) -> Iterator[tuple[ShiftSpec, date, int, int]]:
    holidays = set(spec.holidays)
    for day in _days(start_ns, end_ns, tz):
        if day in holidays:
            continue
        weekday = _WEEKDAYS[day.weekday()]
        for shift in spec.shifts:
            if weekday in shift.days:
                a = _ns(day, shift.start_min, tz)
                b = _ns(day, shift.start_min + shift.length_min, tz)
                if a < end_ns and b > start_ns:
                    yield shift, day, a, b


def _flatten(
    layers: Sequence[tuple[TimeCategory, list[tuple[int, int]]]], start_ns: int, end_ns: int
) -> list[PlannedWindow]:
    """Non-overlapping windows; where layers overlap, the earlier layer wins."""
    edges = sorted({start_ns, end_ns, *(x for _, spans in layers for s in spans for x in s)})
    edges = [x for x in edges if start_ns <= x <= end_ns]
    out: list[PlannedWindow] = []
    for a, b in itertools.pairwise(edges):
        category = next(
            (c for c, spans in layers if any(s <= a and b <= e for s, e in spans)), None
        )
        if category is None:
            continue
        if out and out[-1].end_ns == a and out[-1].category is category:
            out[-1] = PlannedWindow(out[-1].start_ns, b, category)
        else:
            out.append(PlannedWindow(a, b, category))
    return out


def _gaps(spans: list[tuple[int, int]], start_ns: int, end_ns: int) -> list[tuple[int, int]]:
    gaps, at = [], start_ns
    for s, e in sorted(spans):
        if s > at:
            gaps.append((at, s))
        at = max(at, e)
    if at < end_ns:
        gaps.append((at, end_ns))
    return gaps


def calendar_windows(
    spec: CalendarSpec, tz: ZoneInfo, start_ns: int, end_ns: int
) -> CalendarWindows:
    """Shift instances and planned windows of ``spec`` over ``[start_ns, end_ns)``."""
    if end_ns <= start_ns:
        raise InvalidInputError(f"calendar range: end {end_ns} is not after start {start_ns}")
    if end_ns - start_ns > MAX_RANGE_DAYS * 86_400 * NS_PER_S:
        raise InvalidInputError(f"calendar range longer than {MAX_RANGE_DAYS} days")
    worked = list(_worked(spec, start_ns, end_ns, tz))
    shift_spans = [(a, b) for _, _, a, b in worked]
    breaks = [  # wall-clock times like the shifts: a 05:30 break is at 05:30 on a DST night
        (_ns(day, shift.start_min + off, tz), _ns(day, shift.start_min + off + n, tz))
        for shift, day, _, _ in worked
        for off, n in shift.break_offsets()
    ]
    layers = [
        (TimeCategory.NO_SHIFT, _gaps(shift_spans, start_ns, end_ns)),
        (TimeCategory.BREAK, breaks),
        *(
            (stop.category, [(_to_ns(stop.start, tz), _to_ns(stop.end, tz))])
            for stop in spec.planned_stops
        ),
    ]
    shifts = [
        ShiftWindow(shift.name, day, max(a, start_ns), min(b, end_ns))
        for shift, day, a, b in worked
    ]
    return CalendarWindows(shifts, _flatten(layers, start_ns, end_ns))
