"""Candidate 2 (tree/density): Isolation Forest on level + causal rolling-mean features.

Features per row: the 8 signals and their causal rolling means over LAG_WIN=10 samples, z-scored with
the training mean/std (first 400 rows). IsolationForest(n_estimators=200, max_samples=256,
contamination irrelevant, random_state=seed). Row score = -score_samples (higher = more anomalous).
Threshold/alarm rule: common.report_all (C * q99 of training scores, C calibrated label-free on the
anomaly-free pseudo-files to FAR_TARGET, persistence K).
Explanation: per-signal |z| of the row (the forest itself gives no additive attribution), top 3.
"""
import argparse, json, os, sys
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
from sklearn.ensemble import IsolationForest
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common
from pca_t2q import rolling_mean_causal

LAG_WIN = 10


class IForest:
    def __init__(self, seed=0, lag_win=LAG_WIN):
        self.seed, self.lag_win = seed, lag_win

    def features(self, X):
        F = np.hstack([X, rolling_mean_causal(X, self.lag_win)])
        return (F - self.mu) / self.sd

    def fit(self, Xtr):
        F = np.hstack([Xtr, rolling_mean_causal(Xtr, self.lag_win)])
        self.mu = F.mean(0); self.sd = F.std(0); self.sd[self.sd < 1e-9] = 1.0
        self.model = IsolationForest(n_estimators=200, max_samples=256, random_state=self.seed, n_jobs=1)
        self.model.fit(self.features(Xtr))
        self.train_scores = self.score(Xtr)
        return self

    def score(self, X):
        return -self.model.score_samples(self.features(X))

    def explain(self, X, i, top=3):
        z = np.abs(self.features(X)[i]).reshape(2, -1).max(0)
        o = np.argsort(z)[::-1][:top]
        return [(common.SIGNALS[j], float(z[j])) for j in o]


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--k', type=int, default=5)
    a = ap.parse_args()
    rows, _ = common.report_all(lambda: IForest(a.seed), a.data, a.k, label=f'IForest seed{a.seed}')
    for r in rows:
        r['seed'] = a.seed; print(json.dumps(r))
