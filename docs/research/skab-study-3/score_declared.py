"""The single scored run of the declared study-3 rule (see DECLARED.txt), through the benchmark's
own code: `factoryos.bench.skab.run_skab` with its fit step replaced by `fit_tau_detector`
(pca, horizon factor 1.4092). Nothing else changes: same files, fit on rows [0, 400), score the
rest with 29 rows of history, persistence K = 5, pooled counts.

    OMP_NUM_THREADS=1 .venv/bin/python docs/research/skab-study-3/score_declared.py [--baseline]

--baseline runs the unpatched package detector (post-hoc reproduction of study 2's figures).
"""
import json
import sys
from pathlib import Path

import factoryos.bench.skab as skab
from factoryos.bench.skab import SIGNALS, run_skab

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tau_detector import HORIZON_FACTOR_TAU, fit_tau_detector  # noqa: E402


def _fit_tau(family, train):
    return fit_tau_detector("pca", train, SIGNALS, horizon_factor=HORIZON_FACTOR_TAU["pca"]), "pca+tau"


if __name__ == "__main__":
    if "--baseline" not in sys.argv:
        skab._fit = _fit_tau
    res = run_skab(Path("/work/shared/datasets/skab"), progress=False)
    out = {k: res[k] for k in ("f1", "far", "mar", "target_met", "tp", "fp", "tn", "fn", "rows", "files", "detector")}
    print(json.dumps(out))
    print(json.dumps({"per_file": res["per_file"]}))
