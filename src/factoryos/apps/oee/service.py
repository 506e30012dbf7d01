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
from factoryos.apps.oee.config import EquipmentSpec, OeeSection
from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.evaluate import (
    EquipmentData,
    OeeResult,
    Series,
    combine,
    evaluate,
    expire,
    losses_of,
    stops_of,
)
from factoryos.apps.oee.losses import SixBigLosses
from factoryos.apps.oee.pareto import ParetoBy, ParetoRow, downtime_pareto
from factoryos.apps.oee.reasons import LossClass, OperatorEntry
from factoryos.apps.oee.stops import Stop
from factoryos.apps.oee.trend import TrendRow, trend
from factoryos.model.quality import Quality
from factoryos.model.uns import tag_path
from factoryos.store.backend import TimeSeriesStore

NS_PER_S = 1_000_000_000
# Nearest-first windows to find the sample a range starts with, before the full look-back.
_HELD_PROBES_S = (10.0, 600.0)
# Series whose repeats carry nothing under sample-and-hold, and are read that way.
_ON_CHANGE = frozenset({"state", "product", "reason", "produced", "good", "scrap"})
_PAGE = 100_000  # samples per read while looking for the one a range starts with
_Sample = tuple[int, float, int]  # ts, value, quality
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
class _Read:
    path: str
    spec: EquipmentSpec
    data: EquipmentData
    windows: CalendarWindows


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
    #: Per shift ("2025-01-06 early"); equipment on different calendars add up by label.
    by_shift: list[TrendRow]
    unmatched_entries: list[OperatorEntry]

    def total_losses(self) -> dict[LossClass, float]:
        total = dict.fromkeys(LossClass, 0.0)
        for six in self.six_big_losses.values():
            for loss, seconds in six.losses_s.items():
                total[loss] += seconds
        return total


@dataclass(frozen=True, slots=True)
class Overview:
    """What a report shows, per equipment path."""

    results: dict[str, OeeResult]
    shifts: dict[str, list[tuple[ShiftWindow, OeeResult]]]
    losses: LossReport


def _merge_rows(rows: Sequence[TrendRow]) -> list[TrendRow]:
    """Rows with the same label (one shift on several equipment) as one, in time order."""
    merged: dict[str, TrendRow] = {}
    for row in sorted(rows, key=lambda r: (r.start_ns, r.label)):
        seen = merged.get(row.label)
        if seen is None:
            merged[row.label] = TrendRow(
                row.label, row.start_ns, row.end_ns, dict(row.seconds), row.stops
            )
            continue
        for category, seconds in row.seconds.items():
            seen.seconds[category] = seen.seconds.get(category, 0.0) + seconds
        merged[row.label] = TrendRow(
            seen.label, min(seen.start_ns, row.start_ns), max(seen.end_ns, row.end_ns),
            seen.seconds, seen.stops + row.stops,
        )  # fmt: skip
    return list(merged.values())


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
        """The last sample before ``a`` within the look-back, and the last good one when that
        is BAD (a counter's baseline); nearest windows first, paged (``raw`` reads oldest
        first, so a page's end is not the last sample unless the page is short)."""
        probes = (*(p for p in _HELD_PROBES_S if p < lookback_s), lookback_s)
        for k, probe_s in enumerate(probes):
            last, good = self._last_in(tag_id, a - round(probe_s * NS_PER_S), a)
            if last is None or (good is None and k < len(probes) - 1):
                continue  # nothing, or only BAD samples: look further back
            keep = sorted({i for i in (good, last) if i is not None})
            return Series(
                np.array([i[0] for i in keep], np.int64),
                np.array([i[1] for i in keep], np.float64),
                np.array([i[2] for i in keep], np.uint8),
            )
        return Series.empty()

    def _last_in(self, tag_id: int, lo: int, a: int) -> tuple[_Sample | None, _Sample | None]:
        """The last sample and the last good sample in ``[lo, a)``."""
        last: _Sample | None = None
        good: _Sample | None = None
        while True:
            batch = self._store.raw(tag_id, lo, a, limit=_PAGE)
            if len(batch) == 0:
                return last, good
            last = (int(batch.ts[-1]), float(batch.values[-1]), int(batch.quality[-1]))
            ok = np.flatnonzero(batch.quality < Quality.BAD)
            if ok.size:
                i = int(ok[-1])
                good = (int(batch.ts[i]), float(batch.values[i]), int(batch.quality[i]))
            if len(batch) < _PAGE:
                return last, good
            lo = last[0] + 1

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
            s = expire(s, round(spec.max_hold_s * NS_PER_S), b)
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

    def _read(self, path: str, a: int, b: int) -> "_Read":
        """Everything one equipment's answers need, read once."""
        return _Read(path, self._spec(path), self.data(path, a, b), self.windows(path, a, b))

    def _evaluate(self, r: "_Read", a: int, b: int, product: str | None = None) -> OeeResult:
        return evaluate(
            r.path, r.spec, r.data, r.windows.planned, a, b, self.section.preset,
            only_product=product,
        )  # fmt: skip

    def equipment(self, path: str, a: int, b: int, product: str | None = None) -> OeeResult:
        """OEE of one equipment over ``[a, b)`` (only ``product``'s time when given)."""
        self._check(a, b)
        return self._evaluate(self._read(path, a, b), a, b, product)

    def _shifts(self, r: "_Read") -> list[tuple[ShiftWindow, OeeResult]]:
        return [(s, self._evaluate(r, s.start_ns, s.end_ns)) for s in r.windows.shifts]

    def by_shift(self, path: str, a: int, b: int) -> list[tuple[ShiftWindow, OeeResult]]:
        """One result per shift worked in ``[a, b)`` (breaks and planned stops excluded)."""
        self._check(a, b)
        return self._shifts(self._read(path, a, b))

    def by_day(self, path: str, a: int, b: int) -> list[tuple[date, OeeResult]]:
        """One result per plant calendar day touched by ``[a, b)``."""
        self._check(a, b)
        r = self._read(path, a, b)
        return [(d, self._evaluate(r, s, e)) for d, s, e in self._days(a, b)]

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
        r = self._read(path, a, b)
        results = [self._evaluate(r, a, b, name) for name in self.product_names(path)]
        return [res for res in results if res.times.calendar_s > 0]

    def overview(
        self,
        paths: Sequence[str],
        a: int,
        b: int,
        entries: Sequence[OperatorEntry] = (),
        top_n: int = 10,
    ) -> "Overview":
        """OEE, shifts and losses of ``paths`` over ``[a, b)``, reading each equipment once."""
        self._check(a, b)
        section = self.section
        # A correction is a newer entry for the same stop: the newest one counts.
        entries = list({(e.equipment, e.start_ns): e for e in entries}.values())
        results: dict[str, OeeResult] = {}
        shifts: dict[str, list[tuple[ShiftWindow, OeeResult]]] = {}
        stops: list[Stop] = []
        six: dict[str, SixBigLosses] = {}
        unmatched: list[OperatorEntry] = []
        for path in paths:
            r = self._read(path, a, b)
            result = results[path] = self._evaluate(r, a, b)
            shifts[path] = self._shifts(r)
            mine = [e for e in entries if e.equipment == path]
            planned = r.windows.planned
            found = stops_of(result, r.spec, r.data, planned, section.reasons, mine)
            stops += found.stops
            unmatched += found.unmatched
            six[path] = losses_of(
                result, r.spec, r.data, found, section.startup_window_s, section.preset
            )
        days = [(d.isoformat(), s, e) for d, s, e in self._days(a, b)]
        by_shift = [
            row
            for path in paths
            for row in trend(
                [s for s in stops if s.equipment == path],
                [(w.label, w.start_ns, w.end_ns) for w, _ in shifts[path]],
            )
        ]
        losses = LossReport(
            a,
            b,
            stops,
            six,
            downtime_pareto(stops, ParetoBy.REASON, top_n),
            downtime_pareto(stops, ParetoBy.EQUIPMENT, top_n),
            trend(stops, days),
            _merge_rows(by_shift),
            unmatched,
        )
        return Overview(results, shifts, losses)

    def losses(
        self,
        paths: Sequence[str],
        a: int,
        b: int,
        entries: Sequence[OperatorEntry] = (),
        top_n: int = 10,
    ) -> LossReport:
        """Stops with reasons, six big losses, Pareto by reason and equipment, daily trend."""
        return self.overview(paths, a, b, entries, top_n).losses

    def lines(self) -> list[str]:
        """Paths of the lines that have equipment with OEE (site/area/line)."""
        return sorted({path.rsplit("/", 2)[0] for path in self.section.equipment})

    def product_names(self, path: str) -> list[str]:
        spec = self._spec(path)
        if spec.product_tag is None:
            return [spec.product]
        return [p.name for p in spec.products.values()]

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
        return self.line_of(line, {r.name: r for r in results})

    def line_of(self, line: str, results: Mapping[str, OeeResult]) -> LineResult:
        """The line's answer from its equipment's results (no store read)."""
        mine = [results[p] for p in self._members(line)]
        total = combine(line, mine, self.section.preset)
        neck = self.bottleneck(line)
        return LineResult(line, neck, results[neck], mine, total)

    def site(self, a: int, b: int) -> OeeResult:
        """Every configured equipment, times and quantities summed."""
        self._check(a, b)
        results = [self.equipment(p, a, b) for p in self.equipment_paths]
        return combine("site", results, self.section.preset)
