"""OEE of one equipment over a time range, from its tags' samples: pure, no I/O.

:func:`evaluate` takes the samples the service read from the store (:class:`EquipmentData`),
the calendar's planned windows, and the range, and returns an :class:`OeeResult`: the time
per category, the quantities per product and every ISO 22400-2 KPI. :func:`combine` adds
results up for a line or a site by summing times and quantities (so a site's availability
is ΣAPT / ΣPBT, not a mean of ratios).

Conventions (docs/oee.md, "How values are read"):

- a sample holds until the next one; a range starts with the last sample at or before its
  start (the service reads a look-back window for it); time before any sample is unknown;
- parts made in ``[a, b)`` = counter value held at ``b`` − value held at ``a``, through
  resets and rollovers (:mod:`.counters`); BAD samples are ignored;
- with a product tag, the range is split where the product changes, and each product's
  quantities are counted over its own sub-ranges.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from factoryos.apps.oee.attribution import Attribution, ReasonTag, attribute
from factoryos.apps.oee.config import EquipmentSpec
from factoryos.apps.oee.counters import counter_increase
from factoryos.apps.oee.errors import CounterError, InvalidInputError
from factoryos.apps.oee.kpi import KpiReport, ProductOutput, report
from factoryos.apps.oee.losses import SixBigLosses, six_big_losses
from factoryos.apps.oee.reasons import OperatorEntry, ReasonCatalog
from factoryos.apps.oee.state import (
    Intervals,
    PackMLState,
    PlannedWindow,
    StateTimes,
    categorize,
    derive_states,
    state_intervals,
    timeline,
)
from factoryos.apps.oee.stops import find_stops
from factoryos.apps.oee.taxonomy import Taxonomy, TimeCategory
from factoryos.model.quality import Quality

NS_PER_S = 1_000_000_000
I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class Series:
    """One tag's samples in time order (any quality)."""

    ts: I64
    values: F64
    quality: npt.NDArray[np.uint8]

    @classmethod
    def empty(cls) -> "Series":
        return cls(np.empty(0, np.int64), np.empty(0, np.float64), np.empty(0, np.uint8))

    def good(self) -> "Series":
        keep = self.quality < Quality.BAD
        return Series(self.ts[keep], self.values[keep], self.quality[keep])

    def window(self, a: int, b: int) -> "Series":
        """The sample held at ``a`` (re-stamped ``a``) and the samples in ``(a, b)``."""
        first = int(np.searchsorted(self.ts, a, side="right")) - 1
        stop = int(np.searchsorted(self.ts, b, side="left"))
        lo = max(first, 0)
        ts = self.ts[lo:stop].copy()
        if first >= 0:
            ts[0] = a
        return Series(ts, self.values[lo:stop], self.quality[lo:stop])

    def held_at(self, t: int) -> float | None:
        i = int(np.searchsorted(self.ts, t, side="right")) - 1
        return None if i < 0 else float(self.values[i])


def expire(s: Series, hold_ns: int, until_ns: int) -> Series:
    """A BAD sample ``hold_ns`` after each sample followed by nothing for longer (up to
    ``until_ns``): a value is not trusted for ever, so a silent source becomes unknown time
    instead of its last state stretched over the gap."""
    if s.ts.size == 0:
        return s
    nxt = np.append(s.ts[1:], np.int64(until_ns))
    late = np.flatnonzero(nxt - s.ts > hold_ns)
    if late.size == 0:
        return s
    ts = np.concatenate([s.ts, s.ts[late] + hold_ns])
    order = np.argsort(ts, kind="stable")
    values = np.concatenate([s.values, np.full(late.size, np.nan)])
    quality = np.concatenate([s.quality, np.full(late.size, Quality.BAD, np.uint8)])
    return Series(ts[order], values[order], quality[order])


@dataclass(frozen=True, slots=True)
class EquipmentData:
    """What the store holds for one equipment's OEE tags, keyed as in :class:`EquipmentSpec`
    (``state``, ``power``, ``speed``, ``counter``, ``produced``, ``good``, ``scrap``,
    ``product``)."""

    series: Mapping[str, Series]

    def get(self, key: str) -> Series:
        return self.series.get(key, Series.empty())


@dataclass(frozen=True, slots=True)
class OeeResult:
    """OEE of one equipment (or a combination) over ``[start_ns, end_ns)``."""

    name: str
    start_ns: int
    end_ns: int
    times: StateTimes
    products: tuple[ProductOutput, ...]
    kpis: KpiReport
    notes: tuple[str, ...] = field(default=())


def _undefined(a: int, b: int) -> Intervals:
    return Intervals(np.array([a], np.int64), np.array([b], np.int64), np.array([0], np.int16))


def _with_lead(iv: Intervals, a: int) -> Intervals:
    """Unknown time from ``a`` to the first interval, so every range is fully tiled."""
    if iv.start_ns[0] <= a:
        return iv
    return Intervals(
        np.concatenate([[a], iv.start_ns]),
        np.concatenate([iv.start_ns[:1], iv.end_ns]),
        np.concatenate([np.array([PackMLState.UNDEFINED], np.int16), iv.state]),
    )


def _aligned(parts: Sequence[Series]) -> tuple[I64, list[F64]]:
    """Signals held on the union of their sample times (NaN before a signal's first one)."""
    ts = np.unique(np.concatenate([p.ts for p in parts]))
    out = []
    for p in parts:
        idx = np.searchsorted(p.ts, ts, side="right") - 1
        values = np.where(idx >= 0, p.values[np.maximum(idx, 0)], np.nan)
        bad = np.where(idx >= 0, p.quality[np.maximum(idx, 0)] >= Quality.BAD, True)
        out.append(np.where(bad, np.nan, values))
    return ts, out


def intervals_of(spec: EquipmentSpec, data: EquipmentData, a: int, b: int) -> Intervals:
    """The machine's state intervals over ``[a, b)``."""
    if spec.state_tag is not None:
        s = data.get("state").window(a, b)
        if s.ts.size == 0:
            return _undefined(a, b)
        return _with_lead(state_intervals(s.ts, s.values, b, s.quality), a)
    assert spec.derive is not None
    keys = [k for k in ("power", "speed", "counter") if getattr(spec.derive, k) is not None]
    windows = [data.get(k).window(a, b) for k in keys]
    if all(w.ts.size == 0 for w in windows):
        return _undefined(a, b)
    ts, signals = _aligned(windows)
    by_key = dict(zip(keys, signals, strict=True))
    iv = derive_states(
        ts,
        by_key.get("power"),
        by_key.get("speed"),
        by_key.get("counter"),
        spec.derive.rules,
        end_ns=b,
    )
    return _with_lead(iv, a)


def _clip_intervals(iv: Intervals, a: int, b: int) -> Intervals:
    keep = (iv.end_ns > a) & (iv.start_ns < b)
    return Intervals(
        np.maximum(iv.start_ns[keep], a), np.minimum(iv.end_ns[keep], b), iv.state[keep]
    )


def _clip_windows(planned: Sequence[PlannedWindow], a: int, b: int) -> list[PlannedWindow]:
    return [
        PlannedWindow(max(w.start_ns, a), min(w.end_ns, b), w.category)
        for w in planned
        if w.end_ns > a and w.start_ns < b
    ]


def _count(spec: EquipmentSpec, tag: str, series: Series, a: int, b: int) -> int | None:
    """Parts counted in ``[a, b)``; None when the counter has no sample up to ``b``."""
    good = series.good()
    start = good.held_at(a)
    inside = (good.ts > a) & (good.ts <= b)
    samples = [(a, start)] if start is not None else []
    samples += list(zip(good.ts[inside].tolist(), good.values[inside].tolist(), strict=True))
    if not samples:
        return None
    return counter_increase(spec.counters.spec(tag), samples)


@dataclass(frozen=True, slots=True)
class _Counts:
    produced: int
    good: int
    scrap: int


def _counts(
    spec: EquipmentSpec, data: EquipmentData, ranges: Sequence[tuple[int, int]]
) -> tuple[_Counts, list[str]]:
    totals = {"produced": 0, "good": 0, "scrap": 0}
    notes: list[str] = []
    for key in ("produced", "good", "scrap"):
        if getattr(spec.counters, key) is None:
            continue
        for a, b in ranges:
            n = _count(spec, getattr(spec.counters, key), data.get(key), a, b)
            if n is None:
                notes.append(f"{key} counter has no samples up to the range end")
            else:
                totals[key] += n
    produced = totals["produced"]
    if spec.counters.good is None:
        totals["good"] = produced - totals["scrap"]
    elif spec.counters.scrap is None:
        totals["scrap"] = produced - totals["good"]
    good, scrap = totals["good"], totals["scrap"]
    excess = max(-good, -scrap, good + scrap - produced, 0)
    # Counters read in different PLC cycles may straddle a range edge by a part each.
    if excess > 2 * len(ranges):
        raise CounterError(
            f"counters disagree: produced {produced}, good {good}, scrap {scrap} "
            f"({spec.counters.produced}, {spec.counters.good}, {spec.counters.scrap})"
        )
    if excess:
        good = min(max(good, 0), produced)
        scrap = min(max(scrap, 0), produced - good)
        notes.append(f"counters read at slightly different times: {excess} part(s) at the edges")
    return _Counts(produced, good, scrap), notes


def product_ranges(
    spec: EquipmentSpec, data: EquipmentData, a: int, b: int
) -> dict[str, list[tuple[int, int]]]:
    """Sub-ranges of ``[a, b)`` per product name (one product: the whole range)."""
    if spec.product_tag is None:
        return {spec.product: [(a, b)]}
    s = data.get("product").good().window(a, b)
    starts = s.ts.tolist()
    ends = [*starts[1:], b]
    out: dict[str, list[tuple[int, int]]] = {}
    for start, end, code in zip(starts, ends, s.values.tolist(), strict=True):
        product = spec.products.get(int(code)) if float(code).is_integer() else None
        name = product.name if product is not None else f"code {code:g}"
        out.setdefault(name, []).append((start, end))
    return out


def _ideal(spec: EquipmentSpec, product: str) -> float | None:
    if spec.product_tag is None:
        return spec.ideal_cycle_s
    return next((p.ideal_cycle_s for p in spec.products.values() if p.name == product), None)


def _times(
    iv: Intervals, planned: Sequence[PlannedWindow], ranges: Sequence[tuple[int, int]], micro: float
) -> StateTimes:
    parts = [
        categorize(_clip_intervals(iv, a, b), micro, _clip_windows(planned, a, b))
        for a, b in ranges
    ]
    return _sum_times(parts)


def _sum_times(parts: Sequence[StateTimes]) -> StateTimes:
    time_s: dict[TimeCategory, float] = {}
    for p in parts:
        for category, seconds in p.time_s.items():
            time_s[category] = time_s.get(category, 0.0) + seconds
    return StateTimes(
        time_s,
        sum(p.unknown_s for p in parts),
        sum(p.calendar_s for p in parts),
        sum(p.micro_stops for p in parts),
        sum(p.down_events for p in parts),
    )


def _result(
    name: str, a: int, b: int, times: StateTimes, products: tuple[ProductOutput, ...],
    taxonomy: Taxonomy, notes: Sequence[str],
) -> OeeResult:  # fmt: skip
    if times.unknown_s > 0:
        notes = [*notes, f"{times.unknown_s:g} s with no known machine state left out"]
    kpis = report(times.period(name, products), taxonomy)
    return OeeResult(name, a, b, times, products, kpis, tuple(dict.fromkeys(notes)))


def evaluate(
    name: str,
    spec: EquipmentSpec,
    data: EquipmentData,
    planned: Sequence[PlannedWindow],
    a: int,
    b: int,
    taxonomy: Taxonomy,
    *,
    only_product: str | None = None,
) -> OeeResult:
    """OEE of one equipment over ``[a, b)``; with ``only_product``, over the time that
    product ran."""
    if b <= a:
        raise InvalidInputError(f"equipment {name!r}: range end {b} is not after start {a}")
    iv = intervals_of(spec, data, a, b)
    by_product = product_ranges(spec, data, a, b)
    unassigned = (b - a) - sum(e - s for ranges in by_product.values() for s, e in ranges)
    notes: list[str] = []
    if unassigned > 0:
        seconds = unassigned / NS_PER_S
        notes.append(f"{seconds:g} s before the first product sample: no product's parts")
    if only_product is not None:
        by_product = {only_product: by_product.get(only_product, [])}
    products = []
    for product, ranges in by_product.items():
        counts, counter_notes = _counts(spec, data, ranges)
        notes += counter_notes
        ideal = _ideal(spec, product)
        products.append(
            ProductOutput(product, counts.produced, counts.good, counts.scrap, 0, ideal)
        )
    ranges = [(a, b)] if only_product is None else by_product[only_product]
    if not ranges:
        return _result(name, a, a, _sum_times([]), tuple(products), taxonomy, notes)
    times = _times(iv, planned, ranges, spec.micro_stop_s)
    return _result(name, a, b, times, tuple(products), taxonomy, notes)


def combine(name: str, results: Sequence[OeeResult], taxonomy: Taxonomy) -> OeeResult:
    """Several equipment (or periods) as one: times and quantities summed per product."""
    if not results:
        raise InvalidInputError(f"{name!r}: nothing to combine")
    # The same product on two equipment is two lines: each has its own ideal cycle time.
    several = len({r.name for r in results}) > 1
    merged: dict[tuple[str, float | None], list[ProductOutput]] = {}
    for r in results:
        for p in r.products:
            label = f"{r.name} {p.product}" if several else p.product
            merged.setdefault((label, p.ideal_cycle_s), []).append(p)
    products = tuple(
        ProductOutput(
            product,
            sum(p.produced for p in ps),
            sum(p.good for p in ps),
            sum(p.scrap for p in ps),
            sum(p.rework for p in ps),
            ideal,
        )
        for (product, ideal), ps in merged.items()
    )
    notes = [f"{r.name}: {n}" for r in results for n in r.notes]
    start = min(r.start_ns for r in results)
    end = max(r.end_ns for r in results)
    times = _sum_times([r.times for r in results])
    return _result(name, start, end, times, products, taxonomy, notes)


#: An operator entry matches a stop starting this close to it.
ENTRY_TOLERANCE_S = 300.0


def stops_of(
    result: OeeResult,
    spec: EquipmentSpec,
    data: EquipmentData,
    planned: Sequence[PlannedWindow],
    catalog: ReasonCatalog,
    entries: Sequence[OperatorEntry] = (),
) -> Attribution:
    """The stops of ``result``'s equipment and range, with their reasons."""
    a, b = result.start_ns, result.end_ns
    iv = _clip_intervals(intervals_of(spec, data, a, b), a, b)
    segments = timeline(iv, spec.micro_stop_s, _clip_windows(planned, a, b))
    stops = find_stops(result.name, segments)
    tag = None
    if spec.reason_tag is not None:
        s = data.get("reason").good()
        tag = ReasonTag(s.ts, s.values, spec.reason_tag)
    return attribute(stops, catalog, tag=tag, entries=entries, tolerance_s=ENTRY_TOLERANCE_S)


def _scrap_times(
    spec: EquipmentSpec, data: EquipmentData, a: int, b: int
) -> dict[str, list[tuple[int, int]]]:
    """When scrap was made (scrap counter increments), for startup vs production rejects;
    only for one product on a scrap counter that does not reset."""
    if spec.product_tag is not None or spec.counters.scrap is None:
        return {}
    s = data.get("scrap").good().window(a, b + 1)
    steps = np.diff(s.values)
    if np.any(steps < 0):
        return {}  # a reset: when the scrap after it was made is unknown
    at = np.flatnonzero(steps > 0)
    return {
        spec.product: list(zip(s.ts[at + 1].tolist(), steps[at].astype(int).tolist(), strict=True))
    }


def losses_of(
    result: OeeResult,
    spec: EquipmentSpec,
    data: EquipmentData,
    stops: Attribution,
    startup_window_s: float,
    taxonomy: Taxonomy,
) -> SixBigLosses:
    period = result.times.period(result.name, result.products)
    scrap = _scrap_times(spec, data, result.start_ns, result.end_ns)
    return six_big_losses(
        period, stops.stops, startup_window_s=startup_window_s, taxonomy=taxonomy, scrap=scrap
    )
