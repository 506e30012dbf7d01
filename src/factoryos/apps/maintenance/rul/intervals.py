"""Prediction intervals from out-of-fold residuals (split-conformal, binned by prediction).

Out-of-fold predictions on training units are compared with the capped truth; the residuals
(truth − prediction) of each bin of predicted RUL give the interval's lower and upper
offsets as quantiles, so the interval is as wide as the model's own error at that level
(narrow near failure, wide where the engine still looks new). Rows are weighted so that
every unit counts the same, as every test unit does.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.apps.maintenance.rul.errors import RulDataError

F64 = npt.NDArray[np.float64]


def weighted_quantile(values: F64, weights: F64, q: float) -> float:
    """The q-quantile of values under weights (step function of the weighted CDF)."""
    if values.size == 0 or not 0.0 <= q <= 1.0:
        raise RulDataError(f"quantile {q} of {values.size} values: need values and 0 ≤ q ≤ 1")
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order])
    at = int(np.searchsorted(cdf, q * cdf[-1], side="left"))
    return float(values[order][min(at, values.size - 1)])


@dataclass(frozen=True, slots=True)
class Intervals:
    """Bin edges on predicted RUL (inner edges, ascending) and per-bin residual offsets."""

    coverage: float
    edges: F64
    low: F64
    high: F64

    def apply(self, rul: F64, cap: float) -> tuple[F64, F64]:
        """Lower and upper bounds around predictions, kept within [0, cap]."""
        b = np.searchsorted(self.edges, rul, side="right")
        lower: F64 = np.clip(rul + self.low[b], 0.0, cap)
        upper: F64 = np.clip(rul + self.high[b], 0.0, cap)
        return np.minimum(lower, rul), np.maximum(upper, rul)

    def to_json(self) -> dict[str, object]:
        return {
            "coverage": self.coverage,
            "edges": self.edges.tolist(),
            "low": self.low.tolist(),
            "high": self.high.tolist(),
        }


def calibrate(predicted: F64, truth: F64, weights: F64, coverage: float, bins: int) -> Intervals:
    """Offsets so that a share ``coverage`` of the (weighted) truths falls inside each bin."""
    if not 0.0 < coverage < 1.0:
        raise RulDataError(f"coverage {coverage}: must be between 0 and 1")
    if predicted.size < 2 * bins:
        raise RulDataError(f"interval calibration: {predicted.size} rows for {bins} bins")
    tail = (1.0 - coverage) / 2.0
    inner = [weighted_quantile(predicted, weights, k / bins) for k in range(1, bins)]
    edges = np.unique(np.array(inner, dtype=np.float64))
    which = np.searchsorted(edges, predicted, side="right")
    residual = truth - predicted
    low, high = [], []
    for b in range(edges.size + 1):
        sel = which == b
        if not np.any(sel):  # ties at an edge can empty a bin: use every residual there
            sel = np.ones_like(which, dtype=np.bool_)
        low.append(weighted_quantile(residual[sel], weights[sel], tail))
        high.append(weighted_quantile(residual[sel], weights[sel], 1.0 - tail))
    return Intervals(coverage, edges, np.array(low), np.array(high))


def covered(truth: F64, lower: F64, upper: F64) -> float:
    """Share of truths inside [lower, upper]."""
    return float(np.mean((truth >= lower) & (truth <= upper)))
