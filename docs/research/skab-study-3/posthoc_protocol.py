"""POST HOC (after the declared run; reads the scored labels). Does the label-free selection
protocol (synthetic faults at 20 % reference FAR) rank variants the way the scored files do?
Each variant is scored at ITS OWN factor calibrated label-free (study-2 grid, anomaly-free only).
Diagnostic only: no variant here is a result or a candidate chosen on these numbers."""
import json
from pathlib import Path

import numpy as np

from factoryos.apps.maintenance.detectors import persistence
from factoryos.bench.skab import N_TRAIN, counts, load_skab, pooled_metrics

import proto
from proto import Variant

V = [
    Variant("base x,m30", ("x", "m30"), t0=29),
    Variant("base tau b1.5 t10 (declared)", ("x", "m30"), t0=29, beta=1.5, tau0=10),
    Variant("base tau b2.0 t30", ("x", "m30"), t0=29, beta=2.0, tau0=30),
    Variant("x,m10,m30 tau b1.5 t10 q.5", ("x", "m10", "m30"), t0=29, beta=1.5, tau0=10, quantile=0.5),
    Variant("D200 x-M,m30-M", ("x-M200", "m30-M200")),
    Variant("D400 x-M,m30-M", ("x-M400", "m30-M400")),
    Variant("B400 x,m30,x-M,m30-M", ("x", "m30", "x-M400", "m30-M400")),
]
files = load_skab(Path("/work/shared/datasets/skab"))
free = proto.load_free()
runs = proto.pseudo_runs(free)
for v in V:
    f, far = proto.calibrate(proto.reference_scores(v, runs)[0])
    tot = {"tp": 0, "fp": 0, "tn": 0, "fn": 0}
    for F in files:
        d = proto.fit(v, F.raw[:N_TRAIN])
        s = d.score(F.raw)[N_TRAIN:]
        for k, c in counts(F.anomaly[N_TRAIN:], persistence(s / f, 5)).items():
            tot[k] += c
    m = pooled_metrics(tot)
    print(json.dumps({"variant": v.name, "factor": f, "ref_far": round(far, 1),
                      "f1": round(m["f1"], 3), "far": round(m["far"], 1), "mar": round(m["mar"], 1)}), flush=True)
