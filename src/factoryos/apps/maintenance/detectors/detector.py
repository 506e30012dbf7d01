"""The one `FittedDetector` implementation: window features → z-scores → a family's core.

Threshold rule (every family): score = statistic / (horizon_factor × q), q = the ``quantile``
(0.99) of the statistic over the training rows. The horizon factor is one constant per family,
calibrated once on normal reference runs (SKAB anomaly-free, see `calibration`): training rows
only cover a few minutes, and normal slow drift (fluid temperature, vibration) over the
following quarter of an hour pushes normal scores well past their training quantile.
"""

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

import numpy as np

from factoryos.apps.maintenance.detectors.autoencoder import AutoencoderCore
from factoryos.apps.maintenance.detectors.base import F64, FAMILIES, DetectorConfig
from factoryos.apps.maintenance.detectors.calibration import (
    CALIBRATED_FOR,
    HORIZON_FACTOR,
    RULE,
)
from factoryos.apps.maintenance.detectors.errors import UncalibratedError, UnknownFamilyError
from factoryos.apps.maintenance.detectors.features import (
    Standardiser,
    as_matrix,
    check_training,
    window_features,
)
from factoryos.apps.maintenance.detectors.gmm import GmmCore
from factoryos.apps.maintenance.detectors.onnx_graph import GraphBuilder, f64_input
from factoryos.apps.maintenance.detectors.pca import PcaCore

SHARE_EPS = 1e-15  # keeps the shares defined on a row that matches training exactly


class Core(Protocol):
    def stat_contrib(self, z: F64) -> tuple[F64, F64]: ...

    def to_graph(self, g: GraphBuilder, z: str) -> tuple[str, str]: ...

    def params(self) -> dict[str, Any]: ...


@dataclass
class WindowDetector:
    """A fitted detector of any family (see `FittedDetector` for the contract)."""

    family: str
    signals: tuple[str, ...]
    window: int
    persistence_k: int
    kept: tuple[int, ...]
    standardiser: Standardiser
    core: Core
    train_quantile: float
    horizon_factor: float
    config: DetectorConfig
    train_rows: int
    train_alarm_share: float = 0.0
    validation: dict[str, Any] = field(default_factory=dict)

    @property
    def scale(self) -> float:
        """The statistic's value at the alarm threshold."""
        return self.horizon_factor * self.train_quantile

    def _stat_contrib(self, raw: F64) -> tuple[F64, F64]:
        data = as_matrix(raw, self.signals, f"{self.family} detector input")
        feats = window_features(data, self.window, self.kept, self.config.use_current)
        gap = np.isnan(feats).any(axis=1)
        stat, fc = self.core.stat_contrib(self.standardiser(feats))
        stat[gap] = np.nan
        return stat, fc

    def statistic(self, raw: F64) -> F64:
        """The unscaled statistic (threshold = `scale`)."""
        return self._stat_contrib(raw)[0]

    def score(self, raw: F64) -> F64:
        return self.statistic(raw) / self.scale

    def explain(self, raw: F64) -> F64:
        stat, fc = self._stat_contrib(raw)
        k = len(self.kept)
        per_signal = np.zeros((fc.shape[0], len(self.signals)), dtype=np.float64)
        # features come in blocks of k (current values, then window means): fold them back
        folded = fc.reshape(fc.shape[0], -1, k).sum(axis=1)
        per_signal[:, list(self.kept)] = folded + SHARE_EPS
        shares: F64 = per_signal / per_signal.sum(axis=1, keepdims=True)
        shares[np.isnan(stat)] = np.nan
        return shares

    def to_onnx(self) -> bytes:
        g = GraphBuilder()
        k, kept = len(self.kept), list(self.kept)
        nan = g.const(float("nan"))
        x = g.op("Where", g.op("IsInf", "x"), nan, "x")  # inf behaves as a gap, like numpy
        sel = g.op("Gather", x, g.const(np.asarray(kept, np.int64), "kept"), axis=2)
        feats = g.op("ReduceMean", sel, axes=[1], keepdims=0)
        if self.config.use_current:
            last = g.op("Gather", sel, g.const(self.window - 1, "last"), axis=1)
            feats = g.op("Concat", last, feats, axis=1)
        z = g.op(
            "Div",
            g.op("Sub", feats, g.const(self.standardiser.mean, "mu")),
            g.const(self.standardiser.sd, "sd"),
        )
        stat, fc = self.core.to_graph(g, z)
        g.op("Div", stat, g.const(self.scale, "scale"), out="score")
        copies = 2 if self.config.use_current else 1
        fold = np.zeros((copies * k, len(self.signals)), dtype=np.float64)
        for j, col in enumerate(kept):
            fold[j::k, col] = 1.0
        mask = np.zeros(len(self.signals), dtype=np.float64)
        mask[kept] = SHARE_EPS
        per = g.op("Add", g.op("MatMul", fc, g.const(fold, "fold")), g.const(mask, "eps"))
        g.op("Div", per, g.reduce_sum(per, 1, keepdims=1), out="contrib")
        model = g.model(
            [f64_input("x", ["batch", self.window, len(self.signals)])],
            [f64_input("score", ["batch"]), f64_input("contrib", ["batch", len(self.signals)])],
            {
                "family": self.family,
                "signals": json.dumps(list(self.signals)),
                "window": str(self.window),
                "threshold": "1.0",
            },
        )
        return bytes(model.SerializeToString())

    def describe(self) -> dict[str, Any]:
        return {
            "family": self.family,
            "signals": list(self.signals),
            "window": self.window,
            "features": ("current value and " if self.config.use_current else "")
            + "causal mean of the last window rows of each kept signal, z-scored with the "
            "training mean and sd",
            "hyper_parameters": {**asdict(self.config), **self.core.params()},
            "threshold": {
                "rule": RULE,
                "quantile": self.config.quantile,
                "training_quantile_value": self.train_quantile,
                "horizon_factor": self.horizon_factor,
                "statistic_at_threshold": self.scale,
            },
            "persistence_k": self.persistence_k,
            "training_rows": self.train_rows,
            "dropped_constant_signals": [
                s for i, s in enumerate(self.signals) if i not in set(self.kept)
            ],
            "validation": {
                "training_rows_above_threshold": self.train_alarm_share,
                **self.validation,
            },
        }


def _fit_core(family: str, z: F64, cfg: DetectorConfig) -> Core:
    if family == "pca":
        return PcaCore.fit(z, cfg.var_keep, cfg.alpha)
    if family == "gmm":
        return GmmCore.fit(z, cfg.gmm_components, cfg.seed)
    return AutoencoderCore.fit(z, cfg.ae_bottleneck, cfg.seed)


def _horizon_factor(family: str, cfg: DetectorConfig) -> float:
    if cfg.horizon_factor is not None:
        return cfg.horizon_factor
    settings = {key: getattr(cfg, key) for key in CALIBRATED_FOR}
    if settings != CALIBRATED_FOR:
        raise UncalibratedError(
            f"no calibrated horizon factor for {settings} (calibrated: {CALIBRATED_FOR}); run "
            "docs/research/skab-study-2/calibrate.py with these settings and pass horizon_factor"
        )
    return HORIZON_FACTOR[family]


def fit_detector(
    family: str, raw: F64, signals: Sequence[str], config: DetectorConfig | None = None
) -> WindowDetector:
    """Fit ``family`` ("pca", "gmm" or "autoencoder") on normal rows ``raw`` (n, k)."""
    if family not in FAMILIES:
        raise UnknownFamilyError(
            f"unknown detector family {family!r}; known: {', '.join(FAMILIES)}"
        )
    cfg = config or DetectorConfig()
    names = tuple(signals)
    data, kept = check_training(raw, names, cfg.window)
    feats = window_features(data, cfg.window, kept, cfg.use_current)
    standardiser = Standardiser.fit(feats)
    z = standardiser(feats)
    core = _fit_core(family, z, cfg)
    stat = core.stat_contrib(z)[0]
    factor = _horizon_factor(family, cfg)
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
    return det
