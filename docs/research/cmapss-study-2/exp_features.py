"""Study 2, step 1: which feature set, by grouped 5-fold CV on training units only.

Metric `cut`: held-out units, every row with cycle >= 31 (the shortest test-like history),
each unit weighted equally, target capped at 125 (test-like truncation points).
"""

import json
import sys
import time

import feats
import lightgbm as lgb
import numpy as np

from factoryos.apps.maintenance.cmapss import load_subset

DATA = "/work/shared/datasets/cmapss"
PARAMS = dict(
    objective="regression",
    learning_rate=0.03,
    num_leaves=15,
    min_child_samples=50,
    feature_fraction=0.5,
    bagging_fraction=0.8,
    bagging_freq=1,
    lambda_l2=1.0,
    num_threads=1,
    verbose=-1,
    seed=0,
)
ROUNDS = 600


def folds(units, k=5, seed=0):
    uu = np.unique(units)
    perm = np.random.RandomState(seed).permutation(uu)
    for f in range(k):
        yield np.isin(units, perm[f::k])


def cut_rmse(pred, y, unit, cycle):
    m = cycle >= 31
    w = np.zeros_like(y)
    for u in np.unique(unit[m]):
        sel = m & (unit == u)
        w[sel] = 1.0 / sel.sum()
    return float(np.sqrt(np.sum(w * (pred - y) ** 2) / w.sum()))


def run(subset, kind, weight=None):
    s = load_subset(DATA, subset)
    r = s.train
    y = r.rul_targets()
    oof = np.zeros_like(y)
    t0 = time.time()
    for val in folds(r.unit):
        tr = ~val
        norm = feats.Norm().fit(feats.subset_rows(r, tr))
        X = feats.build(r, norm, kind)
        ds = lgb.Dataset(X[tr], y[tr])
        b = lgb.train(PARAMS, ds, ROUNDS)
        oof[val] = b.predict(X[val])
    res = dict(
        subset=subset,
        kind=kind,
        all=float(np.sqrt(np.mean((oof - y) ** 2))),
        cut=cut_rmse(oof, y, r.unit, r.cycle),
        s=time.time() - t0,
    )
    print(json.dumps(res), flush=True)
    return res


if __name__ == "__main__":
    for kind in sys.argv[2:]:
        run(sys.argv[1], kind)
