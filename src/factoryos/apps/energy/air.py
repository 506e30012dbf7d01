"""Compressed air: what the station's compressors use and deliver, how much of it leaks, and
what a lower pressure setpoint and a shorter run-on timer would save.

Pure functions of sampled series (one array per signal, on one compressor's time base; the
caller aligns them). Each sample holds until the next; a step longer than ``max_gap_s`` is a
gap and counts for nothing.

- **Specific power** (kW per m³/min of free air): energy over air delivered.
- **Load ratio**: time loaded over time running (loaded + running unloaded).
- **Leakage**: in a period with no demand every m³ delivered refills what leaked; leakage =
  (air delivered − the rise of the air stored in the receivers) / duration, at the period's
  mean pressure.
- **Setpoint**: the band can come down until its lowest pressure is ``required + margin``.
  Saving = (a) the loaded power's measured slope against pressure × the reduction × hours
  loaded, plus (b) the leaks' flow falling with absolute pressure (orifices at choked flow)
  × the station's measured average energy per m³ (unloaded running included: with
  load/unload control less air also means fewer cycles).
- **Run-on timer**: a compressor running unloaded draws a third of its power for no air.
  Replaying each measured unloaded stretch with a shorter delay before the motor stops gives
  the saving and the starts per hour it would take (a motor has a limit).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.apps.energy.errors import ReadingError

ATM_BAR = 1.01325
NS_PER_S = 1_000_000_000
NS_PER_MIN = 60 * NS_PER_S
NS_PER_H = 3600 * NS_PER_S
MIN_FIT_SAMPLES = 30  # loaded samples needed to fit power against pressure

Times = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]
Flags = npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True, eq=False)
class CompressorSeries:
    """One compressor's samples: kW, free air m³/min, gauge bar, loaded and running flags."""

    name: str
    t_ns: Times
    power_kw: Values
    flow_m3_min: Values
    pressure_bar: Values
    loaded: Flags
    running: Flags
    max_gap_s: float = 60.0

    def __post_init__(self) -> None:
        n = len(self.t_ns)
        if n < 2:
            raise ReadingError(f"compressor {self.name}: fewer than two samples in the period")
        for label in ("power_kw", "flow_m3_min", "pressure_bar", "loaded", "running"):
            if len(getattr(self, label)) != n:
                raise ReadingError(f"compressor {self.name}: {label} is not on the time base")
        if np.any(np.diff(self.t_ns) <= 0):
            raise ReadingError(f"compressor {self.name}: sample times are not increasing")
        for label in ("power_kw", "flow_m3_min", "pressure_bar"):
            v = getattr(self, label)
            if not np.all(np.isfinite(v)) or np.any(v < 0):
                raise ReadingError(f"compressor {self.name}: {label} is not a number ≥ 0")

    def steps(self, a: int | None = None, b: int | None = None) -> Values:
        """Seconds each sample holds inside ``[a, b)`` (0 across gaps and outside)."""
        lo = self.t_ns[0] if a is None else a
        hi = self.t_ns[-1] if b is None else b
        start = np.clip(self.t_ns[:-1], lo, hi)
        end = np.clip(self.t_ns[1:], lo, hi)
        held = (end - start) / NS_PER_S
        gap = np.diff(self.t_ns) > self.max_gap_s * NS_PER_S
        return np.concatenate((np.where(gap, 0.0, held), [0.0]))


@dataclass(frozen=True, slots=True)
class CompressorFigures:
    name: str
    kwh: float
    air_m3: float
    loaded_h: float
    unloaded_h: float
    unloaded_kwh: float

    @property
    def specific_power(self) -> float | None:
        """kW per m³/min of free air delivered; None when it delivered none."""
        return self.kwh * 60.0 / self.air_m3 if self.air_m3 > 0 else None

    @property
    def load_ratio(self) -> float | None:
        running = self.loaded_h + self.unloaded_h
        return self.loaded_h / running if running > 0 else None


def figures(c: CompressorSeries) -> CompressorFigures:
    dt = c.steps()
    unloaded = c.running & ~c.loaded
    return CompressorFigures(
        c.name,
        kwh=float(np.sum(c.power_kw * dt)) / 3600.0,
        air_m3=float(np.sum(c.flow_m3_min * dt)) / 60.0,
        loaded_h=float(np.sum(dt[c.loaded])) / 3600.0,
        unloaded_h=float(np.sum(dt[unloaded])) / 3600.0,
        unloaded_kwh=float(np.sum((c.power_kw * dt)[unloaded])) / 3600.0,
    )


@dataclass(frozen=True, slots=True)
class Leakage:
    """Leak flow measured over no-demand windows: m³/min of free air at ``pressure_bar``."""

    m3_min: float
    pressure_bar: float
    measured_h: float

    def at(self, pressure_bar: float) -> float:
        """The same holes at another pressure (flow ∝ absolute pressure)."""
        return self.m3_min * (pressure_bar + ATM_BAR) / (self.pressure_bar + ATM_BAR)


def _pressure_at(c: CompressorSeries, t: int) -> float:
    i = max(int(np.searchsorted(c.t_ns, t, side="right")) - 1, 0)
    return float(c.pressure_bar[i])


def leakage(
    station: Sequence[CompressorSeries],
    windows: Sequence[tuple[int, int]],
    receiver_m3: Sequence[float],
) -> Leakage | None:
    """Leakage from ``windows`` in which nothing but leaks drew air; None without any.
    ``receiver_m3``: each compressor's receiver volume (the air stored at its pressure)."""
    air = stored = minutes = weighted_p = 0.0
    for a, b in windows:
        if b <= a:
            continue
        minutes += (b - a) / NS_PER_MIN
        for c, volume in zip(station, receiver_m3, strict=True):
            dt = c.steps(a, b)
            air += float(np.sum(c.flow_m3_min * dt)) / 60.0
            stored += (_pressure_at(c, b) - _pressure_at(c, a)) * volume / ATM_BAR
            weighted_p += float(np.sum(c.pressure_bar * dt)) / 60.0 / len(station)
    if minutes <= 0:
        return None
    return Leakage((air - stored) / minutes, weighted_p / minutes, minutes / 60.0)


@dataclass(frozen=True, slots=True)
class PowerSlope:
    """Loaded power against discharge pressure: ``kw_per_bar`` from a least-squares line."""

    name: str
    kw_per_bar: float
    samples: int


def power_slope(c: CompressorSeries) -> PowerSlope | None:
    """The measured rise of loaded power per bar; None with too few loaded samples or no
    pressure spread to fit on."""
    loaded = c.loaded & c.running & (c.steps() > 0)
    p, kw = c.pressure_bar[loaded], c.power_kw[loaded]
    if len(p) < MIN_FIT_SAMPLES or float(np.ptp(p)) < 0.1:
        return None
    slope = float(np.polyfit(p, kw, 1)[0])
    return PowerSlope(c.name, max(slope, 0.0), len(p))


@dataclass(frozen=True, slots=True)
class SetpointAdvice:
    """Lower the band by ``reduce_bar``; the period would have used ``saving_kwh`` less."""

    lowest_bar: float
    target_bar: float
    reduce_bar: float
    saving_kwh: float
    loaded_kwh_saved: float
    leak_kwh_saved: float
    note: str


def setpoint_advice(
    station: Sequence[CompressorSeries],
    leak: Leakage | None,
    required_bar: float,
    margin_bar: float,
) -> SetpointAdvice:
    """How far the station's pressure band can come down, and what that saves."""
    running = [c.pressure_bar[c.running & (c.steps() > 0)] for c in station]
    seen = np.concatenate(running) if running else np.empty(0)
    if len(seen) == 0:
        raise ReadingError("no compressor of the station ran in the period")
    lowest = float(np.percentile(seen, 1.0))  # the cut-in pressure, not one noisy sample
    target = required_bar + margin_bar
    reduce = round(max(0.0, lowest - target), 1)  # a controller is set in 0.1 bar steps
    if reduce <= 0:
        note = f"the band's low end {lowest:.2f} bar is already at the {target:.2f} bar needed"
        return SetpointAdvice(lowest, target, 0.0, 0.0, 0.0, 0.0, note)
    loaded_saved = 0.0
    fitted = []
    for c in station:
        slope = power_slope(c)
        if slope is not None:
            fitted.append(c.name)
            dt = c.steps()
            loaded_saved += slope.kw_per_bar * reduce * float(np.sum(dt[c.loaded])) / 3600.0
    leak_saved = 0.0
    figs = [figures(c) for c in station]
    air = sum(f.air_m3 for f in figs)
    if leak is not None and air > 0:
        mean_p = float(np.mean(seen))
        less_m3_min = leak.at(mean_p) - leak.at(mean_p - reduce)
        hours = max(float(np.sum(c.steps())) for c in station) / 3600.0
        # leak air costs the station's average energy per m³: with load/unload control
        # fewer m³ also means fewer cycles, so less unloaded running, not only less loaded
        kwh_per_m3 = sum(f.kwh for f in figs) / air
        leak_saved = less_m3_min * 60.0 * hours * kwh_per_m3
    note = f"power fitted on {', '.join(fitted) or 'no compressor'}"
    if leak is None:
        note += "; no no-demand period measured, leak saving not counted"
    return SetpointAdvice(
        lowest, target, reduce, loaded_saved + leak_saved, loaded_saved, leak_saved, note
    )


@dataclass(frozen=True, slots=True)
class RunOnAdvice:
    """A run-on timer of ``delay_s`` (unloaded before the motor stops) for one compressor."""

    name: str
    delay_s: float
    saving_kwh: float
    starts_per_h: float


def unloaded_stretches(c: CompressorSeries) -> list[tuple[float, bool]]:
    """Each stretch the compressor ran unloaded: (seconds, ended by the motor stopping)."""
    dt = c.steps()
    unloaded = c.running & ~c.loaded
    edges = np.diff(np.concatenate(([0], unloaded.astype(np.int8), [0])))
    out = []
    for s, e in zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True):
        stopped = e < len(unloaded) and not c.running[e]
        out.append((float(np.sum(dt[s:e])), bool(stopped)))
    return out


def run_on_advice(
    c: CompressorSeries,
    delay_s: float,
    idle_kw: float,
    max_starts_per_h: float,
) -> RunOnAdvice | None:
    """Replay ``c``'s unloaded stretches with the motor stopping after ``delay_s``; None when
    that would start the motor more often than ``max_starts_per_h``. ``idle_kw``: what the
    stopped compressor draws (controller, heaters)."""
    stretches = unloaded_stretches(c)
    dt = c.steps()
    unloaded = c.running & ~c.loaded
    unloaded_s = float(np.sum(dt[unloaded]))
    if unloaded_s <= 0:
        return RunOnAdvice(c.name, delay_s, 0.0, 0.0)
    unloaded_kw = float(np.sum((c.power_kw * dt)[unloaded])) / unloaded_s
    cut_s = sum(max(0.0, length - delay_s) for length, _ in stretches)
    starts = sum(1 for length, stopped in stretches if stopped or length > delay_s)
    hours = float(np.sum(dt)) / 3600.0
    per_h = starts / hours if hours > 0 else 0.0
    if per_h > max_starts_per_h:
        return None
    return RunOnAdvice(c.name, delay_s, cut_s * (unloaded_kw - idle_kw) / 3600.0, per_h)
