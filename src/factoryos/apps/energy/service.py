"""Energy from the store: reads a meter's samples once per question, then hands them to the
pure functions of :mod:`.metering` and :mod:`.demand`.

Answers per place (equipment, line, area, site), per shift, per product, per good part and
per machine state (idle energy), and the load profile with its peak. Shifts, products, good
parts and states come from the equipment's ``oee:`` entry, so the two apps agree on what a
shift or a good part is. Only samples of good or uncertain quality are used; every answer
carries the share of its window the meters covered, so a window inside a meter outage
reads as unmeasured, not as 0 kWh.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import numpy as np

from factoryos.apps.energy.air import (
    CompressorFigures,
    CompressorSeries,
    Leakage,
    RunOnAdvice,
    SetpointAdvice,
    figures,
    leakage,
    run_on_advice,
    setpoint_advice,
)
from factoryos.apps.energy.config import AirSpec, EnergySection, MeterSpec
from factoryos.apps.energy.demand import (
    PRODUCING,
    Profile,
    Window,
    energy_by_key,
    idle_kwh,
    load_profile,
    per_unit,
)
from factoryos.apps.energy.errors import EnergyQueryError
from factoryos.apps.energy.metering import (
    NS_PER_S,
    EnergyCurve,
    PowerMeter,
    Times,
    Values,
    from_counter,
    from_power,
)
from factoryos.apps.oee.evaluate import product_ranges
from factoryos.apps.oee.service import OeeService
from factoryos.model.quality import Quality
from factoryos.model.uns import within
from factoryos.store.backend import TimeSeriesStore

#: How far outside a range a counter's readings are read, to place the range's edges.
COUNTER_PAD_S = 3600.0
MAX_RANGE_DAYS = 93
#: How far before a range to look for the held value of a compressor's signals.
MAX_HOLD_NS = 600 * NS_PER_S
#: Run-on timers tried, shortest first: the first within the motor's starts limit is advised.
RUN_ON_DELAYS_S = (30.0, 60.0, 120.0, 180.0, 300.0, 600.0)


@dataclass(frozen=True, slots=True)
class EnergyRow:
    """Energy of one window or key: ``coverage`` is the measured share (0–1) of its time;
    ``good`` and ``kwh_per_good`` only where the equipment counts parts."""

    key: str
    start_ns: int
    end_ns: int
    kwh: float
    coverage: float
    good: int | None = None
    kwh_per_good: float | None = None


@dataclass(frozen=True, slots=True)
class PlaceEnergy:
    """A place's energy over a range: total, idle (not producing) and the meters used."""

    place: str
    start_ns: int
    end_ns: int
    kwh: float
    coverage: float
    meters: tuple[str, ...]
    idle_kwh: float | None = None


@dataclass(frozen=True, slots=True)
class AirReport:
    """The compressor station over a range (see :mod:`.air`)."""

    start_ns: int
    end_ns: int
    compressors: list[CompressorFigures]
    leakage: Leakage | None
    setpoint: SetpointAdvice
    run_on: list[RunOnAdvice]

    @property
    def kwh(self) -> float:
        return sum(c.kwh for c in self.compressors)

    @property
    def specific_power(self) -> float | None:
        air = sum(c.air_m3 for c in self.compressors)
        return self.kwh * 60.0 / air if air > 0 else None


class EnergyService:
    """Energy questions over one site's store."""

    def __init__(
        self,
        section: EnergySection,
        store: TimeSeriesStore,
        tag_ids: Mapping[str, int],
        oee: OeeService | None = None,
    ) -> None:
        self.section = section
        self._store = store
        self._tag_ids = tag_ids
        self._oee = oee

    @property
    def places(self) -> list[str]:
        """Every place a meter measures, in the apps file's order."""
        return list(dict.fromkeys(m.measures for m in self.section.meters.values()))

    def meters_of(self, place: str) -> list[str]:
        """The meters that add up to ``place``: those measuring it, else the topmost ones
        measuring something inside it (a sub-meter under a metered line is not added twice)."""
        meters = self.section.meters
        exact = [name for name, m in meters.items() if m.measures == place]
        if exact:
            return exact
        inside = {name: m.measures for name, m in meters.items() if within(m.measures, place)}
        measured = set(inside.values())
        return [
            name
            for name, path in inside.items()
            if not any(within(path, other) and path != other for other in measured)
        ]

    def _meter(self, name: str) -> MeterSpec:
        spec = self.section.meters.get(name)
        if spec is None:
            raise EnergyQueryError(f"no meter {name!r} in the energy section")
        return spec

    def curve(self, name: str, a: int, b: int) -> EnergyCurve:
        """The meter's energy curve over ``[a, b)`` and a little either side of it."""
        spec = self._meter(name)
        pad_s = COUNTER_PAD_S if spec.counter is not None else spec.max_gap_s
        pad = round(pad_s * NS_PER_S)
        ts, values = self._samples(spec.tag, a - pad, b + pad + 1)
        if len(ts) == 0:  # nothing measured: a flat curve with no coverage
            return EnergyCurve(name, np.array([a], np.int64), np.zeros(1))
        if spec.counter is not None:
            return from_counter(spec.counter_meter(name), ts, values)
        return from_power(PowerMeter(name, spec.unit, spec.max_gap_s, spec.max_power), ts, values)

    def _samples(self, tag: str, a: int, b: int) -> tuple[Times, Values]:
        """A tag's good and uncertain samples in ``[a, b)``, oldest first."""
        batches = list(self._store.iter_raw([self._tag_ids[tag]], a, b))
        if not batches:
            return np.empty(0, np.int64), np.empty(0, np.float64)
        ts = np.concatenate([x.ts for x in batches])
        values = np.concatenate([x.values for x in batches]).astype(np.float64)
        keep = np.concatenate([x.quality for x in batches]) < Quality.BAD
        return ts[keep], values[keep]

    def _check(self, a: int, b: int) -> None:
        if b <= a:
            raise EnergyQueryError(f"range end {b} is not after its start {a}")
        if b - a > MAX_RANGE_DAYS * 86_400 * NS_PER_S:
            raise EnergyQueryError(f"range longer than {MAX_RANGE_DAYS} days; ask per quarter")

    def _curves(self, place: str, a: int, b: int) -> list[EnergyCurve]:
        names = self.meters_of(place)
        if not names:
            raise EnergyQueryError(f"no meter measures {place!r} or anything inside it")
        return [self.curve(name, a, b) for name in names]

    def rows(self, place: str, windows: Sequence[tuple[str, Window]]) -> list[EnergyRow]:
        """Energy per key over its windows (several windows of one key add up), with the
        time-weighted coverage of the place's meters."""
        if not windows:
            return []
        a = min(w.start_ns for _, w in windows)
        b = max(w.end_ns for _, w in windows)
        return _rows(self._curves(place, a, b), windows)

    def energy(self, place: str, a: int, b: int) -> PlaceEnergy:
        """A place's energy over ``[a, b)``; idle energy when it is an OEE equipment."""
        self._check(a, b)
        curves = self._curves(place, a, b)  # read once for the total and the idle energy
        (row,) = _rows(curves, [("total", Window(a, b))])
        idle = None
        if self._counts_parts(place):
            states = self._oee_of(place).data(place, a, b).get("state").good().window(a, b)
            idle = sum(idle_kwh(c, states.ts, states.values, b) for c in curves)
        meters = tuple(self.meters_of(place))
        return PlaceEnergy(place, a, b, row.kwh, row.coverage, meters, idle)

    def _counts_parts(self, place: str) -> bool:
        return self._oee is not None and place in self._oee.section.equipment

    def _oee_of(self, place: str) -> OeeService:
        if self._oee is None or place not in self._oee.section.equipment:
            raise EnergyQueryError(
                f"{place!r} has no oee entry: shifts, products and parts need one"
            )
        return self._oee

    def by_shift(self, place: str, a: int, b: int) -> list[EnergyRow]:
        """Energy and energy per good part of each shift worked in ``[a, b)``."""
        self._check(a, b)
        shifts = self._oee_of(place).by_shift(place, a, b)
        rows = self.rows(place, [(s.label, Window(s.start_ns, s.end_ns)) for s, _ in shifts])
        good = {s.label: sum(p.good for p in r.products) for s, r in shifts}
        return [_with_good(row, good[row.key]) for row in rows]

    def by_product(self, place: str, a: int, b: int) -> list[EnergyRow]:
        """Energy of each product's run time in ``[a, b)``, per good part of it."""
        self._check(a, b)
        oee = self._oee_of(place)
        spec = oee.section.equipment[place]
        ranges = product_ranges(spec, oee.data(place, a, b), a, b)
        windows = [(name, Window(s, e)) for name, runs in ranges.items() for s, e in runs]
        good: dict[str, int] = {}
        for result in oee.by_product(place, a, b):
            for p in result.products:
                good[p.product] = good.get(p.product, 0) + p.good
        return [_with_good(row, good.get(row.key, 0)) for row in self.rows(place, windows)]

    def profile(self, place: str, a: int, b: int) -> Profile:
        """The place's demand per ``demand_interval_s`` (summed over its meters), and the
        coverage of the least covered meter per interval."""
        self._check(a, b)
        step = self.section.demand_interval_s
        parts = [load_profile(c, a, b, step) for c in self._curves(place, a, b)]
        kw = np.sum([p.kw for p in parts], axis=0)
        coverage = np.min([p.coverage for p in parts], axis=0)
        return Profile(step, parts[0].starts, kw, coverage)

    def _air(self) -> AirSpec:
        if self.section.compressed_air is None:
            raise EnergyQueryError("the energy section has no compressed_air station")
        return self.section.compressed_air

    def compressor(self, path: str, a: int, b: int) -> CompressorSeries:
        """One compressor's signals in ``[a, b)`` on its power tag's time base (each other
        signal held from its last sample)."""
        spec = self._air().compressors[path]
        tags = spec.tags(path)
        base, power = self._samples(tags["power"], a, b)
        held: dict[str, Values] = {}
        first = 0
        for key in ("flow", "pressure", "loaded", "state"):
            ts, values = self._samples(tags[key], a - MAX_HOLD_NS, b)
            i = np.searchsorted(ts, base, side="right") - 1
            first = max(first, int(np.searchsorted(i, 0)))  # before its first sample: unknown
            held[key] = values[np.clip(i, 0, None)] if len(values) else np.zeros(len(base))
        keep = slice(first, None)
        return CompressorSeries(
            path,
            base[keep],
            power[keep],
            held["flow"][keep],
            held["pressure"][keep],
            held["loaded"][keep] > 0.5,
            held["state"][keep] == PRODUCING,
        )

    def air(self, a: int, b: int) -> AirReport:
        """Specific power, load ratio, leakage, setpoint and run-on advice over ``[a, b)``."""
        self._check(a, b)
        spec = self._air()
        paths = list(spec.compressors)
        station = [self.compressor(p, a, b) for p in paths]
        windows = [w for d in spec.no_demand for w in d.between(a, b, ZoneInfo(spec.timezone))]
        volumes = [spec.compressors[p].receiver_m3 for p in paths]
        leak = leakage(station, windows, volumes) if windows else None
        advice = setpoint_advice(station, leak, spec.required_bar, spec.margin_bar)
        run_on = []
        for path, c in zip(paths, station, strict=True):
            limits = spec.compressors[path]
            for delay in RUN_ON_DELAYS_S:
                found = run_on_advice(c, delay, limits.idle_kw, limits.max_starts_per_h)
                if found is not None:
                    if found.saving_kwh > 0:
                        run_on.append(found)
                    break
        return AirReport(a, b, [figures(c) for c in station], leak, advice, run_on)


def _rows(curves: Sequence[EnergyCurve], windows: Sequence[tuple[str, Window]]) -> list[EnergyRow]:
    """Energy per key over its windows, summed over ``curves``; coverage time-weighted, the
    least covered meter's."""
    kwh: dict[str, float] = {}
    seen: dict[str, float] = {}
    span: dict[str, tuple[int, int, int]] = {}
    for key, w in windows:
        length = w.end_ns - w.start_ns
        cover = min((c.coverage(w.start_ns, w.end_ns) for c in curves), default=0.0)
        seen[key] = seen.get(key, 0.0) + cover * length
        lo, hi, total = span.get(key, (w.start_ns, w.end_ns, 0))
        span[key] = (min(lo, w.start_ns), max(hi, w.end_ns), total + length)
    for c in curves:
        for key, value in energy_by_key(c, windows).items():
            kwh[key] = kwh.get(key, 0.0) + value
    return [
        EnergyRow(key, lo, hi, kwh[key], seen[key] / total if total else 0.0)
        for key, (lo, hi, total) in span.items()
    ]


def _with_good(row: EnergyRow, good: int) -> EnergyRow:
    return EnergyRow(
        row.key, row.start_ns, row.end_ns, row.kwh, row.coverage, good, per_unit(row.kwh, good)
    )
