"""Control chart constants for subgroup sizes 2–25.

Everything follows from three numbers per subgroup size ``n`` (σ is the process
standard deviation, observations normal):

* ``d2 = E[R]/σ`` and ``d3 = sd[R]/σ`` for the range ``R`` of ``n`` observations;
* ``c4 = E[s]/σ`` for the sample standard deviation ``s`` (``n − 1`` divisor).

``c4`` has a closed form and is computed exactly::

    c4(n) = sqrt(2 / (n − 1)) · Γ(n/2) / Γ((n − 1)/2)

``d2`` and ``d3`` are integrals of the normal distribution of the range with no closed
form beyond ``n = 3``. For ``n = 2`` and ``3`` the exact values are used
(``d2 = 2/√π`` and ``3/√π``; ``d3² = 2 − 4/π`` and ``2 + 3√3/π − 9/π``); for ``n ≥ 4`` they
come from the standard table, to five decimals (Harter's tables of the range, reproduced
to three decimals in ASTM E2587 and Montgomery, *Introduction to Statistical Quality
Control*, Appendix VI). A test checks the table against numerical integration.

The chart factors are then the textbook definitions, so they agree with the published
tables to their three decimals::

    A2 = 3 / (d2 √n)            X̄ limits from R̄:   X̿ ± A2·R̄
    D3 = max(0, 1 − 3 d3/d2)    R limits:          D3·R̄, D4·R̄
    D4 = 1 + 3 d3/d2
    A3 = 3 / (c4 √n)            X̄ limits from S̄:   X̿ ± A3·S̄
    B3 = max(0, 1 − 3 √(1 − c4²)/c4)   S limits:   B3·S̄, B4·S̄
    B4 = 1 + 3 √(1 − c4²)/c4
"""

import math
from dataclasses import dataclass
from typing import Final

from factoryos.apps.trace.spc.errors import SpcError

MIN_SUBGROUP_SIZE: Final = 2
MAX_SUBGROUP_SIZE: Final = 25

# E[range]/σ and sd[range]/σ of n normal observations, n = 4 … 25, five decimals.
_D2_TABLE: Final[dict[int, float]] = {
    4: 2.05875, 5: 2.32593, 6: 2.53441, 7: 2.70436, 8: 2.84720, 9: 2.97003,
    10: 3.07751, 11: 3.17287, 12: 3.25846, 13: 3.33598, 14: 3.40676, 15: 3.47183,
    16: 3.53198, 17: 3.58788, 18: 3.64006, 19: 3.68896, 20: 3.73495, 21: 3.77834,
    22: 3.81938, 23: 3.85832, 24: 3.89535, 25: 3.93063,
}  # fmt: skip
_D3_TABLE: Final[dict[int, float]] = {
    4: 0.87981, 5: 0.86408, 6: 0.84804, 7: 0.83321, 8: 0.81983, 9: 0.80783,
    10: 0.79705, 11: 0.78731, 12: 0.77848, 13: 0.77042, 14: 0.76302, 15: 0.75621,
    16: 0.74991, 17: 0.74405, 18: 0.73859, 19: 0.73348, 20: 0.72869, 21: 0.72417,
    22: 0.71991, 23: 0.71589, 24: 0.71207, 25: 0.70844,
}  # fmt: skip


def check_subgroup_size(n: int) -> None:
    """Refuse a subgroup size the tables do not cover."""
    if not MIN_SUBGROUP_SIZE <= n <= MAX_SUBGROUP_SIZE:
        raise SpcError(
            f"subgroup size {n} is outside {MIN_SUBGROUP_SIZE}–{MAX_SUBGROUP_SIZE}, "
            "the range the control chart constants cover"
        )


def c4(n: int) -> float:
    """E[s]/σ for ``n`` normal observations (exact, via log-gamma to stay finite)."""
    if n < 2:
        raise SpcError(f"c4 needs at least 2 observations, got {n}")
    log_ratio = math.lgamma(n / 2) - math.lgamma((n - 1) / 2)
    return math.sqrt(2 / (n - 1)) * math.exp(log_ratio)


def d2(n: int) -> float:
    """E[R]/σ for the range of ``n`` normal observations."""
    check_subgroup_size(n)
    if n in (2, 3):
        # The range of 2 is |X1 − X2| ~ σ√2·|Z|; the range of 3 has E = 3/√π (Tippett).
        return n / math.sqrt(math.pi)
    return _D2_TABLE[n]


def d3(n: int) -> float:
    """sd[R]/σ for the range of ``n`` normal observations."""
    check_subgroup_size(n)
    if n == 2:
        return math.sqrt(2 - 4 / math.pi)
    if n == 3:
        return math.sqrt(2 + 3 * math.sqrt(3) / math.pi - 9 / math.pi)
    return _D3_TABLE[n]


@dataclass(frozen=True, slots=True)
class ChartConstants:
    """All the factors of one subgroup size, named as in the published tables."""

    n: int
    d2: float
    d3: float
    c4: float
    # Upper case as in the published tables (lower case would clash with d2, d3).
    A2: float
    A3: float
    B3: float
    B4: float
    D3: float
    D4: float


def constants(n: int) -> ChartConstants:
    """The control chart constants for subgroup size ``n`` (2–25)."""
    check_subgroup_size(n)
    range_mean, range_sd, s_mean = d2(n), d3(n), c4(n)
    s_spread = 3 * math.sqrt(1 - s_mean**2) / s_mean
    return ChartConstants(
        n=n,
        d2=range_mean,
        d3=range_sd,
        c4=s_mean,
        A2=3 / (range_mean * math.sqrt(n)),
        A3=3 / (s_mean * math.sqrt(n)),
        # A negative lower factor means the 3σ limit is below zero: no lower limit.
        B3=max(0.0, 1 - s_spread),
        B4=1 + s_spread,
        D3=max(0.0, 1 - 3 * range_sd / range_mean),
        D4=1 + 3 * range_sd / range_mean,
    )
