"""Shewhart control charts: X̄-R, X̄-S, I-MR, p, np, c and u, with 3σ limits.

Every chart is built the same way: estimate (Phase I) or take as given (Phase II) the
process parameters, derive the centre line and the 3σ limits of the plotted statistic,
and flag the points outside them. The limits are kept per point, because p, np and u
charts with varying subgroup sizes have different limits for every subgroup.

Variables charts (σ is the process standard deviation, ``n`` the subgroup size)::

    Phase I, X̄-R:  σ̂ = R̄/d2     X̄: X̿ ± A2·R̄      R: D3·R̄ … D4·R̄
    Phase I, X̄-S:  σ̂ = S̄/c4     X̄: X̿ ± A3·S̄      S: B3·S̄ … B4·S̄
    Phase I, I-MR:  σ̂ = MR̄/d2(2) I: X̄ ± 3σ̂       MR: 0 … D4(2)·MR̄ (= 3.267·MR̄)
    Phase II (given μ0, σ0): X̄: μ0 ± 3σ0/√n, R: (d2 ± 3d3)·σ0, S: (c4 ± 3√(1−c4²))·σ0

The Phase I formulas are the Phase II ones with σ0 replaced by σ̂ (``D4·R̄`` is
``(d2 + 3d3)·R̄/d2``), so one code path serves both.

Attribute charts (``n_i`` the size of subgroup ``i``)::

    p:  p̄ ± 3·√(p̄(1−p̄)/n_i)        p̄ = Σ defectives / Σ n_i (or p0 given)
    np: n_i·p̄ ± 3·√(n_i·p̄(1−p̄))
    c:  c̄ ± 3·√c̄                   c̄ = mean count (or c0 given)
    u:  ū ± 3·√(ū/n_i)             ū = Σ counts / Σ units (or u0 given)

A lower limit below zero is set to zero (no statistic here can be negative), so a chart
with such a limit has, in effect, no lower limit. A point is out of control when it is
strictly above the upper or strictly below the lower limit.
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import numpy as np
import numpy.typing as npt

from factoryos.apps.trace.spc.constants import c4, check_subgroup_size, d2, d3
from factoryos.apps.trace.spc.errors import SpcError

FloatArray = npt.NDArray[np.float64]
ChartKind = Literal["xbar", "r", "s", "i", "mr", "p", "np", "c", "u"]

SIGMAS = 3.0  # Shewhart's limits: 3 standard deviations of the plotted statistic


class Phase(StrEnum):
    """Where the chart's parameters come from."""

    ESTIMATED = "phase I"  # from the data on the chart: trial limits
    GIVEN = "phase II"  # a known standard: monitoring against it


@dataclass(frozen=True, slots=True)
class Standard:
    """Known process parameters for a Phase II variables chart."""

    mean: float
    sigma: float

    def __post_init__(self) -> None:
        if not (math.isfinite(self.mean) and math.isfinite(self.sigma)) or self.sigma <= 0:
            raise SpcError(f"a standard needs a finite mean and a sigma > 0, got {self}")


@dataclass(frozen=True, slots=True, eq=False)
class Chart:
    """One control chart: the plotted points with, per point, centre, limits and σ.

    ``point_sigma`` is the standard deviation of the plotted statistic (σ/√n on an X̄
    chart), the scale the run rules (:mod:`.rules`) need. The arrays are read-only.
    """

    kind: ChartKind
    phase: Phase
    points: FloatArray
    center: FloatArray
    lcl: FloatArray
    ucl: FloatArray
    point_sigma: FloatArray
    out_of_control: tuple[int, ...]


@dataclass(frozen=True, slots=True, eq=False)
class ChartPair:
    """A location chart and its spread chart (X̄ with R or S, I with MR).

    ``sigma`` is the process standard deviation both are built on.
    """

    location: Chart
    spread: Chart
    sigma: float


def _frozen(values: FloatArray, shape: tuple[int, ...]) -> FloatArray:
    """A read-only float copy, so a chart never shares memory with the caller's data."""
    array = np.array(np.broadcast_to(values, shape), dtype=np.float64)
    array.flags.writeable = False
    return array


def _chart(
    kind: ChartKind,
    phase: Phase,
    points: FloatArray,
    center: FloatArray,
    sigma: FloatArray,
    *,
    nonnegative: bool = True,
) -> Chart:
    """Limits at centre ± 3σ; the lower one not below zero for a statistic that can't be."""
    lcl = center - SIGMAS * sigma
    if nonnegative:
        lcl = np.maximum(lcl, 0.0)
    ucl = center + SIGMAS * sigma
    outside = np.flatnonzero((points > ucl) | (points < lcl))
    shape = points.shape
    return Chart(
        kind=kind,
        phase=phase,
        points=_frozen(points, shape),
        center=_frozen(center, shape),
        lcl=_frozen(lcl, shape),
        ucl=_frozen(ucl, shape),
        point_sigma=_frozen(sigma, shape),
        out_of_control=tuple(int(i) for i in outside),
    )


def _finite(values: npt.ArrayLike, what: str, ndim: int) -> FloatArray:
    """Values as a float array of the given shape class, refusing NaN and infinities."""
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != ndim:
        raise SpcError(f"{what}: expected {ndim}-dimensional data, got shape {array.shape}")
    if array.size == 0:
        raise SpcError(f"{what}: no data")
    bad = np.flatnonzero(~np.isfinite(array.ravel()))
    if bad.size:
        raise SpcError(f"{what}: value #{int(bad[0])} is not a finite number")
    return array


def _subgroups(subgroups: npt.ArrayLike, standard: Standard | None) -> FloatArray:
    """Rectangular subgroups of a size the tables cover; two or more to estimate from."""
    try:
        raw = np.asarray(subgroups, dtype=np.float64)
    except ValueError as exc:  # numpy refuses ragged rows
        raise SpcError("subgroups must all have the same size") from exc
    array = _finite(raw, "subgroups", ndim=2)
    check_subgroup_size(array.shape[1])
    if standard is None and array.shape[0] < 2:
        raise SpcError("estimating limits (phase I) needs at least 2 subgroups")
    return array


def _require_spread(sigma: float, what: str) -> float:
    """Zero spread gives limits on top of the centre line: refuse rather than flag all."""
    if sigma <= 0:
        raise SpcError(f"{what} is zero: the data show no variation to set limits from")
    return sigma


def _xbar_pair(
    subgroups: FloatArray,
    spread_kind: Literal["r", "s"],
    spread: FloatArray,
    standard: Standard | None,
    spread_mean: float,
    spread_sd: float,
) -> ChartPair:
    """X̄ chart plus the R or S chart; ``spread_mean``/``spread_sd`` are E and sd per σ."""
    n = subgroups.shape[1]
    if standard is None:
        phase = Phase.ESTIMATED
        mean = float(subgroups.mean())
        sigma = _require_spread(float(spread.mean()) / spread_mean, f"average {spread_kind}")
    else:
        phase, mean, sigma = Phase.GIVEN, standard.mean, standard.sigma
    xbar = _chart(
        "xbar",
        phase,
        subgroups.mean(axis=1),
        np.array(mean),
        np.array(sigma / math.sqrt(n)),
        nonnegative=False,
    )
    dispersion = _chart(
        spread_kind, phase, spread, np.array(spread_mean * sigma), np.array(spread_sd * sigma)
    )
    return ChartPair(location=xbar, spread=dispersion, sigma=sigma)


def xbar_r_chart(subgroups: npt.ArrayLike, *, standard: Standard | None = None) -> ChartPair:
    """X̄ and R charts of equal-size subgroups (rows), size 2–25."""
    data = _subgroups(subgroups, standard)
    n = data.shape[1]
    ranges = data.max(axis=1) - data.min(axis=1)
    return _xbar_pair(data, "r", ranges, standard, d2(n), d3(n))


def xbar_s_chart(subgroups: npt.ArrayLike, *, standard: Standard | None = None) -> ChartPair:
    """X̄ and S charts of equal-size subgroups (rows), size 2–25."""
    data = _subgroups(subgroups, standard)
    n = data.shape[1]
    sds = data.std(axis=1, ddof=1)
    s_mean = c4(n)
    return _xbar_pair(data, "s", sds, standard, s_mean, math.sqrt(1 - s_mean**2))


def imr_chart(values: npt.ArrayLike, *, standard: Standard | None = None) -> ChartPair:
    """Individuals and moving-range (span 2) charts.

    Moving range ``j`` is ``|x[j+1] − x[j]|``: the spread chart has one point fewer, and
    its flagged index ``j`` points at the pair of observations ``j`` and ``j + 1``.
    """
    data = _finite(values, "individual values", ndim=1)
    if data.size < 2:
        raise SpcError("an I-MR chart needs at least 2 observations for one moving range")
    moving = np.abs(np.diff(data))
    if standard is None:
        phase = Phase.ESTIMATED
        mean = float(data.mean())
        sigma = _require_spread(float(moving.mean()) / d2(2), "average moving range")
    else:
        phase, mean, sigma = Phase.GIVEN, standard.mean, standard.sigma
    individuals = _chart("i", phase, data, np.array(mean), np.array(sigma), nonnegative=False)
    mr = _chart("mr", phase, moving, np.array(d2(2) * sigma), np.array(d3(2) * sigma))
    return ChartPair(location=individuals, spread=mr, sigma=sigma)


def _sizes(sizes: npt.ArrayLike, count: int, what: str) -> FloatArray:
    """Subgroup sizes, one per subgroup (a single size applies to all), all positive."""
    array = np.asarray(sizes, dtype=np.float64)
    if array.ndim == 0:
        array = np.full(count, float(array))
    array = _finite(array, what, ndim=1)
    if array.size != count:
        raise SpcError(f"{what}: {array.size} sizes for {count} subgroups")
    if np.any(array <= 0):
        raise SpcError(f"{what}: subgroup #{int(np.flatnonzero(array <= 0)[0])} has size ≤ 0")
    return array


def _counts(counts: npt.ArrayLike, what: str) -> FloatArray:
    """Non-negative whole-number counts."""
    array = _finite(counts, what, ndim=1)
    bad = np.flatnonzero((array < 0) | (array != np.floor(array)))
    if bad.size:
        raise SpcError(f"{what}: #{int(bad[0])} = {array[bad[0]]!r} is not a count")
    return array


def _proportion(
    defectives: npt.ArrayLike, sizes: npt.ArrayLike, p: float | None
) -> tuple[FloatArray, FloatArray, float, Phase]:
    """Checked counts and sizes, and p̄ (estimated) or p0 (given)."""
    counts = _counts(defectives, "defectives")
    n = _sizes(sizes, counts.size, "subgroup sizes")
    if np.any(counts > n):
        k = int(np.flatnonzero(counts > n)[0])
        raise SpcError(f"subgroup #{k}: {counts[k]:g} defectives in {n[k]:g} units")
    if p is not None:
        if not 0 < p < 1:
            raise SpcError(f"a given proportion must be in (0, 1), got {p}")
        return counts, n, p, Phase.GIVEN
    if counts.size < 2:
        raise SpcError("estimating limits (phase I) needs at least 2 subgroups")
    pbar = float(counts.sum() / n.sum())
    if pbar in (0.0, 1.0):
        raise SpcError(f"every unit is {'good' if pbar == 0 else 'defective'}: no p̄ to chart")
    return counts, n, pbar, Phase.ESTIMATED


def p_chart(defectives: npt.ArrayLike, sizes: npt.ArrayLike, *, p: float | None = None) -> Chart:
    """Fraction defective per subgroup, with limits per subgroup size."""
    counts, n, pbar, phase = _proportion(defectives, sizes, p)
    sigma = np.sqrt(pbar * (1 - pbar) / n)
    return _chart("p", phase, counts / n, np.array(pbar), sigma)


def np_chart(defectives: npt.ArrayLike, sizes: npt.ArrayLike, *, p: float | None = None) -> Chart:
    """Number defective per subgroup; with varying sizes the centre varies as n_i·p̄."""
    counts, n, pbar, phase = _proportion(defectives, sizes, p)
    return _chart("np", phase, counts, n * pbar, np.sqrt(n * pbar * (1 - pbar)))


def _rate(count: float, given: float | None, what: str) -> tuple[float, Phase]:
    """A Poisson mean: given (Phase II) or the estimate, refusing zero."""
    if given is not None:
        if not (math.isfinite(given) and given > 0):
            raise SpcError(f"a given {what} must be > 0, got {given}")
        return given, Phase.GIVEN
    if count <= 0:
        raise SpcError(f"no nonconformities at all: the {what} is zero, nothing to chart")
    return count, Phase.ESTIMATED


def c_chart(counts: npt.ArrayLike, *, c: float | None = None) -> Chart:
    """Nonconformities per inspection unit of constant size."""
    data = _counts(counts, "nonconformity counts")
    if c is None and data.size < 2:
        raise SpcError("estimating limits (phase I) needs at least 2 subgroups")
    cbar, phase = _rate(float(data.mean()), c, "mean count c")
    return _chart("c", phase, data, np.array(cbar), np.array(math.sqrt(cbar)))


def u_chart(counts: npt.ArrayLike, units: npt.ArrayLike, *, u: float | None = None) -> Chart:
    """Nonconformities per unit, with limits per subgroup size (in inspection units)."""
    data = _counts(counts, "nonconformity counts")
    n = _sizes(units, data.size, "inspection units")
    if u is None and data.size < 2:
        raise SpcError("estimating limits (phase I) needs at least 2 subgroups")
    ubar, phase = _rate(float(data.sum() / n.sum()), u, "rate u")
    return _chart("u", phase, data / n, np.array(ubar), np.sqrt(ubar / n))
