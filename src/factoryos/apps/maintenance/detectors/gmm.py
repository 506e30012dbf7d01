"""Density family: a Gaussian mixture with diagonal covariances (scikit-learn EM).

Statistic: the responsibility-weighted squared Mahalanobis distance to the mixture's components,
Σ_k r_k(z) Σ_j (z_j − μ_kj)² / σ²_kj, where r_k(z) is the posterior probability of component k
under the fitted density. It is ≥ 0, additive over features (the contributions), and unlike the
raw negative log-density it has a meaningful zero for the quantile threshold."""

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.mixture import GaussianMixture

from factoryos.apps.maintenance.detectors.base import F64
from factoryos.apps.maintenance.detectors.onnx_graph import GraphBuilder

REG_COVAR = 1e-3  # on z-scored features: keeps a near-flat feature from dominating


@dataclass(frozen=True)
class GmmCore:
    means: F64  # (K, m)
    variances: F64  # (K, m)
    log_prior: F64  # (K,) log weight − ½ Σ log σ² (the 2π term cancels in the posterior)
    converged: bool

    @classmethod
    def fit(cls, z: F64, components: int, seed: int) -> "GmmCore":
        model = GaussianMixture(
            n_components=components, covariance_type="diag", reg_covar=REG_COVAR, random_state=seed
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)  # reported in `converged`
            model.fit(z)
        variances = np.asarray(model.covariances_, dtype=np.float64)
        log_prior = np.log(model.weights_) - 0.5 * np.sum(np.log(variances), axis=1)
        return cls(
            np.asarray(model.means_, np.float64), variances, log_prior, bool(model.converged_)
        )

    def stat_contrib(self, z: F64) -> tuple[F64, F64]:
        sq = (z[:, None, :] - self.means[None]) ** 2 / self.variances[None]  # (n, K, m)
        logits = self.log_prior[None] - 0.5 * sq.sum(axis=2)
        logits -= logits.max(axis=1, keepdims=True)
        resp = np.exp(logits)
        resp /= resp.sum(axis=1, keepdims=True)
        contrib = np.einsum("nk,nkm->nm", resp, sq)
        return contrib.sum(axis=1), contrib

    def to_graph(self, g: GraphBuilder, z: str) -> tuple[str, str]:
        z3 = g.op("Unsqueeze", z, g.ints([1]))  # (B, 1, m)
        diff = g.op("Sub", z3, g.const(self.means, "means"))
        sq = g.op("Div", g.op("Mul", diff, diff), g.const(self.variances, "variances"))
        half = g.op("Mul", g.reduce_sum(sq, 2), g.const(-0.5))
        resp = g.op("Softmax", g.op("Add", half, g.const(self.log_prior, "log_prior")), axis=1)
        weighted = g.op("Mul", sq, g.op("Unsqueeze", resp, g.ints([2])))
        contrib = g.reduce_sum(weighted, 1)
        return g.reduce_sum(contrib, 1), contrib

    def params(self) -> dict[str, Any]:
        return {
            "components": int(self.means.shape[0]),
            "covariance": "diagonal",
            "reg_covar": REG_COVAR,
            "converged": self.converged,
        }
