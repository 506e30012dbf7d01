"""Candidate 2b (tree): LightGBM cross-signal regression residuals.

For each signal j, a LightGBM regressor predicts x_j(t) from the causal 10-sample rolling means of
the OTHER 7 signals at t (the plant's physical relations: pump current/pressure/flow/vibration).
Fixed for all files: n_estimators=100, learning_rate=0.05, num_leaves=8, min_child_samples=20,
subsample 0.8 (bagging_freq 1), colsample 1.0, seed, n_jobs=1.
Row score = sum_j (residual_j / std of training residual_j)^2 (residual std from in-sample fit,
floored at 1e-9). Explanation = per-signal normalised squared residual.
Threshold/alarm rule: common.report_all (label-free calibrations, persistence K).
"""
import argparse, json, os, sys
os.environ.setdefault('OMP_NUM_THREADS', '1')
import numpy as np
import lightgbm as lgb
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common
from pca_t2q import rolling_mean_causal

LAG_WIN = 10


class LGBMXReg:
    def __init__(self, seed=0):
        self.seed = seed

    def fit(self, Xtr):
        M = rolling_mean_causal(Xtr, LAG_WIN)
        self.models, sds = [], []
        for j in range(Xtr.shape[1]):
            others = [k for k in range(Xtr.shape[1]) if k != j]
            m = lgb.LGBMRegressor(n_estimators=100, learning_rate=0.05, num_leaves=8, min_child_samples=20,
                                  subsample=0.8, subsample_freq=1, random_state=self.seed, n_jobs=1, verbose=-1)
            m.fit(M[:, others], Xtr[:, j]); self.models.append((others, m))
            sds.append(np.std(Xtr[:, j] - m.predict(M[:, others])))
        self.rsd = np.maximum(np.array(sds), 1e-9)
        self.train_scores = self.score(Xtr)
        return self

    def contrib(self, X):
        M = rolling_mean_causal(X, LAG_WIN)
        R = np.column_stack([X[:, j] - m.predict(M[:, o]) for j, (o, m) in enumerate(self.models)])
        return (R / self.rsd) ** 2

    def score(self, X):
        return self.contrib(X).sum(1)

    def explain(self, X, i, top=3):
        c = self.contrib(X)[i]; o = np.argsort(c)[::-1][:top]
        return [(common.SIGNALS[j], float(c[j])) for j in o]


if __name__ == '__main__':
    ap = argparse.ArgumentParser(); ap.add_argument('--data', default=common.DEFAULT_DATA)
    ap.add_argument('--seed', type=int, default=0); ap.add_argument('--k', type=int, default=5)
    a = ap.parse_args()
    rows, _ = common.report_all(lambda: LGBMXReg(a.seed), a.data, a.k, label=f'LGBM-xreg seed{a.seed}')
    for r in rows:
        r['seed'] = a.seed; print(json.dumps(r))
