"""ISA-18.2 performance KPIs computed from an alarm event history.

"An alarm" here is an ``activated`` event: what an operator is shown. Windows are fixed
10-minute buckets aligned to the start of the period, not sliding windows.
"""

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from factoryos.apps.alarms.errors import AlarmError
from factoryos.apps.alarms.events import AlarmEvent, EventKind

NS_PER_S = 1_000_000_000
WINDOW_NS = 600 * NS_PER_S  # ISA-18.2 counts alarms per operator per 10 minutes
FLOOD_ABOVE = 10  # more than 10 alarms in 10 minutes is a flood
STANDING_NS = 24 * 3600 * NS_PER_S  # active for more than 24 hours
CHATTER_COUNT = 3  # 3 or more activations of one alarm …
CHATTER_NS = 60 * NS_PER_S  # … within one minute
TOP_N = 10
_ENDS_STANDING = (EventKind.CLEARED, EventKind.SHELVED, EventKind.REMOVED_FROM_SERVICE)


@dataclass(frozen=True, slots=True)
class FloodPeriod:
    start: int
    end: int
    alarms: int


@dataclass(frozen=True, slots=True)
class StandingAlarm:
    alarm: str
    since: int
    duration_ns: int


@dataclass(frozen=True, slots=True)
class AlarmKpis:
    total: int
    per_10min_avg: float
    per_10min_max: int
    floods: list[FloodPeriod]
    flood_time_fraction: float
    standing: list[StandingAlarm]
    chattering: list[str]
    top: list[tuple[str, int]]


def _activations(events: Sequence[AlarmEvent], start: int, end: int) -> list[AlarmEvent]:
    return [e for e in events if e.kind is EventKind.ACTIVATED and start <= e.ts < end]


def _window_counts(times: list[int], start: int, end: int) -> np.ndarray:
    windows = -(-(end - start) // WINDOW_NS)
    index = (np.asarray(times, dtype=np.int64) - start) // WINDOW_NS
    return np.bincount(index, minlength=windows)


def _floods(counts: np.ndarray, start: int) -> list[FloodPeriod]:
    """Consecutive flooded windows merge into one period."""
    periods: list[FloodPeriod] = []
    for w in np.flatnonzero(counts > FLOOD_ABOVE).tolist():
        w_start = start + w * WINDOW_NS
        if periods and periods[-1].end == w_start:
            last = periods.pop()
            periods.append(
                FloodPeriod(last.start, w_start + WINDOW_NS, last.alarms + int(counts[w]))
            )
        else:
            periods.append(FloodPeriod(w_start, w_start + WINDOW_NS, int(counts[w])))
    return periods


def _standing(events: Sequence[AlarmEvent], end: int) -> list[StandingAlarm]:
    """Alarms annunciated for more than 24 h without clearing, shelving or removal."""
    since: dict[str, int] = {}
    found: list[StandingAlarm] = []
    for e in sorted(events, key=lambda e: e.ts):
        if e.kind is EventKind.ACTIVATED:
            since.setdefault(e.alarm, e.ts)
        elif e.kind in _ENDS_STANDING and e.alarm in since:
            found += _if_standing(e.alarm, since.pop(e.alarm), e.ts)
    for alarm, ts in since.items():
        found += _if_standing(alarm, ts, end)
    return sorted(found, key=lambda s: (s.since, s.alarm))


def _if_standing(alarm: str, since: int, until: int) -> list[StandingAlarm]:
    return [StandingAlarm(alarm, since, until - since)] if until - since > STANDING_NS else []


def _chattering(activations: list[AlarmEvent]) -> list[str]:
    times: defaultdict[str, list[int]] = defaultdict(list)
    for e in activations:
        times[e.alarm].append(e.ts)
    found = []
    for alarm, ts in times.items():
        t = np.sort(np.asarray(ts, dtype=np.int64))
        span = t[CHATTER_COUNT - 1 :] - t[: len(t) - CHATTER_COUNT + 1]
        if len(span) and bool((span < CHATTER_NS).any()):
            found.append(alarm)
    return sorted(found)


def compute_kpis(events: Sequence[AlarmEvent], start: int, end: int) -> AlarmKpis:
    """KPIs over ``[start, end)`` (ns). Standing alarms look at the whole history to ``end``."""
    if end <= start:
        raise AlarmError(f"KPI period is empty: start={start} end={end}")
    activations = _activations(events, start, end)
    counts = _window_counts([e.ts for e in activations], start, end)
    floods = _floods(counts, start)
    counter = Counter(e.alarm for e in activations)
    return AlarmKpis(
        total=len(activations),
        per_10min_avg=len(activations) / len(counts),
        per_10min_max=int(counts.max()),
        floods=floods,
        flood_time_fraction=sum(f.end - f.start for f in floods) / (len(counts) * WINDOW_NS),
        standing=_standing([e for e in events if e.ts < end], end),
        chattering=_chattering(activations),
        top=sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))[:TOP_N],
    )
