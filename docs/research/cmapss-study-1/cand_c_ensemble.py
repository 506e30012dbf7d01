"""Candidate (c): equal-weight ensemble of candidate (a) LightGBM and candidate (b) CNN.

Usage:
  python cand_c_ensemble.py --subset FD001 [--seeds 0 1 2]            # trains both members
  python cand_c_ensemble.py --subset FD001 --reuse results            # reuse members' saved runs

The weight is fixed at 0.5/0.5 a priori (no weight is fitted, so no extra tuning and
nothing can leak from the test set).  Seed i of the ensemble = LightGBM seed i + CNN seed i.
train_s = LightGBM train_s + CNN train_s (members trained one after the other, 2 threads).
"""
from __future__ import annotations

import argparse
import json
import os

import numpy as np

import cmapss_common as C


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", default="FD001")
    ap.add_argument("--data", default=C.DATA_DIR)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--reuse", default=None, help="directory with the members' saved runs")
    ap.add_argument("--out", default="results")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    train, test, rul = C.load_subset(a.subset, a.data)
    runs = []
    if a.reuse:
        ja = json.load(open(os.path.join(a.reuse, f"lgbm_{a.subset}.json")))
        jb = json.load(open(os.path.join(a.reuse, f"cnn_{a.subset}.json")))
        ta = {r["seed"]: r["train_s"] for r in ja["runs"]}
        tb = {r["seed"]: r["train_s"] for r in jb["runs"]}
    for seed in a.seeds:
        if a.reuse:
            pa = np.load(os.path.join(a.reuse, f"pred_lgbm_{a.subset}_s{seed}.npy"))
            pb = np.load(os.path.join(a.reuse, f"pred_cnn_{a.subset}_s{seed}.npy"))
            t = ta[seed] + tb[seed]
        else:
            import cand_a_lgbm as A
            import cand_b_cnn as B
            with C.Timer() as t1:
                na, ma, _ = A.fit(train, seed)
            with C.Timer() as t2:
                nb, mb, _ = B.fit(train, seed, "cnn")
            pa = A.predict(na, ma, test)[0]
            pb = B.predict(mb, B.windows(test, nb)[C.last_rows(test)])
            t = t1.s + t2.s
        pred = 0.5 * pa + 0.5 * pb
        r = dict(seed=seed, rmse=C.rmse(pred, rul), score=C.phm08_score(pred, rul), train_s=t)
        np.save(os.path.join(a.out, f"pred_ens_{a.subset}_s{seed}.npy"), pred)
        print(json.dumps(r), flush=True)
        runs.append(r)
    summ = {k: [float(np.mean([r[k] for r in runs])), float(np.std([r[k] for r in runs]))]
            for k in ("rmse", "score", "train_s")}
    with open(os.path.join(a.out, f"ens_{a.subset}.json"), "w") as fh:
        json.dump(dict(candidate="ensemble", subset=a.subset, seeds=a.seeds, mean_std=summ, runs=runs), fh, indent=1)
    print(json.dumps(dict(subset=a.subset, **summ)))


if __name__ == "__main__":
    main()
