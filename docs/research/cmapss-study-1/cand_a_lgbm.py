"""Candidate (a): LightGBM on windowed, condition-normalised sensor features.

Usage: python cand_a_lgbm.py --subset FD001 [--seeds 0 1 2] [--onnx]

Procedure (identical for every subset):
  1. fit the ConditionNormaliser on the training file (KMeans on settings, per-condition z-score)
  2. build causal window features for every training cycle, target = min(RUL, 125)
  3. hyper-parameter search: small grid, 5-fold grouped-by-unit CV on TRAINING units,
     early stopping on the held-out fold; pick the grid point with lowest mean CV RMSE and
     set n_estimators = mean best iteration * 1.1
  4. refit on all training units, predict the last cycle of each test unit.
Test data is touched only in step 4.
"""
from __future__ import annotations

import argparse
import itertools
import json
import os

import lightgbm as lgb
import numpy as np

import cmapss_common as C
import features as F

GRID = {
    "num_leaves": [15, 31],
    "min_child_samples": [20, 80],
    "feature_fraction": [0.5],
}
BASE = dict(objective="regression", learning_rate=0.03, n_estimators=3000, bagging_fraction=0.8,
            bagging_freq=1, lambda_l2=1.0, num_threads=2, verbose=-1)


def search(X, y, units, seed):
    results = []
    folds = list(C.grouped_folds(units, 5, seed=0))
    for vals in itertools.product(*GRID.values()):
        hp = dict(zip(GRID.keys(), vals))
        errs, iters = [], []
        for tr, va in folds:
            m = lgb.LGBMRegressor(**BASE, **hp, random_state=seed)
            m.fit(X[tr], y[tr], eval_X=(X[va],), eval_y=(y[va],),
                  callbacks=[lgb.early_stopping(100, verbose=False)])
            p = np.clip(m.predict(X[va], num_iteration=m.best_iteration_), 0, None)
            errs.append(C.rmse(p, y[va]))
            iters.append(m.best_iteration_)
        results.append((float(np.mean(errs)), hp, int(np.mean(iters) * 1.1)))
    results.sort(key=lambda r: r[0])
    return results


def fit(train, seed):
    norm = C.ConditionNormaliser().fit(train)
    X = F.build(train, norm)
    y = C.train_targets(train)
    res = search(X, y, train[:, 0], seed)
    cv_rmse, hp, n_est = res[0]
    params = {**BASE, **hp, "n_estimators": n_est}
    model = lgb.LGBMRegressor(**params, random_state=seed).fit(X, y)
    return norm, model, dict(cv_rmse=cv_rmse, hp=hp, n_estimators=n_est, k=norm.k,
                             sensors=[j + 1 for j in norm.sensors], n_features=X.shape[1])


def predict(norm, model, test):
    X = F.build(test, norm)
    last = C.last_rows(test)
    return np.clip(model.predict(X[last]), 0, None), X[last]


def export_onnx(model, X, path):
    import onnxmltools
    import onnxruntime as ort
    from onnxmltools.convert.common.data_types import DoubleTensorType, FloatTensorType
    out = {}
    ref = model.booster_.predict(X)
    for name, tt, dt in [("float32", FloatTensorType, np.float32), ("float64", DoubleTensorType, np.float64)]:
        try:
            onx = onnxmltools.convert_lightgbm(model, initial_types=[("X", tt([None, X.shape[1]]))],
                                               target_opset=15)
            p = path.replace(".onnx", f"_{name}.onnx")
            with open(p, "wb") as fh:
                fh.write(onx.SerializeToString())
            sess = ort.InferenceSession(p, providers=["CPUExecutionProvider"])
            got = sess.run(None, {"X": X.astype(dt)})[0].reshape(-1)
            out[name] = dict(path=p, max_abs_diff=float(np.max(np.abs(got - ref))))
        except Exception as e:  # record, don't hide
            out[name] = dict(error=f"{type(e).__name__}: {e}"[:300])
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", default="FD001")
    ap.add_argument("--data", default=C.DATA_DIR)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--onnx", action="store_true")
    ap.add_argument("--out", default="results")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    train, test, rul = C.load_subset(a.subset, a.data)
    runs = []
    for seed in a.seeds:
        with C.Timer() as t:
            norm, model, info = fit(train, seed)
        pred, Xlast = predict(norm, model, test)
        r = dict(seed=seed, rmse=C.rmse(pred, rul), score=C.phm08_score(pred, rul), train_s=t.s, **info)
        if a.onnx and seed == a.seeds[0]:
            r["onnx"] = export_onnx(model, Xlast, os.path.join(a.out, f"lgbm_{a.subset}.onnx"))
        np.save(os.path.join(a.out, f"pred_lgbm_{a.subset}_s{seed}.npy"), pred)
        print(json.dumps(r), flush=True)
        runs.append(r)
    summ = {k: [float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs]))]
            for k in ("rmse", "score", "train_s")}
    out = dict(candidate="lgbm", subset=a.subset, seeds=a.seeds, mean_std=summ, runs=runs)
    with open(os.path.join(a.out, f"lgbm_{a.subset}.json"), "w") as fh:
        json.dump(out, fh, indent=1)
    print(json.dumps(dict(subset=a.subset, **summ)))


if __name__ == "__main__":
    main()
