"""ONNX Runtime vs numpy on every SKAB file, each family (fit on the first 400 rows).

OMP_NUM_THREADS=1 .venv/bin/python docs/research/skab-study-2/onnx_agreement.py
"""

import json
import time
from pathlib import Path

from factoryos.apps.maintenance.detectors import FAMILIES, export_check, fit_detector
from factoryos.bench.skab import N_TRAIN, SIGNALS, load_skab

DATA = Path("/work/shared/datasets/skab")

for family in FAMILIES:
    worst, rows, t_export = 0.0, 0, 0.0
    sizes = []
    for f in load_skab(DATA):
        det = fit_detector(family, f.raw[:N_TRAIN], SIGNALS)
        t0 = time.perf_counter()
        sizes.append(len(det.to_onnx()))
        t_export += time.perf_counter() - t0
        worst = max(worst, export_check(det, f.raw))
        rows += f.raw.shape[0] - det.window + 1
    print(
        json.dumps(
            {
                "family": family,
                "rows": rows,
                "max_abs_diff": worst,
                "onnx_bytes": max(sizes),
                "export_s": round(t_export, 3),
            }
        ),
        flush=True,
    )
