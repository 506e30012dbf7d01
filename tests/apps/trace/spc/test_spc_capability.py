"""Capability indices and their confidence intervals against published examples."""

import math

import numpy as np
import pytest
from scipy import stats

from apps.trace.spc.reference_data import CANS, PISTON_RINGS_PHASE_I, VISCOSITY
from factoryos.apps.trace.spc import (
    SpcError,
    SpecLimits,
    WithinSigma,
    c4,
    capability,
    d2,
    individuals_capability,
    subgroup_capability,
)


def _round3(value: float | None) -> float:
    assert value is not None
    return round(value, 3)


def test_piston_rings_within_capability() -> None:
    # qcc vignette "A quick tour of qcc" (qcc 3.0), process capability analysis of the
    # piston rings, spec 73.95 … 74.05, σ = R̄/d2, n = 125:
    #   Cp 1.703 [1.491, 1.915]  Cp_l 1.743  Cp_u 1.663  Cp_k 1.663 [1.448, 1.878]
    # qcc's Cpk interval is Bissell's, as ours. Its Cp interval is a normal
    # approximation; our exact chi-square one agrees to these 3 decimals at n = 125.
    cap = subgroup_capability(PISTON_RINGS_PHASE_I, SpecLimits(lsl=73.95, usl=74.05))
    assert cap.n == 125
    assert cap.within_method is WithinSigma.RANGE
    assert _round3(cap.cp) == 1.703
    assert _round3(cap.within.lower) == 1.743
    assert _round3(cap.within.upper) == 1.663
    assert _round3(cap.cpk) == 1.663
    assert cap.within.ratio_interval is not None
    assert (_round3(cap.within.ratio_interval.low), _round3(cap.within.ratio_interval.high)) == (
        1.491,
        1.915,
    )
    assert (_round3(cap.within.k_interval.low), _round3(cap.within.k_interval.high)) == (
        1.448,
        1.878,
    )


def test_piston_rings_off_centre_specification() -> None:
    # qcc, same data, spec 73.99 … 74.1: Cp 1.874, Cp_l 0.381, Cp_u 3.367,
    # Cp_k 0.381 [0.305, 0.456].
    #
    # Cp_u is one unit off in the third decimal: qcc's σ is R̄/2.326 (its 3-decimal d2,
    # σ = 0.009785039), ours R̄/2.32593, so (74.1 − 74.001176)/3σ is 3.36650 there and
    # 3.36640 here — either side of the rounding boundary.
    cap = subgroup_capability(PISTON_RINGS_PHASE_I, SpecLimits(lsl=73.99, usl=74.1))
    assert _round3(cap.cp) == 1.874
    assert _round3(cap.within.lower) == 0.381
    assert cap.within.upper == pytest.approx(3.367, abs=1e-3)
    assert round((74.1 - 74.001176) / (3 * 0.02276 / 2.326), 3) == 3.367
    assert _round3(cap.cpk) == 0.381
    assert (_round3(cap.within.k_interval.low), _round3(cap.within.k_interval.high)) == (
        0.305,
        0.456,
    )


def test_drink_cans_overall_capability_with_exact_intervals() -> None:
    # SAS/QC User's Guide, The CAPABILITY Procedure, "Computing Capability Indices",
    # Figure 5.2 (https://support.sas.com/documentation/cdl/en/qcug/68161/HTML/default/
    # qcug_capability_sect007.htm): spec 11.95 … 12.05, indices from the sample s
    # (our Pp family), 95% limits:
    #   Cp 0.354967 [0.305565, 0.404288] (chi-square)   CPL 0.420991   CPU 0.288943
    #   Cpk 0.288943 [0.212210, 0.365677] (Bissell)
    cap = individuals_capability(CANS, SpecLimits(lsl=11.95, usl=12.05))
    overall = cap.overall
    assert cap.n == 100
    assert round(overall.sigma, 9) == round(float(np.std(CANS, ddof=1)), 9)
    assert cap.pp is not None
    assert round(cap.pp, 6) == 0.354967
    assert overall.ratio_interval is not None
    assert round(overall.ratio_interval.low, 6) == 0.305565
    assert round(overall.ratio_interval.high, 6) == 0.404288
    assert overall.lower is not None
    assert overall.upper is not None
    assert (round(overall.lower, 6), round(overall.upper, 6)) == (0.420991, 0.288943)
    assert round(cap.ppk, 6) == 0.288943
    assert round(overall.k_interval.low, 6) == 0.212210
    assert round(overall.k_interval.high, 6) == 0.365677


def test_one_sided_specification() -> None:
    # The cans with the upper limit only: no Cp/Pp; Cpk/Ppk is the upper index, which
    # SAS reports as CPU = 0.288943 above. Lower limit only: CPL = 0.420991.
    upper_only = individuals_capability(CANS, SpecLimits(usl=12.05))
    assert upper_only.pp is None
    assert upper_only.cp is None
    assert upper_only.overall.ratio_interval is None
    assert upper_only.overall.lower is None
    assert round(upper_only.ppk, 6) == 0.288943
    lower_only = individuals_capability(CANS, SpecLimits(lsl=11.95))
    assert round(lower_only.ppk, 6) == 0.420991
    # Bissell's interval applies to the one-sided index as it does to Cpk.
    n, k = 100, lower_only.ppk
    half = 1.959964 * math.sqrt(1 / (9 * n) + k**2 / (2 * (n - 1)))
    assert lower_only.overall.k_interval.low == pytest.approx(k - half, abs=1e-6)


def test_within_sigma_estimators() -> None:
    # σ_within = R̄/d2, S̄/c4, MR̄/d2(2); hand-checked against the chart examples:
    # S̄/c4 of the piston rings is qcc's 0.009829977, so Cp = 0.1/(6·0.009829977) = 1.695.
    by_s = subgroup_capability(
        PISTON_RINGS_PHASE_I, SpecLimits(73.95, 74.05), method=WithinSigma.STD_DEV
    )
    assert by_s.within.sigma == pytest.approx(0.009829977, abs=5e-10)
    assert _round3(by_s.cp) == 1.695
    data = np.asarray(PISTON_RINGS_PHASE_I)
    rbar = float((data.max(axis=1) - data.min(axis=1)).mean())
    by_r = subgroup_capability(PISTON_RINGS_PHASE_I, SpecLimits(73.95, 74.05))
    assert by_r.within.sigma == pytest.approx(rbar / d2(5))
    assert by_s.within.sigma == pytest.approx(float(data.std(axis=1, ddof=1).mean()) / c4(5))
    # Individuals: MR̄ = 10.88/19 for the viscosity batches.
    by_mr = individuals_capability(VISCOSITY, SpecLimits(32.0, 36.0))
    assert by_mr.within.sigma == pytest.approx(10.88 / 19 / d2(2))
    assert by_mr.within_method is WithinSigma.MOVING_RANGE


def test_cp_interval_is_the_chi_square_one() -> None:
    # Montgomery's textbook example: n = 20, s = 1.75, spec 38 … 62 → Ĉp = 24/10.5 =
    # 2.2857, 95% interval Ĉp·√(χ²(0.025; 19)/19) … Ĉp·√(χ²(0.975; 19)/19) with
    # χ² = 8.91 and 32.85, printed as 1.57 … 3.01 after rounding Ĉp to 2.29 first; with
    # Ĉp unrounded the limits are 1.565 and 3.006. Twenty points with that s:
    rng = np.random.default_rng(7)
    sample = rng.normal(50.0, 1.0, 20)
    sample = 50 + (sample - sample.mean()) / sample.std(ddof=1) * 1.75
    cap = capability(sample, SpecLimits(38.0, 62.0), sigma_within=1.75)
    assert cap.cp == pytest.approx(24 / 10.5)
    interval = cap.within.ratio_interval
    assert interval is not None
    assert (round(interval.low, 3), round(interval.high, 3)) == (1.565, 3.006)
    assert float(stats.chi2.ppf(0.025, 19)) == pytest.approx(8.91, abs=0.005)
    assert float(stats.chi2.ppf(0.975, 19)) == pytest.approx(32.85, abs=0.005)
    assert (round(2.29 * math.sqrt(8.91 / 19), 2), round(2.29 * math.sqrt(32.85 / 19), 2)) == (
        1.57,
        3.01,
    )


def test_confidence_level_widens_the_intervals() -> None:
    narrow = individuals_capability(CANS, SpecLimits(11.95, 12.05), confidence=0.90)
    wide = individuals_capability(CANS, SpecLimits(11.95, 12.05), confidence=0.99)
    assert wide.overall.k_interval.low < narrow.overall.k_interval.low
    assert wide.overall.k_interval.high > narrow.overall.k_interval.high


def test_mean_outside_the_specification_gives_a_negative_cpk() -> None:
    cap = capability([10.0, 11.0, 12.0], SpecLimits(lsl=0.0, usl=5.0), sigma_within=1.0)
    assert cap.cpk == pytest.approx((5.0 - 11.0) / 3)
    # The additive Bissell form keeps low < estimate < high for a negative index.
    assert cap.within.k_interval.low < cap.cpk < cap.within.k_interval.high


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda: individuals_capability([5.0], SpecLimits(0, 10)), "at least 2 observations"),
        (lambda: individuals_capability([], SpecLimits(0, 10)), "at least 2 observations"),
        (lambda: individuals_capability([5.0, 5.0, 5.0], SpecLimits(0, 10)), "no spread"),
        (
            lambda: subgroup_capability([[5.0, 5.0], [5.0, 5.0]], SpecLimits(0, 10)),
            "no spread",
        ),
        (
            lambda: capability([1.0, 2.0], SpecLimits(0, 10), sigma_within=0.0),
            "no spread",
        ),
        (lambda: individuals_capability([1.0, math.nan], SpecLimits(0, 10)), "not a finite"),
        (lambda: individuals_capability([1.0, 2.0], SpecLimits(0, 10), confidence=1.0), "0 and 1"),
        (lambda: SpecLimits(), "a lower limit, an upper limit or both"),
        (lambda: SpecLimits(lsl=5.0, usl=5.0), "not below upper"),
        (lambda: SpecLimits(lsl=math.inf), "finite"),
        (
            lambda: subgroup_capability([[1.0, 2.0], [3.0]], SpecLimits(0, 10)),
            "same size",
        ),
        (
            lambda: subgroup_capability(
                [[1.0, 2.0], [3.0, 5.0]], SpecLimits(0, 10), method=WithinSigma.MOVING_RANGE
            ),
            "individuals_capability",
        ),
    ],
)
def test_impossible_input_is_refused_with_a_clear_error(call: object, message: str) -> None:
    assert callable(call)
    with pytest.raises(SpcError, match=message):
        call()
