"""ISO 22400-2 KPIs of one equipment over one period, as pure functions.

Every KPI is a :class:`Kpi`: a value, or ``None`` with the reason when it is undefined (a
zero denominator). Impossible inputs raise :class:`~.errors.OeeError` subclasses instead of
producing a silently wrong number. Times are seconds.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from factoryos.apps.oee.errors import (
    ImplausibleKpiError,
    InvalidInputError,
    MissingIdealCycleTimeError,
)
from factoryos.apps.oee.taxonomy import DEFAULT, PerformanceMethod, Taxonomy, TimeCategory

# Effectiveness a hair above 1 is float rounding; more means a wrong ideal cycle time.
_E_TOLERANCE = 1e-9
# Relative tolerance when the category times are checked against the calendar time.
_CALENDAR_TOLERANCE = 1e-9


def _count(value: int, what: str) -> None:
    if type(value) is not int or value < 0:
        raise InvalidInputError(f"{what} must be a count ≥ 0, got {value!r}")


def _seconds(value: float, what: str) -> None:
    if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidInputError(f"{what} must be a finite time ≥ 0 s, got {value!r}")


@dataclass(frozen=True, slots=True)
class ProductOutput:
    """Quantities of one product: produced (PQ), good (GQ), scrap (SQ), rework (RQ)."""

    product: str
    produced: int
    good: int
    scrap: int = 0
    rework: int = 0
    #: Ideal (planned run) time per unit, seconds (ISO PRI); None when unknown.
    ideal_cycle_s: float | None = None

    def __post_init__(self) -> None:
        where = f"product {self.product!r}"
        for name in ("produced", "good", "scrap", "rework"):
            _count(getattr(self, name), f"{where}: {name}")
        if self.good + self.scrap + self.rework > self.produced:
            raise InvalidInputError(
                f"{where}: good + scrap + rework ({self.good} + {self.scrap} + "
                f"{self.rework}) exceeds produced ({self.produced})"
            )
        if self.ideal_cycle_s is not None:
            _seconds(self.ideal_cycle_s, f"{where}: ideal_cycle_s")
            if self.ideal_cycle_s == 0:
                raise InvalidInputError(f"{where}: ideal_cycle_s must be > 0")


@dataclass(frozen=True, slots=True)
class PeriodInput:
    """What one equipment did over one period.

    ``time_s`` gives the seconds spent in each category (missing categories are 0).
    ``failures`` is the number of failure events (ISO FE). ``calendar_s``, when given, must
    equal the sum of ``time_s`` so a gap or an overlap in the time record is caught.
    """

    equipment: str
    time_s: Mapping[TimeCategory, float]
    products: tuple[ProductOutput, ...] = ()
    failures: int = 0
    calendar_s: float | None = None

    def __post_init__(self) -> None:
        where = f"equipment {self.equipment!r}"
        for category, seconds in self.time_s.items():
            _seconds(seconds, f"{where}: time in {category}")
        _count(self.failures, f"{where}: failures")
        names = [p.product for p in self.products]
        if len(set(names)) != len(names):
            raise InvalidInputError(f"{where}: a product is listed twice in {names}")
        if self.calendar_s is not None:
            _seconds(self.calendar_s, f"{where}: calendar_s")
            total = sum(self.time_s.values())
            if not math.isclose(total, self.calendar_s, rel_tol=_CALENDAR_TOLERANCE):
                raise InvalidInputError(
                    f"{where}: category times sum to {total} s, not the period's "
                    f"{self.calendar_s} s (a gap or an overlap in the time record)"
                )

    def seconds(self, *categories: TimeCategory) -> float:
        """Total seconds in ``categories``."""
        return sum(self.time_s.get(c, 0.0) for c in categories)


@dataclass(frozen=True, slots=True)
class Kpi:
    """A KPI value, or None with ``reason`` saying why it is undefined."""

    value: float | None
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class Times:
    """The ISO 22400-2 times of a period under a taxonomy, seconds."""

    pbt: float  # planned busy time
    apt: float  # actual production time
    aust: float  # actual unit setup time
    adet: float  # actual unit delay time (failures)

    @property
    def aupt(self) -> float:
        """Actual unit processing time: production plus setup."""
        return self.apt + self.aust


def times(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Times:
    """Split the period's time into the ISO times ``taxonomy`` defines."""
    planned = [c for c in TimeCategory if c not in taxonomy.not_planned]
    return Times(
        pbt=period.seconds(*planned),
        apt=period.seconds(*taxonomy.production),
        aust=period.seconds(TimeCategory.SETUP),
        adet=period.seconds(TimeCategory.UNPLANNED_DOWN),
    )


def _ratio(numerator: float, denominator: float, reason: str) -> Kpi:
    if denominator == 0:
        return Kpi(None, reason)
    return Kpi(numerator / denominator)


def _quantity(period: PeriodInput, name: str) -> int:
    return sum(getattr(p, name) for p in period.products)


def availability(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Kpi:
    """A = APT / PBT."""
    t = times(period, taxonomy)
    return _ratio(t.apt, t.pbt, "no planned busy time (PBT = 0)")


def _ideal_time(period: PeriodInput) -> float:
    """Σ produced × ideal cycle time; a product that produced needs its cycle time."""
    total = 0.0
    for p in period.products:
        if p.produced == 0:
            continue
        if p.ideal_cycle_s is None:
            raise MissingIdealCycleTimeError(
                f"equipment {period.equipment!r}: product {p.product!r} produced "
                f"{p.produced} parts but has no ideal cycle time"
            )
        total += p.produced * p.ideal_cycle_s
    return total


def effectiveness(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Kpi:
    """E = Σ(PQ × PRI) / APT (cycle-time method) or PRODUCING / APT (time method)."""
    apt = times(period, taxonomy).apt
    if taxonomy.performance is PerformanceMethod.TIME:
        return _ratio(period.seconds(TimeCategory.PRODUCING), apt, "no production time")
    ideal = _ideal_time(period)
    if apt == 0:
        if ideal > 0:
            raise ImplausibleKpiError(
                f"equipment {period.equipment!r}: parts produced with no production time"
            )
        return Kpi(None, "no production time (APT = 0)")
    value = ideal / apt
    # A cycle started before the period may end in it, so a short period can hold one
    # part per product more than its production time allows; more is a wrong input.
    carried = sum(p.ideal_cycle_s or 0.0 for p in period.products if p.produced)
    if ideal > apt + carried + _E_TOLERANCE * apt:
        raise ImplausibleKpiError(
            f"equipment {period.equipment!r}: effectiveness {value:.4f} > 1; an ideal "
            "cycle time is too long or a count is too high"
        )
    return Kpi(value)


def quality_ratio(period: PeriodInput) -> Kpi:
    """Q = GQ / PQ."""
    produced = _quantity(period, "produced")
    return _ratio(_quantity(period, "good"), produced, "nothing produced (PQ = 0)")


def oee_index(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Kpi:
    """OEE = A × E × Q; undefined when any factor is."""
    factors = (
        availability(period, taxonomy),
        effectiveness(period, taxonomy),
        quality_ratio(period),
    )
    reasons = [f.reason for f in factors if f.value is None]
    if reasons:
        return Kpi(None, "; ".join(r for r in reasons if r))
    return Kpi(math.prod(f.value for f in factors if f.value is not None))


def technical_efficiency(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Kpi:
    """TE = APT / (APT + ADET)."""
    t = times(period, taxonomy)
    return _ratio(t.apt, t.apt + t.adet, "no production and no failure time")


def setup_ratio(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Kpi:
    """SeR = AUST / AUPT, AUPT = APT + AUST."""
    t = times(period, taxonomy)
    return _ratio(t.aust, t.aupt, "no production and no setup time (AUPT = 0)")


def scrap_ratio(period: PeriodInput) -> Kpi:
    """SR = SQ / PQ."""
    produced = _quantity(period, "produced")
    return _ratio(_quantity(period, "scrap"), produced, "nothing produced (PQ = 0)")


def rework_ratio(period: PeriodInput) -> Kpi:
    """RR = RQ / PQ."""
    produced = _quantity(period, "produced")
    return _ratio(_quantity(period, "rework"), produced, "nothing produced (PQ = 0)")


def mtbf(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> Kpi:
    """MTBF = APT / FE: production time per failure event, seconds."""
    apt = times(period, taxonomy).apt
    return _ratio(apt, period.failures, "no failure events (FE = 0)")


def mttr(period: PeriodInput) -> Kpi:
    """MTTR = ADET / FE: failure (repair) time per failure event, seconds."""
    adet = period.seconds(TimeCategory.UNPLANNED_DOWN)
    return _ratio(adet, period.failures, "no failure events (FE = 0)")


@dataclass(frozen=True, slots=True)
class KpiReport:
    """Every KPI of one period under one taxonomy."""

    taxonomy: str
    times: Times
    values: dict[str, Kpi] = field(default_factory=dict)


def report(period: PeriodInput, taxonomy: Taxonomy = DEFAULT) -> KpiReport:
    """All KPIs at once, keyed by their names in docs/oee.md."""
    values = {
        "availability": availability(period, taxonomy),
        "effectiveness": effectiveness(period, taxonomy),
        "quality_ratio": quality_ratio(period),
        "oee_index": oee_index(period, taxonomy),
        "technical_efficiency": technical_efficiency(period, taxonomy),
        "setup_ratio": setup_ratio(period, taxonomy),
        "scrap_ratio": scrap_ratio(period),
        "rework_ratio": rework_ratio(period),
        "mtbf_s": mtbf(period, taxonomy),
        "mttr_s": mttr(period),
    }
    return KpiReport(taxonomy.name, times(period, taxonomy), values)
