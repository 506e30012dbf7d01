"""Machine state per equipment, and the time it puts in each OEE time category.

Three steps, all pure numpy:

1. :func:`state_intervals`: a state tag's samples (PackML state codes) → :class:`Intervals`;
   an unknown code or a BAD sample gives ``UNDEFINED`` (no state known), never a guess.
2. :func:`derive_states`: a machine without a state tag → intervals from power, speed and a
   part counter under :class:`DerivationRules` (the rules are in docs/oee.md).
3. :func:`categorize`: intervals + planned-stop windows → seconds per
   :class:`~.taxonomy.TimeCategory`, with short stops between running periods counted
   as micro-stops; :meth:`StateTimes.period` turns them into a :class:`~.kpi.PeriodInput`.
   :func:`timeline` gives the categorized segments themselves (for listing stops).

Samples hold their value until the next one (a state tag reports on change).
"""

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict, Field

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.kpi import PeriodInput, ProductOutput
from factoryos.apps.oee.taxonomy import TimeCategory
from factoryos.model.quality import Quality

NS_PER_S = 1_000_000_000

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


class PackMLState(IntEnum):
    """PackML (ISA-TR88.00.02) state numbers; ``UNDEFINED`` (0) = no state known."""

    UNDEFINED = 0
    CLEARING = 1
    STOPPED = 2
    STARTING = 3
    IDLE = 4
    SUSPENDED = 5
    EXECUTE = 6
    STOPPING = 7
    ABORTING = 8
    ABORTED = 9
    HOLDING = 10
    HELD = 11
    UNHOLDING = 12
    SUSPENDING = 13
    UNSUSPENDING = 14
    RESETTING = 15
    COMPLETING = 16
    COMPLETE = 17


_P, _C = PackMLState, TimeCategory
#: PackML state → time category. STOPPED is idle (a loss) unless a planned window covers
#: it: the state tag says what the machine did, the plan says whether that was planned.
DEFAULT_MAPPING: Mapping[PackMLState, TimeCategory] = {
    **{s: _C.IDLE for s in PackMLState if s is not _P.UNDEFINED},
    _P.EXECUTE: _C.PRODUCING,
    **dict.fromkeys((_P.ABORTING, _P.ABORTED, _P.CLEARING), _C.UNPLANNED_DOWN),
    **dict.fromkeys((_P.HOLDING, _P.HELD, _P.UNHOLDING), _C.SETUP),
}
_KNOWN_CODES = np.array([s.value for s in PackMLState if s is not _P.UNDEFINED])
# Stops that can be micro-stops; a setup or a planned stop never is.
_STOP_CATEGORIES = frozenset({_C.IDLE, _C.UNPLANNED_DOWN})
PLANNED_CATEGORIES = frozenset({_C.PLANNED_DOWNTIME, _C.BREAK, _C.NO_SHIFT, _C.NO_ORDER})


@dataclass(frozen=True, slots=True)
class Intervals:
    """Consecutive state intervals ``[start_ns[i], end_ns[i])``; ``state`` holds PackML codes.

    They tile ``[start_ns[0], end_ns[-1])`` with no gap, and neighbours differ in state.
    """

    start_ns: I64
    end_ns: I64
    state: npt.NDArray[np.int16]

    def seconds(self) -> dict[PackMLState, float]:
        """Total seconds per state."""
        durations = (self.end_ns - self.start_ns) / NS_PER_S
        return {
            PackMLState(int(code)): float(durations[self.state == code].sum())
            for code in np.unique(self.state)
        }


def _check_times(ts_ns: I64, end_ns: int, what: str) -> None:
    if ts_ns.ndim != 1 or ts_ns.size == 0:
        raise InvalidInputError(f"{what}: no samples (no data is not a state)")
    if np.any(np.diff(ts_ns) <= 0):
        at = int(ts_ns[1:][np.diff(ts_ns) <= 0][0])
        raise InvalidInputError(f"{what}: sample at t={at} ns is not after the one before")
    if end_ns < ts_ns[-1]:
        raise InvalidInputError(f"{what}: end {end_ns} ns is before the last sample")


def _hold(ts_ns: I64, codes: npt.NDArray[np.int16], end_ns: int) -> Intervals:
    """Sample-and-hold intervals, repeats merged, zero-length ones dropped."""
    ends = np.append(ts_ns[1:], np.int64(end_ns))
    keep = ends > ts_ns
    ts_ns, codes, ends = ts_ns[keep], codes[keep], ends[keep]
    first = np.ones(codes.size, dtype=np.bool_)
    first[1:] = codes[1:] != codes[:-1]
    starts = ts_ns[first]
    last = np.append(np.flatnonzero(first)[1:] - 1, codes.size - 1)
    return Intervals(starts, ends[last], codes[first])


def state_intervals(
    ts_ns: I64,
    codes: F64,
    end_ns: int,
    quality: npt.NDArray[np.uint8] | None = None,
) -> Intervals:
    """Intervals from a state tag's samples (PackML codes as numbers, as tags carry them).

    A code that is NaN, fractional or not a PackML state, or a sample whose ``quality`` is
    BAD, becomes ``UNDEFINED`` until the next sample. The last sample holds until ``end_ns``.
    """
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    codes = np.asarray(codes, dtype=np.float64)
    _check_times(ts_ns, end_ns, "state tag")
    if codes.shape != ts_ns.shape or (quality is not None and quality.shape != ts_ns.shape):
        raise InvalidInputError("state tag: timestamps, codes and quality differ in length")
    valid = np.isin(codes, _KNOWN_CODES)  # NaN and fractions are never in it
    if quality is not None:
        valid &= quality < Quality.BAD
    states = np.where(valid, codes, float(PackMLState.UNDEFINED)).astype(np.int16)
    return _hold(ts_ns, states, end_ns)


class DerivationRules(BaseModel):
    """How a machine without a state tag is judged running, idle or down.

    See docs/oee.md ("Machine state") for the rules these thresholds feed.
    """

    model_config = ConfigDict(strict=True, frozen=True, extra="forbid")

    #: Power at or above this while not running: idle (powered, ready); below: down.
    idle_power_kw: float = Field(gt=0, allow_inf_nan=False)
    #: Speed at or above this: running.
    running_speed: float = Field(gt=0, allow_inf_nan=False)
    #: Counter increase of at least this within ``count_window_s``: running.
    min_count_increase: int = Field(default=1, ge=1)
    count_window_s: float = Field(default=60.0, gt=0, le=86_400, allow_inf_nan=False)
    #: A state lasting less than this is flicker and stays in the state before it.
    min_duration_s: float = Field(default=0.0, ge=0, le=86_400, allow_inf_nan=False)


def _signal(values: F64 | None, n: int, name: str) -> F64 | None:
    if values is None:
        return None
    out = np.asarray(values, dtype=np.float64)
    if out.shape != (n,):
        raise InvalidInputError(f"derive_states: {name} has {out.size} samples, not {n}")
    return out


def _counter_increase(ts_ns: I64, counter: F64, window_s: float) -> F64:
    """Counter increase over the last ``window_s`` per sample; NaN when it cannot be told."""
    ref = np.searchsorted(ts_ns, ts_ns - round(window_s * NS_PER_S), side="right") - 1
    increase = counter - counter[np.maximum(ref, 0)]
    # A drop is a reset or a rollover: the increase is unknown, not negative.
    return np.where(increase < 0, np.nan, increase)


def _running(ts_ns: I64, speed: F64 | None, counter: F64 | None, r: DerivationRules) -> F64:
    """1.0 running, 0.0 not running, NaN when no running signal has a value."""
    votes: list[F64] = []
    if speed is not None:
        votes.append(np.where(np.isnan(speed), np.nan, speed >= r.running_speed))
    if counter is not None:
        inc = _counter_increase(ts_ns, counter, r.count_window_s)
        votes.append(np.where(np.isnan(inc), np.nan, inc >= r.min_count_increase))
    stacked = np.vstack(votes)
    known = ~np.isnan(stacked)
    any_run = np.any(known & (np.nan_to_num(stacked) > 0), axis=0)
    return np.where(any_run, 1.0, np.where(np.any(known, axis=0), 0.0, np.nan))


def _classify(running: F64, power: F64 | None, idle_power_kw: float) -> npt.NDArray[np.int16]:
    if power is None:  # nothing tells idle from down: a stopped machine counts as idle
        stopped = np.full(running.shape, float(_P.IDLE))
    else:
        stopped = np.where(power >= idle_power_kw, float(_P.IDLE), float(_P.ABORTED))
        stopped = np.where(np.isnan(power), float(_P.UNDEFINED), stopped)
    state = np.where(running == 1.0, float(_P.EXECUTE), stopped)
    return np.where(np.isnan(running), float(_P.UNDEFINED), state).astype(np.int16)


def debounce(intervals: Intervals, min_duration_s: float) -> Intervals:
    """A state shorter than ``min_duration_s`` stays in the state before it.

    A state lasting exactly ``min_duration_s`` counts. The first interval is kept (there is
    nothing before it to hold).
    """
    min_ns = round(min_duration_s * NS_PER_S)
    starts: list[int] = []
    ends: list[int] = []
    states: list[int] = []
    for s, e, code in zip(
        intervals.start_ns.tolist(),
        intervals.end_ns.tolist(),
        intervals.state.tolist(),
        strict=True,
    ):
        if states and (e - s < min_ns or states[-1] == code):
            ends[-1] = e
        else:
            starts.append(s)
            ends.append(e)
            states.append(code)
    i64 = np.int64
    return Intervals(np.array(starts, i64), np.array(ends, i64), np.array(states, np.int16))


def derive_states(
    ts_ns: I64,
    power_kw: F64 | None,
    speed: F64 | None,
    counter: F64 | None,
    rules: DerivationRules,
    *,
    end_ns: int,
) -> Intervals:
    """Intervals of EXECUTE (running), IDLE, ABORTED (down) or UNDEFINED (no data).

    The signals are sampled at ``ts_ns`` (NaN = missing, e.g. a BAD sample); a machine
    without one of them passes None. Speed or counter is needed to tell running.
    """
    ts_ns = np.asarray(ts_ns, dtype=np.int64)
    _check_times(ts_ns, end_ns, "derive_states")
    n = ts_ns.size
    power = _signal(power_kw, n, "power_kw")
    spd, cnt = _signal(speed, n, "speed"), _signal(counter, n, "counter")
    if spd is None and cnt is None:
        raise InvalidInputError("derive_states: needs a speed or a counter to tell running")
    states = _classify(_running(ts_ns, spd, cnt, rules), power, rules.idle_power_kw)
    return debounce(_hold(ts_ns, states, end_ns), rules.min_duration_s)


@dataclass(frozen=True, slots=True)
class PlannedWindow:
    """A planned stop ``[start_ns, end_ns)``; time in it that is not production goes to
    ``category`` (planned downtime, a break, no shift or no order)."""

    start_ns: int
    end_ns: int
    category: TimeCategory = TimeCategory.PLANNED_DOWNTIME

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise InvalidInputError(f"planned window at {self.start_ns} ns: end not after start")
        if self.category not in PLANNED_CATEGORIES:
            raise InvalidInputError(
                f"planned window at {self.start_ns} ns: {self.category} is not a planned stop"
            )


@dataclass(frozen=True, slots=True)
class StateTimes:
    """Seconds per time category over ``calendar_s``; ``unknown_s`` had no known state."""

    time_s: dict[TimeCategory, float]
    unknown_s: float
    calendar_s: float
    micro_stops: int
    #: Unplanned stops at or above the micro-stop limit (the failure events FE).
    down_events: int

    def period(self, equipment: str, products: tuple[ProductOutput, ...] = ()) -> PeriodInput:
        """The KPI input; unknown time is left out (check ``unknown_s`` before trusting it)."""
        known = self.calendar_s - self.unknown_s
        return PeriodInput(equipment, self.time_s, products, self.down_events, known)


@dataclass(frozen=True, slots=True)
class Segment:
    """``[start_ns, end_ns)`` spent in ``category``; None = no state known."""

    start_ns: int
    end_ns: int
    category: TimeCategory | None

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


def _check_windows(planned: Sequence[PlannedWindow]) -> list[PlannedWindow]:
    windows = sorted(planned, key=lambda w: w.start_ns)
    for a, b in itertools.pairwise(windows):
        if b.start_ns < a.end_ns:
            raise InvalidInputError(f"planned windows at {a.start_ns} and {b.start_ns} ns overlap")
    return windows


def _cut(
    intervals: Intervals,
    windows: list[PlannedWindow],
    mapping: Mapping[PackMLState, TimeCategory],
) -> list[Segment]:
    """Segments split at window edges; non-production inside a window becomes planned.

    ``windows`` are sorted and do not overlap, so each lookup is a binary search: a quarter
    of 10-second state changes against a year of shifts stays fast.
    """
    starts = [w.start_ns for w in windows]
    edges = sorted(starts + [w.end_ns for w in windows])
    segments: list[Segment] = []
    for s, e, code in zip(
        intervals.start_ns.tolist(),
        intervals.end_ns.tolist(),
        intervals.state.tolist(),
        strict=True,
    ):
        state = PackMLState(code)
        category = None if state is _P.UNDEFINED else mapping[state]
        inner = edges[bisect.bisect_right(edges, s) : bisect.bisect_left(edges, e)]
        for a, b in itertools.pairwise([s, *dict.fromkeys(inner), e]):
            k = bisect.bisect_right(starts, a) - 1
            window = windows[k] if k >= 0 and a < windows[k].end_ns else None
            planned = window is not None and category not in (None, _C.PRODUCING)
            segments.append(Segment(a, b, window.category if planned and window else category))
    return segments


def _mark_micro_stops(segments: list[Segment], micro_stop_s: float) -> None:
    """Runs of idle/down segments between two producing ones, shorter than ``micro_stop_s``
    in total, become micro-stops (in place)."""
    i = 1
    while i < len(segments):
        j = i
        while j < len(segments) and segments[j].category in _STOP_CATEGORIES:
            j += 1
        flanked = (
            j > i
            and j < len(segments)
            and segments[i - 1].category is _C.PRODUCING
            and segments[j].category is _C.PRODUCING
        )
        if flanked and sum(seg.seconds for seg in segments[i:j]) < micro_stop_s:
            segments[i:j] = [replace(seg, category=_C.MICRO_STOP) for seg in segments[i:j]]
        i = j + 1 if j > i else i + 1


def _runs(segments: list[Segment], category: TimeCategory) -> int:
    """Number of maximal runs of consecutive ``category`` segments."""
    hit = [seg.category is category for seg in segments]
    return sum(h and (k == 0 or not hit[k - 1]) for k, h in enumerate(hit))


def timeline(
    intervals: Intervals,
    micro_stop_s: float,
    planned: Sequence[PlannedWindow] = (),
    mapping: Mapping[PackMLState, TimeCategory] = DEFAULT_MAPPING,
) -> list[Segment]:
    """The categorized segments behind :func:`categorize`, in time order.

    They tile the intervals' span; neighbours may share a category (two PackML states
    mapping to it, or a cut at a planned window edge).
    """
    if not math.isfinite(micro_stop_s) or micro_stop_s < 0:
        raise InvalidInputError(f"micro_stop_s must be a finite time ≥ 0 s, got {micro_stop_s}")
    missing = set(PackMLState) - {_P.UNDEFINED} - set(mapping)
    if missing or _C.MICRO_STOP in mapping.values():
        raise InvalidInputError(
            f"state mapping: missing {sorted(s.name for s in missing)} or maps to micro_stop"
        )
    segments = _cut(intervals, _check_windows(planned), mapping)
    _mark_micro_stops(segments, micro_stop_s)
    return segments


def categorize(
    intervals: Intervals,
    micro_stop_s: float,
    planned: Sequence[PlannedWindow] = (),
    mapping: Mapping[PackMLState, TimeCategory] = DEFAULT_MAPPING,
) -> StateTimes:
    """Seconds per time category of ``intervals``.

    - each PackML state goes to ``mapping[state]``; UNDEFINED to ``unknown_s``;
    - inside a planned window, every known state except production goes to the window's
      category (a machine running through a planned stop is still producing);
    - a stop (consecutive idle/down time) between two producing periods lasting **less
      than** ``micro_stop_s`` is a micro-stop; one lasting exactly ``micro_stop_s`` is not.
    """
    segments = timeline(intervals, micro_stop_s, planned, mapping)
    time_s: dict[TimeCategory, float] = {}
    unknown = 0.0
    for seg in segments:
        if seg.category is None:
            unknown += seg.seconds
        else:
            time_s[seg.category] = time_s.get(seg.category, 0.0) + seg.seconds
    span = int(intervals.end_ns[-1] - intervals.start_ns[0]) if intervals.state.size else 0
    micro, down = _runs(segments, _C.MICRO_STOP), _runs(segments, _C.UNPLANNED_DOWN)
    return StateTimes(time_s, unknown, span / NS_PER_S, micro, down)
