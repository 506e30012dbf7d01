"""Energy from meters: cumulative counters (with rollover and reset) or integrated power.

Both give an :class:`EnergyCurve`, the meter's cumulative energy in kWh at its reading
times, linear in between, so energy over any window (a shift, an order, a machine state) is
the curve's rise across it: an interval that straddles a window boundary is split in
proportion to time.

Counters (``energy_kwh`` registers) — between two readings ``dt`` apart, the most the
meter can plausibly count is ``limit = max_step + max_power × dt`` (either term may be
absent): ``max_step`` covers the register's resolution and the usual reading interval,
``max_power`` lets a counter read again after a long outage rise by what the load could
draw meanwhile.

- a rise adds the difference; a rise above ``limit`` is an error (no meter of that size
  can count that much in that time: a glitch or a swapped register);
- a drop is a **rollover** when the meter has a ``modulus`` (the reading wraps to 0 there)
  and ``new + modulus - old`` is at most ``limit``; it adds that;
- a drop to at most ``limit`` is a **reset** (the meter restarted from 0 since the last
  reading); it adds the new reading — what was counted between the last reading and the
  reset is lost, and the reset is listed;
- any other drop is an error: a decreasing energy reading is never silently accepted, and
  so is a silence long enough to count a whole turn of the register unseen (``limit`` at
  or above the modulus): the energy across it cannot be known.

Power (``active_power_kw``): trapezoids between consecutive readings at most
``max_gap_s`` apart. A longer silence is a **gap**: no energy is guessed for it, the gap is
listed and :meth:`EnergyCurve.coverage` reports how much of a window was measured.

Every error names the meter and the time of the reading at fault. Readings arrive as
numpy arrays (a month at 1 s is 2.6 M readings); bad-quality samples are dropped before.
"""

from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from factoryos.apps.energy.errors import ReadingError
from factoryos.apps.energy.units import factor
from factoryos.model.timeparse import format_ns

NS_PER_H = 3_600_000_000_000
NS_PER_S = 1_000_000_000
KWH = "kWh"
KW = "kW"

Times = npt.NDArray[np.int64]
Values = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class CounterMeter:
    """An energy counter register. ``unit``: of the scaled reading (``kWh``, ``MWh``,
    ``Wh``). ``modulus``: the reading wraps to 0 there (``2**32 * scale``, ``1e6`` for a
    six-digit display). The largest plausible rise between two readings ``dt`` apart is
    ``max_step + max_power × dt``: ``max_step`` in ``unit``, ``max_power`` in ``unit`` per
    hour (kW for a kWh counter). One of them is required for a modulus and for resets (it
    tells a rollover or reset from a glitch)."""

    meter: str
    unit: str = KWH
    modulus: float | None = None
    max_step: float | None = None
    max_power: float | None = None

    def __post_init__(self) -> None:
        for name in ("max_step", "max_power"):
            if (value := getattr(self, name)) is not None and not value > 0:
                raise ReadingError(f"meter {self.meter}: {name} must be > 0, got {value}")
        if self.modulus is not None and self.max_step is None and self.max_power is None:
            raise ReadingError(
                f"meter {self.meter}: a wrapping counter needs max_step or max_power "
                "to tell a rollover from a reset"
            )
        if self.modulus is not None and (self.max_step or 0.0) >= self.modulus:
            raise ReadingError(f"meter {self.meter}: max_step must be below the modulus")

    def limits(self, t_ns: Times) -> Values | None:
        """The largest plausible rise before each reading after the first; None: unbounded."""
        if self.max_step is None and self.max_power is None:
            return None
        hours = np.diff(t_ns) / NS_PER_H
        return (self.max_step or 0.0) + (self.max_power or 0.0) * hours


@dataclass(frozen=True, slots=True)
class PowerMeter:
    """An active-power tag integrated over time. ``unit``: ``kW``, ``W`` or ``MW``.
    ``max_power``: readings above it (in ``unit``) are errors, not peaks."""

    meter: str
    unit: str = KW
    max_gap_s: float = 60.0
    max_power: float | None = None

    def __post_init__(self) -> None:
        if not self.max_gap_s > 0:
            raise ReadingError(f"meter {self.meter}: max_gap_s must be > 0, got {self.max_gap_s}")


@dataclass(frozen=True, slots=True, eq=False)
class EnergyCurve:
    """Cumulative energy (kWh, from 0 at the first reading) at the reading times ``t_ns``;
    flat across ``gaps`` (start, end) where nothing was measured."""

    meter: str
    t_ns: Times
    kwh: Values
    gaps: tuple[tuple[int, int], ...] = ()
    resets: tuple[int, ...] = ()
    rollovers: tuple[int, ...] = ()
    _gap_starts: Times = field(init=False, repr=False)
    _gap_ends: Times = field(init=False, repr=False)

    def __post_init__(self) -> None:
        starts = np.array([g[0] for g in self.gaps], dtype=np.int64)
        ends = np.array([g[1] for g in self.gaps], dtype=np.int64)
        object.__setattr__(self, "_gap_starts", starts)
        object.__setattr__(self, "_gap_ends", ends)

    @property
    def total_kwh(self) -> float:
        return float(self.kwh[-1]) if len(self.kwh) else 0.0

    def at(self, t_ns: Times) -> Values:
        """Cumulative kWh at ``t_ns``; held flat before the first and after the last reading."""
        return np.interp(t_ns.astype(np.float64), self.t_ns.astype(np.float64), self.kwh)

    def in_windows(self, starts: Times, ends: Times) -> Values:
        """kWh measured in each window [start, end)."""
        return self.at(ends) - self.at(starts)

    def coverage(self, start_ns: int, end_ns: int) -> float:
        """Share of [start, end) inside the readings' span and outside gaps (0–1)."""
        if end_ns <= start_ns:
            return 0.0
        first, last = (int(self.t_ns[0]), int(self.t_ns[-1])) if len(self.t_ns) else (0, 0)
        seen = max(0, min(end_ns, last) - max(start_ns, first))
        lost = np.clip(
            np.minimum(self._gap_ends, end_ns) - np.maximum(self._gap_starts, start_ns), 0, None
        )
        return (seen - int(lost.sum())) / (end_ns - start_ns)


def _ordered(meter: str, t_ns: Times, values: Values) -> None:
    if len(t_ns) != len(values):
        raise ReadingError(f"meter {meter}: {len(t_ns)} times for {len(values)} readings")
    if len(t_ns) == 0:
        raise ReadingError(f"meter {meter}: no readings in the period")
    back = np.flatnonzero(np.diff(t_ns) <= 0)
    if len(back):
        i = int(back[0]) + 1
        raise ReadingError(
            f"meter {meter} at {format_ns(int(t_ns[i]))}: reading not after the previous one "
            f"at {format_ns(int(t_ns[i - 1]))}"
        )
    bad = np.flatnonzero(~np.isfinite(values) | (values < 0))
    if len(bad):
        i = int(bad[0])
        raise ReadingError(
            f"meter {meter} at {format_ns(int(t_ns[i]))}: reading {float(values[i])!r} "
            "is not a number ≥ 0"
        )


def from_counter(spec: CounterMeter, t_ns: Times, readings: Values) -> EnergyCurve:
    """The energy a counter register counted, reading by reading (see the module doc)."""
    _ordered(spec.meter, t_ns, readings)
    where = f"meter {spec.meter}"
    if spec.modulus is not None and len(over := np.flatnonzero(readings >= spec.modulus)):
        i = int(over[0])
        raise ReadingError(
            f"{where} at {format_ns(int(t_ns[i]))}: reading {float(readings[i])!r} is not below "
            f"the modulus {spec.modulus}"
        )
    step = np.diff(readings)
    found = spec.limits(t_ns)
    limit = np.full(len(step), np.inf) if found is None else found
    rollover = np.zeros(len(step), dtype=bool)
    if spec.modulus is not None:
        _no_unseen_turn(spec, t_ns, limit, spec.modulus)
        rollover = (step < 0) & (step + spec.modulus <= limit)
    reset = (step < 0) & ~rollover & (readings[1:] <= (-1.0 if found is None else limit))
    rise = np.where(rollover, step + (spec.modulus or 0.0), np.where(reset, readings[1:], step))
    _check_steps(spec, t_ns, readings, rise, limit)
    to_kwh = factor(spec.unit, KWH, where)
    kwh = np.concatenate(([0.0], np.cumsum(rise) * to_kwh))
    return EnergyCurve(
        spec.meter,
        t_ns,
        kwh,
        resets=tuple(int(t) for t in t_ns[1:][reset]),
        rollovers=tuple(int(t) for t in t_ns[1:][rollover]),
    )


def _no_unseen_turn(spec: CounterMeter, t_ns: Times, limit: Values, modulus: float) -> None:
    if len(long := np.flatnonzero(limit >= modulus)):
        i = int(long[0]) + 1
        raise ReadingError(
            f"meter {spec.meter} at {format_ns(int(t_ns[i]))}: silent since "
            f"{format_ns(int(t_ns[i - 1]))}, long enough at max_power {spec.max_power} to count "
            f"a whole turn of the register ({modulus}) unseen: the energy in between is unknown"
        )


def _check_steps(
    spec: CounterMeter, t_ns: Times, readings: Values, rise: Values, limit: Values
) -> None:
    where = f"meter {spec.meter}"
    bounds = f"max_step {spec.max_step}, max_power {spec.max_power}"
    if len(down := np.flatnonzero(rise < 0)):
        i = int(down[0]) + 1
        raise ReadingError(
            f"{where} at {format_ns(int(t_ns[i]))}: reading fell {float(readings[i - 1])!r} → "
            f"{float(readings[i])!r}, neither a rollover nor a reset to 0 ({bounds}, "
            f"modulus {spec.modulus})"
        )
    if len(jump := np.flatnonzero(rise > limit)):
        i = int(jump[0]) + 1
        raise ReadingError(
            f"{where} at {format_ns(int(t_ns[i]))}: rose {float(rise[i - 1])!r} {spec.unit} since "
            f"{format_ns(int(t_ns[i - 1]))}, above the {float(limit[i - 1]):g} {spec.unit} "
            f"a meter can count in that time ({bounds})"
        )


def from_power(spec: PowerMeter, t_ns: Times, power: Values) -> EnergyCurve:
    """The energy of a power series by trapezoids; silences above ``max_gap_s`` are gaps."""
    _ordered(spec.meter, t_ns, power)
    if spec.max_power is not None and len(high := np.flatnonzero(power > spec.max_power)):
        i = int(high[0])
        raise ReadingError(
            f"meter {spec.meter} at {format_ns(int(t_ns[i]))}: {float(power[i])!r} {spec.unit} is "
            f"above max_power {spec.max_power}"
        )
    to_kw = factor(spec.unit, KW, f"meter {spec.meter}")
    dt = np.diff(t_ns)
    gap = dt > spec.max_gap_s * NS_PER_S
    energy = np.where(gap, 0.0, (power[:-1] + power[1:]) / 2.0 * (dt / NS_PER_H)) * to_kw
    kwh = np.concatenate(([0.0], np.cumsum(energy)))
    gaps = tuple((int(a), int(b)) for a, b in zip(t_ns[:-1][gap], t_ns[1:][gap], strict=True))
    return EnergyCurve(spec.meter, t_ns, kwh, gaps=gaps)
