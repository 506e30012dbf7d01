"""Candidate 1 (statistical): PCA Hotelling T^2 + Q (SPE).

Fit (first 400 rows of a file only): z-score with the training mean/std; PCA keeping the smallest
number of components explaining >= VAR_KEEP (0.90) of the variance.
Score per row = max(T^2 / UCL_T2, Q / UCL_Q) with the classical parametric limits at alpha = 0.01
(Hotelling F-based limit and Jackson-Mudholkar Q limit) so both statistics are on a common scale.
Temporal features (--lag-win W): each signal is also given as its causal rolling mean over W samples.
Threshold and alarm rule: common.report_all (C * q99 of training scores, C calibrated label-free on
anomaly-free pseudo-files to FAR_TARGET, persistence K).
Explanation: per-signal contributions to Q (squared residuals) and T^2, top-3 signals.
"""
import argparse, json, os, sys
import numpy as np
from scipy import stats
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common

VAR_KEEP, ALPHA = 0.90, 0.01


def rolling_mean_causal(X, w):
    c = np.cumsum(np.vstack([np.zeros((1, X.shape[1])), X]), axis=0)
    idx = np.arange(1, len(X) + 1); lo = np.maximum(idx - w, 0)
    return (c[idx] - c[lo]) / (idx - lo)[:, None]


class PCAT2Q:
    def __init__(self, lag_win=0, var_keep=VAR_KEEP, alpha=ALPHA, sd_floor=None):
        self.var_keep, self.alpha, self.lag_win, self.sd_floor = var_keep, alpha, lag_win, sd_floor

    def features(self, X):
        return np.hstack([X, rolling_mean_causal(X, self.lag_win)]) if self.lag_win > 0 else X

    def fit(self, Xtr):
        F = self.features(Xtr)
        self.mu = F.mean(0); self.sd = F.std(0); self.sd[self.sd < 1e-9] = 1.0
        if self.sd_floor is not None:
            fl = np.tile(self.sd_floor, F.shape[1] // len(self.sd_floor))
            self.sd = np.maximum(self.sd, fl)
        Z = (F - self.mu) / self.sd
        n, m = Z.shape
        _, s, Vt = np.linalg.svd(Z, full_matrices=False)
        lam = s ** 2 / (n - 1)
        a = min(int(np.searchsorted(np.cumsum(lam) / lam.sum(), self.var_keep) + 1), m - 1)
        self.P, self.lam, self.a = Vt[:a].T, lam[:a], a
        self.t2_ucl = a * (n * n - 1) / (n * (n - a)) * stats.f.ppf(1 - self.alpha, a, n - a)
        th = [np.sum(lam[a:] ** i) for i in (1, 2, 3)]
        h0 = 1 - 2 * th[0] * th[2] / (3 * th[1] ** 2)
        ca = stats.norm.ppf(1 - self.alpha)
        self.q_ucl = th[0] * (ca * np.sqrt(2 * th[1] * h0 ** 2) / th[0] + 1
                              + th[1] * h0 * (h0 - 1) / th[0] ** 2) ** (1 / h0)
        self.train_scores = self.score(Xtr)
        return self

    def _parts(self, X):
        Z = (self.features(X) - self.mu) / self.sd
        T = Z @ self.P
        R = Z - T @ self.P.T
        return Z, T, R

    def score(self, X):
        Z, T, R = self._parts(X)
        return np.maximum(np.sum(T ** 2 / self.lam, 1) / self.t2_ucl, np.sum(R ** 2, 1) / self.q_ucl)

    def explain(self, X, i, top=3):
        Z, T, R = self._parts(X)
        c = R[i] ** 2 / self.q_ucl + np.abs(((T[i] / self.lam) @ self.P.T) * Z[i]) / self.t2_ucl
        names = common.SIGNALS + ([s + '@mean' for s in common.SIGNALS] if self.lag_win else [])
        # fold the temporal copies back onto the physical signal
        per_sig = {}
        for n_, v in zip(names, c):
            per_sig[n_.split('@')[0]] = per_sig.get(n_.split('@')[0], 0) + v
        return sorted(per_sig.items(), key=lambda kv: -kv[1])[:top]


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--lag-win', type=int, default=10); ap.add_argument('--k', type=int, default=5)
    ap.add_argument('--sd-floor', action='store_true', help='scale floor from anomaly-free data')
    a = ap.parse_args()
    fl = common.reference_scale(a.data) if a.sd_floor else None
    rows, _ = common.report_all(lambda: PCAT2Q(a.lag_win, sd_floor=fl), a.data, a.k,
                                label=f'PCA-T2Q lag{a.lag_win}' + (' floor' if a.sd_floor else ''))
    for r in rows:
        print(json.dumps(r))
