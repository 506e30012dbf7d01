# ruff: noqa
# Prototype of study 2, kept as it was run (reformatted only); reads /work/shared/datasets/skab.
import numpy as np
from scipy import stats


def rmean(X, w):
    c = np.cumsum(np.vstack([np.zeros((1, X.shape[1])), X]), 0)
    i = np.arange(1, len(X) + 1)
    lo = np.maximum(i - w, 0)
    return (c[i] - c[lo]) / (i - lo)[:, None]


class PCA:
    def __init__(s, lag=10, raw=True, var=0.9, alpha=0.01, comb="max"):
        s.lag, s.raw, s.var, s.alpha, s.comb = lag, raw, var, alpha, comb

    def feat(s, X):
        parts = []
        if s.raw:
            parts.append(X)
        if s.lag:
            parts.append(rmean(X, s.lag))
        return np.hstack(parts)

    def fit(s, X):
        F = s.feat(X)
        s.mu = F.mean(0)
        s.sd = F.std(0)
        s.sd[s.sd < 1e-9] = 1
        Z = (F - s.mu) / s.sd
        n, m = Z.shape
        _, sv, Vt = np.linalg.svd(Z, full_matrices=False)
        lam = sv**2 / (n - 1)
        a = min(int(np.searchsorted(np.cumsum(lam) / lam.sum(), s.var) + 1), m - 1)
        s.P, s.lam, s.a = Vt[:a].T, lam[:a], a
        s.t2 = a * (n * n - 1) / (n * (n - a)) * stats.f.ppf(1 - s.alpha, a, n - a)
        th = [np.sum(lam[a:] ** i) for i in (1, 2, 3)]
        h0 = 1 - 2 * th[0] * th[2] / (3 * th[1] ** 2)
        ca = stats.norm.ppf(1 - s.alpha)
        s.q = th[0] * (
            ca * np.sqrt(2 * th[1] * h0**2) / th[0] + 1 + th[1] * h0 * (h0 - 1) / th[0] ** 2
        ) ** (1 / h0)
        s.train_scores = s.score(X)
        return s

    def score(s, X):
        Z = (s.feat(X) - s.mu) / s.sd
        T = Z @ s.P
        R = Z - T @ s.P.T
        a = np.sum(T**2 / s.lam, 1) / s.t2
        b = np.sum(R**2, 1) / s.q
        return np.maximum(a, b) if s.comb == "max" else (a + b) / 2


def persist(al, k):
    out = np.zeros_like(al)
    st = False
    on = off = 0
    for i, a in enumerate(al):
        on = on + 1 if a else 0
        off = off + 1 if not a else 0
        if not st and on >= k:
            st = True
        elif st and off >= k:
            st = False
        out[i] = st
    return out
