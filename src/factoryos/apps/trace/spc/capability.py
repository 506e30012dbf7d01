"""Process capability: Cp, Cpk (within-subgroup σ) and Pp, Ppk (overall σ), with intervals.

Definitions (x̄ the mean of all observations)::

    Cp  = (USL − LSL) / 6σ_within          Pp  = (USL − LSL) / 6σ_overall
    Cpu = (USL − x̄) / 3σ_within            Ppu, Ppl alike with σ_overall
    Cpl = (x̄ − LSL) / 3σ_within
    Cpk = min(Cpu, Cpl)                    Ppk = min(Ppu, Ppl)

σ_within is R̄/d2 or S̄/c4 (subgroups) or MR̄/d2(2) (individuals): the short-term spread
the control chart sees. σ_overall is the sample standard deviation ``s`` of all the
observations. With one specification limit only, Cp and Pp do not exist and Cpk/Ppk are
the one-sided index (Cpu or Cpl).

Confidence intervals (two-sided, ``n`` observations, ``1 − α`` confidence):

* Cp, Pp — exact for σ̂ = s, from ``(n − 1)s²/σ² ~ χ²(n − 1)``::

      Ĉp·√(χ²(α/2; n−1)/(n−1))  ≤  Cp  ≤  Ĉp·√(χ²(1−α/2; n−1)/(n−1))

  (Montgomery, *Introduction to Statistical Quality Control*, the process capability
  chapter; SAS/QC user's guide, PROC CAPABILITY, "Standard Capability Indices"). For the
  within-subgroup σ̂ the same
  interval with ``n − 1`` degrees of freedom is an approximation.

* Cpk, Ppk — Bissell's normal approximation: Ĉpk is roughly normal with variance
  ``1/(9n) + Ĉpk²/(2(n − 1))``, so::

      Ĉpk ± z(1−α/2)·√(1/(9n) + Ĉpk²/(2(n − 1)))

  (A. F. Bissell, "How Reliable Is Your Capability Index?", *Applied Statistics* 39(3),
  1990, pp. 331–340. Montgomery and the SAS/QC guide write it as
  Ĉpk[1 ± z·√(1/(9nĈpk²) + 1/(2(n−1)))], the same for Ĉpk > 0.) The additive form is
  used so that the interval stays right for a negative Ĉpk (mean outside the
  specification).
"""

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

import numpy as np
import numpy.typing as npt
from scipy import stats

from factoryos.apps.trace.spc.constants import c4, check_subgroup_size, d2
from factoryos.apps.trace.spc.errors import SpcError

FloatArray = npt.NDArray[np.float64]


class WithinSigma(StrEnum):
    """How the within-subgroup σ is estimated."""

    RANGE = "R̄/d2"
    STD_DEV = "S̄/c4"
    MOVING_RANGE = "MR̄/d2(2)"


@dataclass(frozen=True, slots=True)
class SpecLimits:
    """Specification limits; either may be missing (a one-sided specification)."""

    lsl: float | None = None
    usl: float | None = None

    def __post_init__(self) -> None:
        limits = [x for x in (self.lsl, self.usl) if x is not None]
        if not limits:
            raise SpcError("a specification needs a lower limit, an upper limit or both")
        if not all(math.isfinite(x) for x in limits):
            raise SpcError(f"specification limits must be finite numbers, got {self}")
        if self.lsl is not None and self.usl is not None and self.lsl >= self.usl:
            raise SpcError(f"lower specification {self.lsl} is not below upper {self.usl}")


@dataclass(frozen=True, slots=True)
class Interval:
    """A two-sided confidence interval."""

    low: float
    high: float


@dataclass(frozen=True, slots=True)
class Indices:
    """One family of indices for one σ: (Cp, Cpl, Cpu, Cpk) or (Pp, Ppl, Ppu, Ppk)."""

    sigma: float
    ratio: float | None  # Cp or Pp: needs both limits
    lower: float | None  # Cpl or Ppl: needs the LSL
    upper: float | None  # Cpu or Ppu: needs the USL
    k: float  # Cpk or Ppk
    ratio_interval: Interval | None
    k_interval: Interval


@dataclass(frozen=True, slots=True)
class Capability:
    """Capability of a process against its specification."""

    n: int
    mean: float
    spec: SpecLimits
    confidence: float
    within: Indices  # Cp, Cpk …: what the process could do with its short-term spread
    overall: Indices  # Pp, Ppk …: what it actually did over the whole sample
    within_method: WithinSigma | None

    @property
    def cp(self) -> float | None:
        return self.within.ratio

    @property
    def cpk(self) -> float:
        return self.within.k

    @property
    def pp(self) -> float | None:
        return self.overall.ratio

    @property
    def ppk(self) -> float:
        return self.overall.k


def _ratio_interval(ratio: float, n: int, confidence: float) -> Interval:
    """Chi-square interval for Cp or Pp (exact when σ̂ is the sample s)."""
    alpha, df = 1 - confidence, n - 1
    low = float(stats.chi2.ppf(alpha / 2, df))
    high = float(stats.chi2.ppf(1 - alpha / 2, df))
    return Interval(ratio * math.sqrt(low / df), ratio * math.sqrt(high / df))


def _k_interval(k: float, n: int, confidence: float) -> Interval:
    """Bissell's (1990) normal approximation for Cpk or Ppk."""
    z = NormalDist().inv_cdf(1 - (1 - confidence) / 2)
    half = z * math.sqrt(1 / (9 * n) + k**2 / (2 * (n - 1)))
    return Interval(k - half, k + half)


def _indices(mean: float, sigma: float, n: int, spec: SpecLimits, confidence: float) -> Indices:
    """Cp-family indices of one σ, with their intervals."""
    upper = None if spec.usl is None else (spec.usl - mean) / (3 * sigma)
    lower = None if spec.lsl is None else (mean - spec.lsl) / (3 * sigma)
    ratio = None
    if spec.usl is not None and spec.lsl is not None:
        ratio = (spec.usl - spec.lsl) / (6 * sigma)
    k = min(x for x in (upper, lower) if x is not None)
    return Indices(
        sigma=sigma,
        ratio=ratio,
        lower=lower,
        upper=upper,
        k=k,
        ratio_interval=None if ratio is None else _ratio_interval(ratio, n, confidence),
        k_interval=_k_interval(k, n, confidence),
    )


def _observations(values: npt.ArrayLike) -> FloatArray:
    """All observations as one finite 1-D array, at least two of them."""
    data = np.asarray(values, dtype=np.float64).ravel()
    if data.size < 2:
        raise SpcError(f"capability needs at least 2 observations, got {data.size}")
    bad = np.flatnonzero(~np.isfinite(data))
    if bad.size:
        raise SpcError(f"observation #{int(bad[0])} is not a finite number")
    return data


def capability(
    values: npt.ArrayLike,
    spec: SpecLimits,
    *,
    sigma_within: float,
    confidence: float = 0.95,
    within_method: WithinSigma | None = None,
) -> Capability:
    """Indices of ``values`` (all observations) given the within-subgroup σ."""
    data = _observations(values)
    if not 0 < confidence < 1:
        raise SpcError(f"confidence must be between 0 and 1, got {confidence}")
    sigma_overall = float(data.std(ddof=1))
    if sigma_overall == 0 or not sigma_within > 0:
        raise SpcError("the observations show no spread: capability indices are undefined")
    mean, n = float(data.mean()), int(data.size)
    return Capability(
        n=n,
        mean=mean,
        spec=spec,
        confidence=confidence,
        within=_indices(mean, sigma_within, n, spec, confidence),
        overall=_indices(mean, sigma_overall, n, spec, confidence),
        within_method=within_method,
    )


def subgroup_capability(
    subgroups: npt.ArrayLike,
    spec: SpecLimits,
    *,
    method: WithinSigma = WithinSigma.RANGE,
    confidence: float = 0.95,
) -> Capability:
    """Capability of equal-size subgroups (rows), σ_within from R̄/d2 or S̄/c4."""
    try:
        data = np.asarray(subgroups, dtype=np.float64)
    except ValueError as exc:  # numpy refuses ragged rows
        raise SpcError("subgroups must all have the same size") from exc
    if data.ndim != 2:
        raise SpcError(f"subgroups: expected rows of observations, got shape {data.shape}")
    check_subgroup_size(data.shape[1])
    _observations(data)  # refuse NaN before the statistics below silently carry it
    if method is WithinSigma.RANGE:
        sigma = float((data.max(axis=1) - data.min(axis=1)).mean()) / d2(data.shape[1])
    elif method is WithinSigma.STD_DEV:
        sigma = float(data.std(axis=1, ddof=1).mean()) / c4(data.shape[1])
    else:
        raise SpcError("a moving range applies to individual values: use individuals_capability")
    return capability(data, spec, sigma_within=sigma, confidence=confidence, within_method=method)


def individuals_capability(
    values: npt.ArrayLike, spec: SpecLimits, *, confidence: float = 0.95
) -> Capability:
    """Capability of individual values, σ_within from the average moving range MR̄/d2(2)."""
    data = _observations(values)
    sigma = float(np.abs(np.diff(data)).mean()) / d2(2)
    return capability(
        data,
        spec,
        sigma_within=sigma,
        confidence=confidence,
        within_method=WithinSigma.MOVING_RANGE,
    )
