"""Study 2, step 2: model variants on the 'win long cyc' features, grouped 5-fold CV on training
units only (same folds and metric as step 1). Saves out-of-fold predictions for ensembling."""

import json
import sys
import time

import feats
import lightgbm as lgb
import numpy as np
from exp_features import DATA, PARAMS, cut_rmse, folds
from sklearn.linear_model import Ridge
from sklearn.neural_network import MLPRegressor
from sklearn.preprocessing import StandardScaler

from factoryos.apps.maintenance.cmapss import load_subset

KIND = "win long cyc"


def variants():
    base = dict(PARAMS)
    yield "lgb_base", ("lgb", base, 600, None)
    yield (
        "lgb_big",
        (
            "lgb",
            {**base, "num_leaves": 31, "min_child_samples": 100, "learning_rate": 0.02},
            1000,
            None,
        ),
    )
    yield (
        "lgb_small",
        (
            "lgb",
            {**base, "num_leaves": 7, "min_child_samples": 100, "learning_rate": 0.05},
            800,
            None,
        ),
    )
    yield "lgb_wcap", ("lgb", base, 600, "cap")
    yield "lgb_seeds", ("lgb5", base, 600, None)
    yield "ridge", ("ridge", None, 0, None)
    yield "mlp", ("mlp", None, 0, None)


def fit_predict(kind, params, rounds, weight, Xtr, ytr, Xva):
    if kind.startswith("lgb"):
        w = np.where(ytr >= 125, 0.5, 1.0) if weight == "cap" else None
        seeds = 5 if kind == "lgb5" else 1
        out = np.zeros(len(Xva))
        for s in range(seeds):
            b = lgb.train({**params, "seed": s}, lgb.Dataset(Xtr, ytr, weight=w), rounds)
            out += b.predict(Xva) / seeds
        return out
    sc = StandardScaler().fit(Xtr)
    if kind == "ridge":
        m = Ridge(alpha=10.0).fit(sc.transform(Xtr), ytr)
    else:
        m = MLPRegressor(
            hidden_layer_sizes=(64, 32),
            alpha=1e-3,
            learning_rate_init=1e-3,
            max_iter=60,
            early_stopping=False,
            random_state=0,
        ).fit(sc.transform(Xtr), ytr / 125)
        return np.clip(m.predict(sc.transform(Xva)) * 125, 0, 125)
    return np.clip(m.predict(sc.transform(Xva)), 0, 125)


def main(subset, names):
    s = load_subset(DATA, subset)
    r = s.train
    y = r.rul_targets()
    for name, (kind, params, rounds, weight) in variants():
        if names and name not in names:
            continue
        oof = np.zeros_like(y)
        t0 = time.time()
        for val in folds(r.unit):
            tr = ~val
            norm = feats.Norm().fit(feats.subset_rows(r, tr))
            X = feats.build(r, norm, KIND)
            oof[val] = fit_predict(kind, params, rounds, weight, X[tr], y[tr], X[val])
        np.save(f"oof_{subset}_{name}.npy", oof)
        print(
            json.dumps(
                dict(
                    subset=subset,
                    model=name,
                    all=float(np.sqrt(np.mean((oof - y) ** 2))),
                    cut=cut_rmse(oof, y, r.unit, r.cycle),
                    s=time.time() - t0,
                )
            ),
            flush=True,
        )


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
