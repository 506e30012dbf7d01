"""Statistical family: PCA with Hotelling's T² and the Q statistic (squared prediction error).

The retained components explain ``var_keep`` of the training variance. T² and Q are each divided
by their classical control limit at level ``alpha`` (F-distribution limit for T², Jackson and
Mudholkar for Q) so both share one scale; the statistic is the larger of the two. Contribution
of feature j: its squared residual / Q-limit plus |z_j · (P Λ⁻¹ Pᵀ z)_j| / T²-limit."""

from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import stats

from factoryos.apps.maintenance.detectors.base import F64
from factoryos.apps.maintenance.detectors.onnx_graph import GraphBuilder

EIG_FLOOR = 1e-9  # relative to the largest eigenvalue: a flat direction must not divide by ~0


def t2_limit(n: int, a: int, alpha: float) -> float:
    """Hotelling T² upper control limit for a new observation, a components, n training rows."""
    return float(a * (n * n - 1) / (n * (n - a)) * stats.f.ppf(1 - alpha, a, n - a))


def q_limit(residual_eigenvalues: F64, alpha: float) -> float:
    """Jackson–Mudholkar limit of Q from the discarded eigenvalues (their sum if degenerate)."""
    th1, th2, th3 = (float(np.sum(residual_eigenvalues**i)) for i in (1, 2, 3))
    if th2 <= 0.0 or th1 <= 0.0:
        return max(th1, EIG_FLOOR)
    h0 = 1 - 2 * th1 * th3 / (3 * th2**2)
    if h0 <= 0.0:  # heavy-tailed residual spectrum: the approximation breaks down
        return th1
    ca = float(stats.norm.ppf(1 - alpha))
    inner = ca * np.sqrt(2 * th2 * h0**2) / th1 + 1 + th2 * h0 * (h0 - 1) / th1**2
    return float(th1 * inner ** (1 / h0))


@dataclass(frozen=True)
class PcaCore:
    loadings: F64  # (m, a)
    eigenvalues: F64  # (a,)
    t2_ucl: float
    q_ucl: float
    explained: float

    @classmethod
    def fit(cls, z: F64, var_keep: float, alpha: float) -> "PcaCore":
        n, m = z.shape
        _, sv, vt = np.linalg.svd(z, full_matrices=False)
        lam = sv**2 / (n - 1)
        share = np.cumsum(lam) / lam.sum()
        a = int(min(np.searchsorted(share, var_keep) + 1, m - 1))
        kept = np.maximum(lam[:a], EIG_FLOOR * lam[0])
        return cls(
            loadings=np.ascontiguousarray(vt[:a].T),
            eigenvalues=kept,
            t2_ucl=t2_limit(n, a, alpha),
            q_ucl=q_limit(lam[a:], alpha),
            explained=float(share[a - 1]),
        )

    def stat_contrib(self, z: F64) -> tuple[F64, F64]:
        t = z @ self.loadings
        resid = z - t @ self.loadings.T
        t2 = np.sum(t**2 / self.eigenvalues, axis=1) / self.t2_ucl
        q = np.sum(resid**2, axis=1) / self.q_ucl
        t2_part = np.abs(((t / self.eigenvalues) @ self.loadings.T) * z) / self.t2_ucl
        contrib = resid**2 / self.q_ucl + t2_part
        return np.maximum(t2, q), contrib

    def to_graph(self, g: GraphBuilder, z: str) -> tuple[str, str]:
        p = g.const(self.loadings, "loadings")
        pt = g.const(np.ascontiguousarray(self.loadings.T), "loadings_t")
        lam = g.const(self.eigenvalues, "eigenvalues")
        t = g.op("MatMul", z, p)
        resid = g.op("Sub", z, g.op("MatMul", t, pt))
        t2 = g.op("Div", g.reduce_sum(g.op("Div", g.op("Mul", t, t), lam), 1), g.const(self.t2_ucl))
        r2 = g.op("Mul", resid, resid)
        q = g.op("Div", g.reduce_sum(r2, 1), g.const(self.q_ucl))
        back = g.op("MatMul", g.op("Div", t, lam), pt)
        t2_part = g.op("Div", g.op("Abs", g.op("Mul", back, z)), g.const(self.t2_ucl))
        contrib = g.op("Add", g.op("Div", r2, g.const(self.q_ucl)), t2_part)
        return g.op("Max", t2, q), contrib

    def params(self) -> dict[str, Any]:
        return {
            "components": int(self.loadings.shape[1]),
            "explained_variance": round(self.explained, 4),
            "t2_limit": self.t2_ucl,
            "q_limit": self.q_ucl,
        }
