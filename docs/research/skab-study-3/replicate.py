"""Replication of the synthetic-fault rates on the other stride-100 pseudo-runs (starts 50, 150,
…) with the opposite signs, at each variant's factor calibrated on all stride-50 runs."""
import json
import numpy as np
import proto
from proto import Variant, calibrate, load_free, pseudo_runs, reference_scores, FAULTS, inject, persist, N_TRAIN
from factoryos.bench.skab import SIGNALS

V = [
    Variant("base x,m30", ("x", "m30"), t0=29),
    Variant("base tau b1.5 t10", ("x", "m30"), t0=29, beta=1.5, tau0=10),
    Variant("base tau b2.0 t10", ("x", "m30"), t0=29, beta=2.0, tau0=10),
    Variant("base tau b2.0 t30", ("x", "m30"), t0=29, beta=2.0, tau0=30),
    Variant("x,m10,m30 tau b2.0 t10", ("x", "m10", "m30"), t0=29, beta=2.0, tau0=10),
    Variant("D400 x-M,m30-M", ("x-M400", "m30-M400")),
]
free = load_free()
runs = pseudo_runs(free, stride=100, lo=50)
for v in V:
    f, far = calibrate(reference_scores(v, pseudo_runs(free))[0])
    _, fits = reference_scores(v, runs)
    res = {}
    for kind in FAULTS:
        hit = tot = 0
        for r, (run, d) in enumerate(zip(runs, fits)):
            for sig in range(len(SIGNALS)):
                sign = -1.0 if (r + sig) % 2 == 0 else 1.0
                X, sl = inject(run, sig, kind, sign)
                al = persist(d.score(X)[N_TRAIN:] > f)[sl.start - N_TRAIN: sl.stop - N_TRAIN]
                hit += int(al.sum()); tot += al.size
        res[kind] = round(100 * hit / tot, 1)
    print(json.dumps({"variant": v.name, "factor": f, **res, "mean_fault": round(float(np.mean(list(res.values()))), 1)}), flush=True)
