"""OEE from the store: reads an equipment's tags once per question, then evaluates.

Answers per equipment, per shift, per day (plant time zone), per product, per line
(bottleneck-aware) and per site, for any range. The logic is in :mod:`.evaluate`; this
module only reads samples and hands them over.
"""

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

import numpy as np

from factoryos.apps.oee.calendar import CalendarWindows, ShiftWindow, calendar_windows
from factoryos.apps.oee.config import EquipmentSpec, OeeSection, tag_path
from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.evaluate import (
    EquipmentData,
    OeeResult,
    Series,
    combine,
    evaluate,
    losses_of,
    stops_of,
)
from factoryos.apps.oee.losses import SixBigLosses
from factoryos.apps.oee.pareto import ParetoBy, ParetoRow, downtime_pareto
from factoryos.apps.oee.reasons import LossClass, OperatorEntry
from factoryos.apps.oee.stops import Stop
from factoryos.apps.oee.trend import TrendRow, trend
from factoryos.store.backend import TimeSeriesStore

NS_PER_S = 1_000_000_000
# Nearest-first windows to find the sample a range starts with, before the full look-back.
_HELD_PROBES_S = (10.0, 600.0)
# Series whose repeats carry nothing under sample-and-hold, and are read that way.
_ON_CHANGE = frozenset({"state", "product", "reason", "produced", "good", "scrap"})
MAX_RANGE_DAYS = 93  # a quarter: longer questions belong to reports over stored results


@dataclass(frozen=True, slots=True)
class LineResult:
    """A line: its bottleneck's OEE is the line's; ``total`` sums all its equipment."""

    line: str
    bottleneck: str
    oee: OeeResult
    equipment: list[OeeResult]
    total: OeeResult


@dataclass(frozen=True, slots=True)
class LossReport:
    """Where the time went on some equipment over a range (docs/oee.md, "Loss analysis")."""

    start_ns: int
    end_ns: int
    stops: list[Stop]
    six_big_losses: dict[str, SixBigLosses]
    by_reason: list[ParetoRow]
    by_equipment: list[ParetoRow]
    by_day: list[TrendRow]
    unmatched_entries: list[OperatorEntry]

    def total_losses(self) -> dict[LossClass, float]:
        total = dict.fromkeys(LossClass, 0.0)
        for six in self.six_big_losses.values():
            for loss, seconds in six.losses_s.items():
                total[loss] += seconds
        return total


def _drop_repeats(s: Series) -> Series:
    keep = np.ones(s.ts.size, dtype=np.bool_)
    keep[1:] = (s.values[1:] != s.values[:-1]) | (s.quality[1:] != s.quality[:-1])
    return Series(s.ts[keep], s.values[keep], s.quality[keep])


class OeeService:
    """OEE questions over one site's store."""

    def __init__(
        self, section: OeeSection, store: TimeSeriesStore, tag_ids: Mapping[str, int]
    ) -> None:
        self.section = section
        self._store = store
        self._tag_ids = tag_ids

    @property
    def equipment_paths(self) -> list[str]:
        return list(self.section.equipment)

    def _spec(self, path: str) -> EquipmentSpec:
        spec = self.section.equipment.get(path)
        if spec is None:
            raise InvalidInputError(f"no OEE configured for equipment {path!r}")
        return spec

    def _tags(self, path: str, spec: EquipmentSpec) -> dict[str, int]:
        names: dict[str, str | None] = {
            "state": spec.state_tag,
            "product": spec.product_tag,
            "reason": spec.reason_tag,
            "produced": spec.counters.produced,
            "good": spec.counters.good,
            "scrap": spec.counters.scrap,
        }
        if spec.derive is not None:
            names |= {k: getattr(spec.derive, k) for k in ("power", "speed", "counter")}
        return {k: self._tag_ids[tag_path(path, n)] for k, n in names.items() if n is not None}

    def _held(self, tag_id: int, a: int, lookback_s: float) -> Series:
        """The last sample before ``a`` within the look-back, nearest windows first."""
        for probe_s in (*(p for p in _HELD_PROBES_S if p < lookback_s), lookback_s):
            batch = self._store.raw(tag_id, a - round(probe_s * NS_PER_S), a)
            if len(batch):
                return Series(batch.ts[-1:], batch.values[-1:], batch.quality[-1:])
        return Series.empty()

    def data(self, path: str, a: int, b: int) -> EquipmentData:
        """Samples of the equipment's OEE tags over ``[a, b]`` plus the ones held at ``a``."""
        spec = self._spec(path)
        tags = self._tags(path, spec)
        parts: dict[int, list[Series]] = {
            tag_id: [self._held(tag_id, a, spec.lookback_s)] for tag_id in set(tags.values())
        }
        for batch in self._store.iter_raw(sorted(parts), a, b + 1):
            for tag_id in np.unique(batch.tag_ids).tolist():
                mine = batch.tag_ids == tag_id
                parts[tag_id].append(
                    Series(batch.ts[mine], batch.values[mine], batch.quality[mine])
                )
        series = {}
        for key, tag_id in tags.items():
            chunks = parts[tag_id]
            s = Series(
                np.concatenate([c.ts for c in chunks]),
                np.concatenate([c.values for c in chunks]),
                np.concatenate([c.quality for c in chunks]),
            )
            series[key] = _drop_repeats(s) if key in _ON_CHANGE else s
        return EquipmentData(series)

    def windows(self, path: str, a: int, b: int) -> CalendarWindows:
        spec = self._spec(path)
        calendar = self.section.calendars[spec.calendar]
        if spec.planned_stops:
            stops = [*calendar.planned_stops, *spec.planned_stops]
            calendar = calendar.model_copy(update={"planned_stops": stops})
        return calendar_windows(calendar, self.section.zone, a, b)

    def _check(self, a: int, b: int) -> None:
        if b <= a:
            raise InvalidInputError(f"range end {b} is not after its start {a}")
        if b - a > MAX_RANGE_DAYS * 86_400 * NS_PER_S:
            raise InvalidInputError(f"range longer than {MAX_RANGE_DAYS} days; ask per quarter")

    def equipment(self, path: str, a: int, b: int, product: str | None = None) -> OeeResult:
        """OEE of one equipment over ``[a, b)`` (only ``product``'s time when given)."""
        self._check(a, b)
        spec = self._spec(path)
        planned = self.windows(path, a, b).planned
        data = self.data(path, a, b)
        taxonomy = self.section.preset
        return evaluate(path, spec, data, planned, a, b, taxonomy, only_product=product)

    def _split(
        self, path: str, a: int, b: int, buckets: Sequence[tuple[str, int, int]]
    ) -> list[tuple[str, OeeResult]]:
        spec = self._spec(path)
        planned = self.windows(path, a, b).planned
        data = self.data(path, a, b)
        taxonomy = self.section.preset
        return [
            (label, evaluate(path, spec, data, planned, s, e, taxonomy))
            for label, s, e in buckets
            if e > s
        ]

    def by_shift(self, path: str, a: int, b: int) -> list[tuple[ShiftWindow, OeeResult]]:
        """One result per shift worked in ``[a, b)`` (breaks and planned stops excluded)."""
        self._check(a, b)
        shifts = self.windows(path, a, b).shifts
        results = dict(self._split(path, a, b, [(s.label, s.start_ns, s.end_ns) for s in shifts]))
        return [(s, results[s.label]) for s in shifts if s.label in results]

    def by_day(self, path: str, a: int, b: int) -> list[tuple[date, OeeResult]]:
        """One result per plant calendar day touched by ``[a, b)``."""
        self._check(a, b)
        days = list(self._days(a, b))
        found = dict(self._split(path, a, b, [(d.isoformat(), s, e) for d, s, e in days]))
        return [(d, found[d.isoformat()]) for d, _, _ in days if d.isoformat() in found]

    def _days(self, a: int, b: int) -> Iterator[tuple[date, int, int]]:
        zone = self.section.zone
        day = datetime.fromtimestamp(a / NS_PER_S, zone).date()
        while True:
            start = int(datetime.combine(day, time(), zone).timestamp()) * NS_PER_S
            end = int(datetime.combine(day + timedelta(days=1), time(), zone).timestamp())
            end *= NS_PER_S
            if start >= b:
                return
            yield day, max(start, a), min(end, b)
            day += timedelta(days=1)

    def by_product(self, path: str, a: int, b: int) -> list[OeeResult]:
        """One result per product run in ``[a, b)``, each over the time it ran."""
        self._check(a, b)
        spec = self._spec(path)
        names = (
            [spec.product] if spec.product_tag is None else [p.name for p in spec.products.values()]
        )
        results = [self.equipment(path, a, b, product=name) for name in names]
        return [r for r in results if r.times.calendar_s > 0]

    def losses(
        self,
        paths: Sequence[str],
        a: int,
        b: int,
        entries: Sequence[OperatorEntry] = (),
        top_n: int = 10,
    ) -> LossReport:
        """Stops with reasons, six big losses, Pareto by reason and equipment, daily trend."""
        self._check(a, b)
        section = self.section
        stops: list[Stop] = []
        six: dict[str, SixBigLosses] = {}
        unmatched: list[OperatorEntry] = []
        for path in paths:
            spec = self._spec(path)
            planned = self.windows(path, a, b).planned
            data = self.data(path, a, b)
            result = evaluate(path, spec, data, planned, a, b, section.preset)
            mine = [e for e in entries if e.equipment == path]
            found = stops_of(result, spec, data, planned, section.reasons, mine)
            stops += found.stops
            unmatched += found.unmatched
            six[path] = losses_of(
                result, spec, data, found, section.startup_window_s, section.preset
            )
        days = [(d.isoformat(), s, e) for d, s, e in self._days(a, b)]
        return LossReport(
            a,
            b,
            stops,
            six,
            downtime_pareto(stops, ParetoBy.REASON, top_n),
            downtime_pareto(stops, ParetoBy.EQUIPMENT, top_n),
            trend(stops, days),
            unmatched,
        )

    def bottleneck(self, line: str) -> str:
        """The configured bottleneck, else the line's equipment with the longest ideal cycle."""
        spec = self.section.lines.get(line)
        if spec is not None and spec.bottleneck is not None:
            return spec.bottleneck
        members = self._members(line)

        def slowest(path: str) -> float:
            s = self.section.equipment[path]
            cycles = [p.ideal_cycle_s for p in s.products.values()] or [s.ideal_cycle_s or 0.0]
            return max(cycles)

        return max(members, key=slowest)

    def _members(self, line: str) -> list[str]:
        members = [p for p in self.section.equipment if p.startswith(f"{line}/")]
        if not members:
            raise InvalidInputError(f"no equipment with OEE on line {line!r}")
        return members

    def line(self, line: str, a: int, b: int) -> LineResult:
        self._check(a, b)
        results = [self.equipment(p, a, b) for p in self._members(line)]
        neck = self.bottleneck(line)
        by_path = {r.name: r for r in results}
        total = combine(line, results, self.section.preset)
        return LineResult(line, neck, by_path[neck], results, total)

    def site(self, a: int, b: int) -> OeeResult:
        """Every configured equipment, times and quantities summed."""
        self._check(a, b)
        results = [self.equipment(p, a, b) for p in self.equipment_paths]
        return combine("site", results, self.section.preset)
