"""Calibrate each family's horizon factor on SKAB anomaly-free data only (study 2).

Rule (fixed before any scored result of study 2; see DECLARED.txt): pseudo-runs of 1,150 rows
every STRIDE rows of anomaly-free.csv; fit on the first 400 rows with horizon factor 1, score the
other 750; the factor is the smallest grid value (0.5 … 50, 81 log-spaced points) whose pooled
share of rows in alarm after persistence K = 5 is ≤ FAR_TARGET. No labelled file is read.

    OMP_NUM_THREADS=1 .venv/bin/python docs/research/skab-study-2/calibrate.py [--data DIR]
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np

from factoryos.apps.maintenance.detectors import FAMILIES, DetectorConfig, fit_detector, persistence
from factoryos.apps.maintenance.detectors.calibration import FAR_TARGET
from factoryos.bench.skab import N_TRAIN, SIGNALS, read_skab_csv

RUN, STRIDE = 1150, 50
GRID = np.round(np.exp(np.linspace(np.log(0.5), np.log(50), 81)), 4)


def pseudo_run_scores(family: str, free: np.ndarray, cfg: DetectorConfig) -> list[np.ndarray]:
    out = []
    for start in range(0, free.shape[0] - RUN + 1, STRIDE):
        run = free[start : start + RUN]
        det = fit_detector(family, run[:N_TRAIN], SIGNALS, cfg)
        out.append(det.score(run[N_TRAIN - det.window + 1 :]))
    return out


def alarm_share(scores: list[np.ndarray], factor: float, k: int) -> float:
    on = sum(int(persistence(s / factor, k).sum()) for s in scores)
    return 100.0 * on / sum(s.size for s in scores)


def calibrate(scores: list[np.ndarray], k: int) -> tuple[float, float]:
    for factor in GRID:
        share = alarm_share(scores, float(factor), k)
        if share <= FAR_TARGET:
            return float(factor), share
    return float(GRID[-1]), share


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", type=Path, default=Path("/work/shared/datasets/skab"))
    ap.add_argument("--families", default=",".join(FAMILIES))
    ap.add_argument("--window", type=int, default=30)
    args = ap.parse_args()
    free = read_skab_csv(args.data / "anomaly-free" / "anomaly-free.csv", labelled=False).raw
    cfg = DetectorConfig(window=args.window, horizon_factor=1.0)
    for family in args.families.split(","):
        t0 = time.perf_counter()
        scores = pseudo_run_scores(family, free, cfg)
        factor, share = calibrate(scores, cfg.persistence_k)
        print(
            json.dumps(
                {
                    "family": family,
                    "window": cfg.window,
                    "runs": len(scores),
                    "horizon_factor": factor,
                    "reference_far": round(share, 2),
                    "seconds": round(time.perf_counter() - t0, 1),
                }
            ),
            flush=True,
        )


if __name__ == "__main__":
    main()
