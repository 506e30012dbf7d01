"""Prediction intervals: weighted quantiles by hand, calibration reaches its coverage."""

import numpy as np
import pytest

from factoryos.apps.maintenance.rul import Intervals, RulDataError, calibrate, covered
from factoryos.apps.maintenance.rul.intervals import weighted_quantile


def test_weighted_quantile_by_hand() -> None:
    v = np.array([3.0, 1.0, 2.0, 4.0])
    assert weighted_quantile(v, np.ones(4), 0.5) == 2.0
    assert weighted_quantile(v, np.ones(4), 0.51) == 3.0
    # a heavy 4 pulls the median up: weights 1, 1, 1 and 5 → CDF 1, 2, 3, 8 of 8
    assert weighted_quantile(v, np.array([1.0, 1.0, 1.0, 5.0]), 0.5) == 4.0
    with pytest.raises(RulDataError, match=r"quantile 1\.5"):
        weighted_quantile(v, np.ones(4), 1.5)


def test_calibration_covers_the_nominal_share_per_level() -> None:
    rng = np.random.default_rng(0)
    predicted = rng.uniform(0, 125, 20_000)
    truth = predicted + rng.normal(0, 1 + predicted / 10)  # wider errors far from failure
    found = calibrate(predicted, truth, np.ones(predicted.size), 0.8, 4)
    assert found.edges.size == 3
    assert found.high[-1] - found.low[-1] > 3 * (found.high[0] - found.low[0])
    lower, upper = found.apply(predicted, 1e9)
    assert covered(truth, lower, upper) == pytest.approx(0.8, abs=0.01)
    fresh = rng.uniform(0, 125, 20_000)
    lo, hi = found.apply(fresh, 1e9)
    assert covered(fresh + rng.normal(0, 1 + fresh / 10), lo, hi) == pytest.approx(0.8, abs=0.02)


def test_bounds_stay_within_zero_and_the_cap_and_around_the_prediction() -> None:
    found = Intervals(0.8, np.array([50.0]), np.array([-20.0, 5.0]), np.array([-3.0, 30.0]))
    lower, upper = found.apply(np.array([10.0, 120.0]), 125.0)
    assert lower.tolist() == [0.0, 120.0]  # 10 - 20 clipped to 0; a positive low offset → rul
    assert upper.tolist() == [10.0, 125.0]  # 10 - 3 below the prediction → rul; capped
    with pytest.raises(RulDataError, match=r"coverage 1\.0"):
        calibrate(np.ones(10), np.ones(10), np.ones(10), 1.0, 2)
