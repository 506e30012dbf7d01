"""Nakajima's six big losses of one equipment over one period, in seconds.

Every second of planned busy time (PBT, under a :class:`~.taxonomy.Taxonomy`) goes to
exactly one place, so ``value_adding_s + Σ losses == pbt_s``:

- **breakdowns**: unplanned-down time (micro-stops excluded) — ISO ADET;
- **setup & adjustments**: setup time — ISO AUST;
- **small stops**: micro-stops **and** idle time (Nakajima's "idling and minor stoppages");
- **reduced speed**: producing time − Σ produced × ideal cycle time, never below 0: when a
  cycle begun before the period ends in it, the parts may need up to one ideal cycle per
  product more than the producing time, and only then the balance below is exceeded by
  that much. Micro-stop time is already a small stop, so reduced speed + micro-stops =
  APT − Σ PQ × PRI, the ISO performance loss, when micro-stops count as production;
- **startup rejects**: parts not good made within ``startup_window_s`` after a stop other
  than a micro-stop (setup, breakdown, idle, planned), × ideal cycle time;
- **production rejects**: every other part not good (scrap, rework), × ideal cycle time;
- **planned**: planned-stop categories the taxonomy counts as planned time (breaks under
  ``breaks_planned``, everything under ``teep``); 0 under ISO 22400.

``value_adding_s`` is Σ good × ideal cycle time. Where rejects were made is known only
from scrap timestamps; without them every reject is a production reject.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from factoryos.apps.oee.errors import (
    ImplausibleKpiError,
    InvalidInputError,
    MissingIdealCycleTimeError,
)
from factoryos.apps.oee.kpi import PeriodInput, ProductOutput
from factoryos.apps.oee.reasons import CATEGORY_LOSS, LossClass
from factoryos.apps.oee.state import NS_PER_S
from factoryos.apps.oee.stops import Stop
from factoryos.apps.oee.taxonomy import DEFAULT, Taxonomy, TimeCategory

# Ideal time a hair above producing time is float rounding; more is a wrong cycle time.
_TOLERANCE = 1e-9

#: Scrap counter increments per product: ``product → [(t_ns, parts), …]``.
ScrapTimes = Mapping[str, Sequence[tuple[int, int]]]


@dataclass(frozen=True, slots=True)
class SixBigLosses:
    """Seconds of planned busy time per loss, and the value-adding rest."""

    pbt_s: float
    value_adding_s: float
    losses_s: dict[LossClass, float]


def _ideal(equipment: str, p: ProductOutput) -> float:
    if p.ideal_cycle_s is None:
        if p.produced == 0:
            return 0.0
        raise MissingIdealCycleTimeError(
            f"equipment {equipment!r}: product {p.product!r} produced {p.produced} parts "
            "but has no ideal cycle time, so its losses cannot be timed"
        )
    return p.ideal_cycle_s


def _restarts(stops: Sequence[Stop]) -> np.ndarray:
    """When production may restart: the end of every stop but a micro-stop."""
    ends = [s.end_ns for s in stops if s.category is not TimeCategory.MICRO_STOP]
    return np.array(sorted(ends), dtype=np.int64)


def _startup_parts(
    equipment: str,
    p: ProductOutput,
    increments: Sequence[tuple[int, int]],
    restarts: np.ndarray,
    window_ns: int,
) -> int:
    """Rejects of ``p`` counted within ``window_ns`` after a restart."""
    where = f"equipment {equipment!r}: scrap of {p.product!r}"
    if any(type(n) is not int or n < 0 for _, n in increments):
        raise InvalidInputError(f"{where}: increments must be counts ≥ 0")
    if sum(n for _, n in increments) > p.produced - p.good:
        raise InvalidInputError(
            f"{where}: {sum(n for _, n in increments)} parts timed, more than the "
            f"{p.produced - p.good} produced and not good"
        )
    if not increments or restarts.size == 0:
        return 0
    ts = np.array([t for t, _ in increments], dtype=np.int64)
    counts = np.array([n for _, n in increments], dtype=np.int64)
    k = np.searchsorted(restarts, ts, side="right") - 1
    since = ts - restarts[np.maximum(k, 0)]
    return int(counts[(k >= 0) & (since < window_ns)].sum())


def _quality_and_speed(
    period: PeriodInput, stops: Sequence[Stop], scrap: ScrapTimes, window_ns: int
) -> tuple[float, dict[LossClass, float]]:
    """Value-adding seconds, and the reduced-speed and reject losses."""
    restarts = _restarts(stops)
    value = ideal = startup = production = 0.0
    for p in period.products:
        cycle = _ideal(period.equipment, p)
        early = _startup_parts(period.equipment, p, scrap.get(p.product, ()), restarts, window_ns)
        value += p.good * cycle
        ideal += p.produced * cycle
        startup += early * cycle
        production += (p.produced - p.good - early) * cycle
    producing = period.seconds(TimeCategory.PRODUCING)
    # A cycle started before the period may end in it (as in kpi.effectiveness): up to one
    # ideal cycle per product more than the producing time is that, not a wrong input.
    carried = sum(_ideal(period.equipment, p) for p in period.products if p.produced)
    if ideal > producing * (1 + _TOLERANCE) + carried:
        raise ImplausibleKpiError(
            f"equipment {period.equipment!r}: parts need {ideal:.3f} s at ideal cycle time "
            f"but the equipment produced for {producing:.3f} s; a cycle time or count is wrong"
        )
    return value, {
        LossClass.REDUCED_SPEED: max(producing - ideal, 0.0),
        LossClass.STARTUP_REJECTS: startup,
        LossClass.PRODUCTION_REJECTS: production,
    }


def six_big_losses(
    period: PeriodInput,
    stops: Sequence[Stop],
    *,
    startup_window_s: float,
    taxonomy: Taxonomy = DEFAULT,
    scrap: ScrapTimes | None = None,
) -> SixBigLosses:
    """The six big losses of ``period``; ``stops`` (same equipment) give the restarts."""
    if not math.isfinite(startup_window_s) or startup_window_s < 0:
        raise InvalidInputError(
            f"startup_window_s must be a finite time ≥ 0 s, not {startup_window_s}"
        )
    others = {s.equipment for s in stops} - {period.equipment}
    if others:
        raise InvalidInputError(f"equipment {period.equipment!r}: stops of {sorted(others)} given")
    unknown = set(scrap or {}) - {p.product for p in period.products}
    if unknown:
        raise InvalidInputError(
            f"equipment {period.equipment!r}: scrap of unknown {sorted(unknown)}"
        )
    window_ns = round(startup_window_s * NS_PER_S)
    value, timed = _quality_and_speed(period, stops, scrap or {}, window_ns)
    losses = dict.fromkeys(LossClass, 0.0) | timed
    planned = [c for c in TimeCategory if c not in taxonomy.not_planned]
    for category in planned:
        if category is not TimeCategory.PRODUCING:
            losses[CATEGORY_LOSS[category]] += period.seconds(category)
    return SixBigLosses(period.seconds(*planned), value, losses)
