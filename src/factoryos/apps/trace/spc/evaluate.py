"""A characteristic's chart, run-rule violations and capability from its subgroups. Pure.

The location chart (X̄, I, p, np, c, u) gets the run rules the characteristic selects; the
spread chart (R, S, MR) only the test for a point beyond its limits (rule 1, when
selected): its points are not independent (moving ranges share observations) and its
distribution is skewed, so the zone tests do not apply to it (Montgomery).

Phase I limits come from a baseline window (:func:`baseline_limits`: the chart of the
baseline, its estimates then used as a known standard), are entered, or are trial limits
from the charted data themselves.
"""

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
import numpy.typing as npt

from factoryos.apps.trace.spc.capability import (
    Capability,
    SpecLimits,
    WithinSigma,
    individuals_capability,
    subgroup_capability,
)
from factoryos.apps.trace.spc.charts import (
    Chart,
    ChartKind,
    Phase,
    Standard,
    c_chart,
    imr_chart,
    np_chart,
    p_chart,
    u_chart,
    xbar_r_chart,
    xbar_s_chart,
)
from factoryos.apps.trace.spc.config import CharacteristicSpec, LimitsSpec, RulesSpec
from factoryos.apps.trace.spc.errors import SpcError
from factoryos.apps.trace.spc.rules import NELSON_RULES, WESTERN_ELECTRIC_RULES
from factoryos.apps.trace.spc.subgroups import Subgroups

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
ChartRole = Literal["location", "spread"]

MIN_BINS, MAX_BINS = 5, 50
RULE_PREFIX = {"nelson": "N", "western_electric": "WE"}
SPREAD_NAMES = {"r": "range", "s": "standard deviation", "mr": "moving range"}


@dataclass(frozen=True, slots=True)
class Limits:
    """Where a chart's centre and limits come from: a standard, a rate, or the data."""

    source: str  # "trial", "baseline" or "entered"
    standard: Standard | None = None  # variables charts
    rate: float | None = None  # p (p, np charts), c or u

    @property
    def phase(self) -> Phase:
        return Phase.ESTIMATED if self.source == "trial" else Phase.GIVEN


TRIAL = Limits("trial")


@dataclass(frozen=True, slots=True)
class Violation:
    """A point that failed a run rule; ``index`` counts points of its own chart, ``point``
    the subgroups (an MR chart starts at the second)."""

    index: int
    point: int
    ts: int
    role: ChartRole
    chart: ChartKind
    code: str  # N5, WE2 …
    number: int
    description: str
    value: float


@dataclass(frozen=True, slots=True, eq=False)
class SpcChart:
    """A characteristic's charts over some subgroups, and where the rules fired."""

    limits: Limits
    location: Chart
    location_ts: IntArray
    spread: Chart | None
    spread_ts: IntArray | None
    sigma: float | None  # the process σ of a variables chart
    violations: tuple[Violation, ...]


def _rows(groups: Subgroups) -> FloatArray:
    if groups.values is None:
        raise SpcError("a variables chart needs measured values, and these have none")
    return groups.values


def _counts(groups: Subgroups) -> tuple[FloatArray, FloatArray]:
    if groups.counts is None or groups.sizes is None:
        raise SpcError("an attribute chart needs counts and sample sizes")
    return groups.counts, groups.sizes


def charts(
    chart: str, groups: Subgroups, limits: Limits
) -> tuple[Chart, Chart | None, float | None]:
    """The location chart, the spread chart (variables only) and the process σ."""
    std, rate = limits.standard, limits.rate
    if chart in ("xbar_r", "xbar_s", "imr"):
        rows = _rows(groups)
        build = {"xbar_r": xbar_r_chart, "xbar_s": xbar_s_chart}.get(chart)
        pair = imr_chart(rows[:, 0], standard=std) if build is None else build(rows, standard=std)
        return pair.location, pair.spread, pair.sigma
    counts, sizes = _counts(groups)
    if chart == "p":
        return p_chart(counts, sizes, p=rate), None, None
    if chart == "np":
        return np_chart(counts, sizes, p=rate), None, None
    if chart == "c":
        return c_chart(counts, c=rate), None, None
    if chart == "u":
        return u_chart(counts, sizes, u=rate), None, None
    raise SpcError(f"unknown chart type {chart!r}")


def entered_limits(spec: LimitsSpec) -> Limits:
    """Limits typed into the apps file (not a baseline)."""
    if spec.mean is not None and spec.sigma is not None:
        return Limits("entered", standard=Standard(spec.mean, spec.sigma))
    rate = next((r for r in (spec.p, spec.c, spec.u) if r is not None), None)
    if rate is None:
        raise SpcError("entered limits need mean and sigma, p, c or u")
    return Limits("entered", rate=rate)


def baseline_limits(chart: str, baseline: Subgroups) -> Limits:
    """The parameters the baseline window's own (Phase I) chart estimates."""
    if len(baseline) == 0:
        raise SpcError("the baseline window holds no data: no limits to compute")
    location, _, sigma = charts(chart, baseline, TRIAL)
    if sigma is not None:
        return Limits("baseline", standard=Standard(float(location.center[0]), sigma))
    if chart in ("p", "np"):
        counts, sizes = _counts(baseline)
        return Limits("baseline", rate=float(counts.sum() / sizes.sum()))
    return Limits("baseline", rate=float(location.center[0]))


def _location_rules(rules: RulesSpec) -> list[tuple[int, str]]:
    table = NELSON_RULES if rules.set == "nelson" else WESTERN_ELECTRIC_RULES
    chosen = set(rules.numbers())
    return [(number, name) for number, name, _ in table if number in chosen]


def _location_violations(chart: Chart, ts: IntArray, rules: RulesSpec) -> list[Violation]:
    table = NELSON_RULES if rules.set == "nelson" else WESTERN_ELECTRIC_RULES
    chosen = set(rules.numbers())
    z = (chart.points - chart.center) / chart.point_sigma
    found = []
    for number, name, test in table:
        if number not in chosen:
            continue
        for i in test(chart.points, z).tolist():
            found.append(_violation(chart, ts, "location", rules, number, name, int(i)))
    return found


def _violation(
    chart: Chart,
    ts: IntArray,
    role: ChartRole,
    rules: RulesSpec,
    number: int,
    name: str,
    i: int,
    offset: int = 0,
) -> Violation:
    code = f"{RULE_PREFIX[rules.set]}{number}"
    value = float(chart.points[i])
    return Violation(i, i + offset, int(ts[i]), role, chart.kind, code, number, name, value)


def _spread_violations(
    chart: Chart, ts: IntArray, rules: RulesSpec, offset: int
) -> list[Violation]:
    """Points beyond the spread chart's limits, when rule 1 is selected."""
    if 1 not in rules.numbers():
        return []
    name = f"one point beyond the {SPREAD_NAMES.get(chart.kind, chart.kind)} chart's limits"
    return [
        _violation(chart, ts, "spread", rules, 1, name, i, offset) for i in chart.out_of_control
    ]


def spc_chart(spec: CharacteristicSpec, groups: Subgroups, limits: Limits) -> SpcChart:
    """The characteristic's charts over ``groups`` with every selected rule applied."""
    if len(groups) == 0:
        raise SpcError("no data in the range")
    location, spread, sigma = charts(spec.chart, groups, limits)
    # A moving range j spans observations j and j + 1: it is known at the second one.
    spread_ts = None if spread is None else groups.ts[groups.ts.size - spread.points.size :]
    found = _location_violations(location, groups.ts, spec.rules)
    if spread is not None and spread_ts is not None:
        found += _spread_violations(spread, spread_ts, spec.rules, len(groups) - spread_ts.size)
    found.sort(key=lambda v: (v.ts, v.role, v.number))
    return SpcChart(limits, location, groups.ts, spread, spread_ts, sigma, tuple(found))


@dataclass(frozen=True, slots=True, eq=False)
class Histogram:
    edges: FloatArray
    counts: IntArray


@dataclass(frozen=True, slots=True, eq=False)
class CapabilityView:
    capability: Capability
    histogram: Histogram


def histogram(observations: FloatArray) -> Histogram:
    """√n bins (5 to 50) over the observations' range."""
    bins = min(MAX_BINS, max(MIN_BINS, math.ceil(math.sqrt(observations.size))))
    counts, edges = np.histogram(observations, bins=bins)
    return Histogram(edges.astype(np.float64), counts.astype(np.int64))


def spec_limits(spec: CharacteristicSpec) -> SpecLimits:
    """The specification capability is measured against; SpcError where there is none."""
    if not spec.variables or spec.spec is None:
        raise SpcError("capability needs a variables chart (xbar_r, xbar_s, imr) with spec limits")
    return SpecLimits(spec.spec.lsl, spec.spec.usl)


def capability_of(spec: CharacteristicSpec, groups: Subgroups, confidence: float) -> CapabilityView:
    """Cp, Cpk, Pp, Ppk with intervals, σ_within the way the chart estimates it."""
    limits = spec_limits(spec)
    rows = _rows(groups)
    if spec.chart == "imr":
        found = individuals_capability(rows[:, 0], limits, confidence=confidence)
    else:
        method = WithinSigma.RANGE if spec.chart == "xbar_r" else WithinSigma.STD_DEV
        found = subgroup_capability(rows, limits, method=method, confidence=confidence)
    return CapabilityView(found, histogram(rows.ravel()))


def rule_list(rules: RulesSpec) -> list[tuple[str, int, str]]:
    """(code, number, description) of every selected location rule."""
    return [(f"{RULE_PREFIX[rules.set]}{n}", n, name) for n, name in _location_rules(rules)]
