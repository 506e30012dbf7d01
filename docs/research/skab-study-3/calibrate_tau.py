"""Calibrate the horizon factor of the study-3 rule (tau-inflated standardisation) per family on
SKAB anomaly-free data only, with study 2's rule (calibrate.py): pseudo-runs of 1,150 rows every
50 rows, fit 400 / score 750 with factor 1, smallest factor of the 81-point log grid 0.5…50 whose
pooled share of rows in alarm after persistence K = 5 is ≤ FAR_TARGET (20 %). Also checks that the
package-based detector agrees with the prototype (proto.py) and its ONNX export.

    OMP_NUM_THREADS=1 .venv/bin/python docs/research/skab-study-3/calibrate_tau.py [families]
"""
import json
import sys
import time

import numpy as np

from factoryos.apps.maintenance.detectors import export_check, persistence
from factoryos.apps.maintenance.detectors.calibration import FAR_TARGET
from factoryos.bench.skab import N_TRAIN, SIGNALS

import proto
from tau_detector import fit_tau_detector

GRID = np.round(np.exp(np.linspace(np.log(0.5), np.log(50), 81)), 4)
RUN, STRIDE = 1150, 50


def scores(family, free):
    out = []
    for s in range(0, free.shape[0] - RUN + 1, STRIDE):
        run = free[s : s + RUN]
        det = fit_tau_detector(family, run[:N_TRAIN], SIGNALS, horizon_factor=1.0)
        out.append(det.score(run[N_TRAIN - det.window + 1 :]))
    return out


def main():
    free = proto.load_free()
    fams = sys.argv[1].split(",") if len(sys.argv) > 1 else ["pca", "gmm", "autoencoder"]
    # agreement with the prototype variant that was selected
    v = proto.Variant("base tau b1.5 t10", ("x", "m30"), t0=29, beta=1.5, tau0=10)
    run = free[3000:4150]
    a = proto.fit(v, run[:N_TRAIN]).score(run)[N_TRAIN:]
    det = fit_tau_detector("pca", run[:N_TRAIN], SIGNALS, horizon_factor=1.0)
    b = det.score(run[N_TRAIN - 29 :])
    print(json.dumps({"check": "prototype vs package-based pca score", "max_abs_diff": float(np.abs(a - b).max())}))
    print(json.dumps({"check": "ONNX vs numpy (pca)", "max_abs_diff": export_check(det, run)}))
    for fam in fams:
        t0 = time.perf_counter()
        sc = scores(fam, free)
        share = float("nan")
        for f in GRID:
            share = 100.0 * sum(int(persistence(s / f, 5).sum()) for s in sc) / sum(s.size for s in sc)
            if share <= FAR_TARGET:
                break
        print(json.dumps({"family": fam, "runs": len(sc), "horizon_factor": float(f),
                          "reference_far": round(share, 2), "seconds": round(time.perf_counter() - t0, 1)}), flush=True)


if __name__ == "__main__":
    main()
