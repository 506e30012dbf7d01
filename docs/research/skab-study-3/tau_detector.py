"""Study 3 rule built from the package's own classes: autocorrelation-inflated standardisation.

Everything is `factoryos.apps.maintenance.detectors` (features, PCA/GMM/AE cores, WindowDetector,
ONNX graph) except one fit-time step: each feature's training sd is multiplied by

    infl_j = max(1, tau_j / TAU0) ** BETA,       TAU0 = 10, BETA = 1.5

where tau_j is the integrated autocorrelation time of feature j over the fitted rows
(1 + 2·Σ_{k=1..K} ρ_k, K = the last lag before the first ρ_k ≤ 0, k ≤ ⌊n/4⌋). The scorer is
unchanged (z = (f − μ) / (sd·infl) is still one constant vector), so the detector stays a pure
function of the last 30 rows and exports to the same ONNX graph.

    fit_tau_detector(family, train_rows, SIGNALS, horizon_factor=...)

No labelled file is read here.
"""

from collections.abc import Sequence

import numpy as np

from factoryos.apps.maintenance.detectors import DetectorConfig, WindowDetector
from factoryos.apps.maintenance.detectors.detector import _fit_core
from factoryos.apps.maintenance.detectors.features import (
    Standardiser,
    check_training,
    window_features,
)

TAU0, BETA = 10.0, 1.5
# horizon factors calibrated by calibrate_tau.py (study-2 rule: anomaly-free, fit 400 / score
# 750, stride 50, smallest factor of the 81-point log grid 0.5…50 with ≤ 20 % rows in alarm, K 5)
HORIZON_FACTOR_TAU = {"pca": 1.4092}


def tau(f: np.ndarray, maxlag: int | None = None) -> np.ndarray:
    """Integrated autocorrelation time of each column (rows in time order)."""
    n = f.shape[0]
    maxlag = maxlag or n // 4
    x = f - f.mean(0)
    v = np.maximum((x**2).mean(0), 1e-300)
    out = np.ones(f.shape[1])
    alive = np.ones(f.shape[1], bool)
    for k in range(1, maxlag + 1):
        r = (x[k:] * x[:-k]).sum(0) / n / v
        alive &= r > 0
        if not alive.any():
            break
        out += 2 * np.where(alive, r, 0.0)
    return out


def inflation(feats: np.ndarray, tau0: float = TAU0, beta: float = BETA) -> np.ndarray:
    return np.maximum(1.0, tau(feats) / tau0) ** beta


def fit_tau_detector(
    family: str,
    raw: np.ndarray,
    signals: Sequence[str],
    *,
    horizon_factor: float | None = None,
    config: DetectorConfig | None = None,
    tau0: float = TAU0,
    beta: float = BETA,
) -> WindowDetector:
    """As `fit_detector`, with the sd of every feature inflated by its autocorrelation time."""
    factor = HORIZON_FACTOR_TAU[family] if horizon_factor is None else horizon_factor
    cfg = config or DetectorConfig(horizon_factor=factor)
    names = tuple(signals)
    data, kept = check_training(raw, names, cfg.window)
    feats = window_features(data, cfg.window, kept, cfg.use_current)
    base = Standardiser.fit(feats)
    infl = inflation(feats, tau0, beta)
    standardiser = Standardiser(base.mean, base.sd * infl)
    z = standardiser(feats)
    core = _fit_core(family, z, cfg)
    stat = core.stat_contrib(z)[0]
    q = max(float(np.quantile(stat, cfg.quantile)), np.finfo(np.float64).tiny)
    det = WindowDetector(
        family=family,
        signals=names,
        window=cfg.window,
        persistence_k=cfg.persistence_k,
        kept=kept,
        standardiser=standardiser,
        core=core,
        train_quantile=q,
        horizon_factor=factor,
        config=cfg,
        train_rows=int(data.shape[0]),
    )
    det.train_alarm_share = float(np.mean(stat / det.scale > 1.0))
    det.validation["sd_inflation"] = {"tau0": tau0, "beta": beta, "factors": infl.tolist()}
    return det
