"""Energy over windows: per shift, order, product or machine state; demand and load profile.

Windows are half-open ``[start, end)`` in ns. Energy in a window is the rise of the meter's
:class:`~.metering.EnergyCurve` across it, so windows that tile a period sum to the
period's energy. Demand is the average power over fixed intervals aligned to the clock
(15 min by default, the interval tariffs bill maximum demand on); an interval the meter
did not fully cover is marked and does not count as the peak.
"""

from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from factoryos.apps.energy.errors import ReadingError
from factoryos.apps.energy.metering import NS_PER_H, NS_PER_S, EnergyCurve, Times, Values
from factoryos.model.timeparse import format_ns

K = TypeVar("K", bound=Hashable)
PRODUCING = 6  # PackML Execute: every other state is not making parts


@dataclass(frozen=True, slots=True)
class Window:
    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns < self.start_ns:
            raise ReadingError(
                f"window {format_ns(self.start_ns)} – {format_ns(self.end_ns)} ends before "
                "it starts"
            )


def energy_by_key(curve: EnergyCurve, windows: Sequence[tuple[K, Window]]) -> dict[K, float]:
    """kWh per key, summed over that key's windows (a shift's days, an order's runs)."""
    if not windows:
        return {}
    starts = np.array([w.start_ns for _, w in windows], dtype=np.int64)
    ends = np.array([w.end_ns for _, w in windows], dtype=np.int64)
    kwh = curve.in_windows(starts, ends)
    totals: dict[K, float] = {}
    for (key, _), value in zip(windows, kwh.tolist(), strict=True):
        totals[key] = totals.get(key, 0.0) + value
    return totals


def state_windows(
    t_ns: Times, states: Values, end_ns: int, tag: str = "state"
) -> list[tuple[int, Window]]:
    """A machine's state series as windows: each state held from its sample to the next
    change, the last to ``end_ns``; samples at or after ``end_ns`` are not used."""
    keep = t_ns < end_ns
    t_ns, states = t_ns[keep], states[keep]
    if len(bad := np.flatnonzero(~np.isfinite(states))):
        raise ReadingError(f"{tag} at {format_ns(int(t_ns[bad[0]]))}: state is not a number")
    if len(t_ns) == 0:
        return []
    change = np.concatenate(([True], states[1:] != states[:-1]))
    starts = t_ns[change]
    ends = np.concatenate((starts[1:], [end_ns]))
    return [
        (int(s), Window(int(a), int(b)))
        for s, a, b in zip(states[change].tolist(), starts.tolist(), ends.tolist(), strict=True)
    ]


def idle_kwh(curve: EnergyCurve, t_ns: Times, states: Values, end_ns: int) -> float:
    """Energy used while the machine was not producing (any state but Execute)."""
    by_state = energy_by_key(curve, state_windows(t_ns, states, end_ns, f"{curve.meter} state"))
    return sum(kwh for state, kwh in by_state.items() if state != PRODUCING)


def per_unit(kwh: float, good: int) -> float | None:
    """Energy per good part; None when no good part was made (not 0, not infinite)."""
    return kwh / good if good > 0 else None


@dataclass(frozen=True, slots=True)
class Profile:
    """Average demand per interval: ``starts`` (ns), ``kw``, ``coverage`` (0–1).

    ``kw`` is the average over the interval's measured part (0 where nothing was measured):
    an interval the meters saw for 5 of its 15 minutes shows the demand of those 5 minutes,
    not a third of it, and its ``coverage`` says so."""

    interval_s: int
    starts: Times
    kw: Values
    coverage: Values

    def peak(self) -> tuple[int, float] | None:
        """(start, kW) of the highest fully measured interval; None if there is none."""
        full = np.flatnonzero(self.coverage >= 1.0)
        if not len(full):
            return None
        i = int(full[np.argmax(self.kw[full])])
        return int(self.starts[i]), float(self.kw[i])


def load_profile(curve: EnergyCurve, start_ns: int, end_ns: int, interval_s: int = 900) -> Profile:
    """Demand over ``[start, end)`` in clock-aligned intervals of ``interval_s``."""
    step = interval_s * NS_PER_S
    if interval_s <= 0 or start_ns % step or end_ns % step or end_ns <= start_ns:
        raise ReadingError(
            f"meter {curve.meter}: the profile's start and end must be multiples of "
            f"{interval_s} s and end after start"
        )
    edges = np.arange(start_ns, end_ns + 1, step, dtype=np.int64)
    coverage = np.array([curve.coverage(int(a), int(a) + step) for a in edges[:-1]])
    measured_h = coverage * (step / NS_PER_H)
    kwh = curve.in_windows(edges[:-1], edges[1:])
    kw = np.divide(kwh, measured_h, out=np.zeros_like(kwh), where=measured_h > 0)
    return Profile(interval_s, edges[:-1], kw, coverage)
