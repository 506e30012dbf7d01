"""Input checks and the causal window features every family shares.

Features of a row: each kept signal's current value and its mean over the last ``window`` rows
(the mean smooths the 1-Hz noise; study 2 found 30 rows best on synthetic faults). They are
z-scored with the training mean and standard deviation. Signals constant over the training
rows are dropped (documented fallback: they are not monitored and `describe` lists them)."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from factoryos.apps.maintenance.detectors.base import F64
from factoryos.apps.maintenance.detectors.errors import (
    ColumnCountError,
    ConstantSignalsError,
    NonFiniteTrainingError,
    TooFewRowsError,
)

MIN_FEATURE_ROWS_PER_FEATURE = 4  # a covariance of m features needs clearly more than m rows
MIN_FEATURE_ROWS = 50
CONSTANT_RTOL = 1e-9


def as_matrix(raw: F64, signals: Sequence[str], what: str) -> F64:
    """``raw`` as a float64 (n, k) matrix whose k matches ``signals``."""
    data = np.asarray(raw, dtype=np.float64)
    if data.ndim != 2 or data.shape[1] != len(signals):
        shape = "x".join(str(s) for s in data.shape)
        raise ColumnCountError(
            f"{what}: got shape {shape}, expected (rows, {len(signals)}) for signals "
            f"{', '.join(signals)}"
        )
    return data


def min_training_rows(k: int, window: int) -> int:
    """Raw rows needed to fit: window - 1 of history, then enough feature rows for 2k features."""
    return window - 1 + max(MIN_FEATURE_ROWS, MIN_FEATURE_ROWS_PER_FEATURE * 2 * k)


def check_training(raw: F64, signals: Sequence[str], window: int) -> tuple[F64, tuple[int, ...]]:
    """The checked training matrix and the indices of its non-constant signals."""
    data = as_matrix(raw, signals, "training data")
    if len(set(signals)) != len(signals):
        raise ColumnCountError(f"training data: duplicate signal names in {list(signals)}")
    need = min_training_rows(len(signals), window)
    if data.shape[0] < need:
        raise TooFewRowsError(
            f"training data: {data.shape[0]} rows, needs at least {need} "
            f"({window - 1} rows of window history + {need - window + 1} scored rows "
            f"for {len(signals)} signals)"
        )
    bad = np.argwhere(~np.isfinite(data))
    if bad.size:
        row, col = (int(v) for v in bad[0])
        raise NonFiniteTrainingError(
            f"training data: signal {signals[col]!r} row {row} is {data[row, col]!r} "
            f"({bad.shape[0]} non-finite value(s) in all); fill or cut the gap before fitting"
        )
    spread = data.max(axis=0) - data.min(axis=0)
    scale = np.maximum(np.abs(data).max(axis=0), 1.0)
    kept = tuple(int(j) for j in np.flatnonzero(spread > CONSTANT_RTOL * scale))
    if not kept:
        raise ConstantSignalsError(
            f"training data: all {len(signals)} signals are constant over {data.shape[0]} rows"
        )
    return data, kept


def window_features(raw: F64, window: int, kept: Sequence[int], use_current: bool = True) -> F64:
    """(n - window + 1, copies·len(kept)): the current value (if ``use_current``) and the window
    mean of each kept signal, in that block order.

    A feature row whose window holds a non-finite value is all NaN (a gap)."""
    cols = raw[:, list(kept)]
    copies = 2 if use_current else 1
    if cols.shape[0] < window:
        return np.empty((0, copies * len(kept)), dtype=np.float64)
    views = sliding_window_view(cols, window, axis=0)  # (n - w + 1, k', w)
    means = views.mean(axis=2)
    feats = np.hstack([cols[window - 1 :], means]) if use_current else means
    gap = ~np.isfinite(views).all(axis=(1, 2))
    feats[gap] = np.nan
    return feats


@dataclass(frozen=True)
class Standardiser:
    """z = (feature − training mean) / training standard deviation."""

    mean: F64
    sd: F64

    @classmethod
    def fit(cls, feats: F64) -> "Standardiser":
        sd = feats.std(axis=0)
        # a signal can vary while its window mean barely does; keep the division finite
        floor = CONSTANT_RTOL * np.maximum(np.abs(feats).max(axis=0), 1.0)
        return cls(feats.mean(axis=0), np.maximum(sd, floor))

    def __call__(self, feats: F64) -> F64:
        z: F64 = (feats - self.mean) / self.sd
        return z
