"""Label-free variant comparison (anomaly-free data + synthetic faults only).

For each variant: horizon factor calibrated to FAR_TARGET = 20 % on all stride-50 pseudo-runs
(fit 400 / score 750, K = 5, log grid 0.5…50, as study 2); transfer check: factor calibrated on
the runs inside one half of the recording, alarm share on the other half; synthetic faults
injected into stride-100 pseudo-runs, every signal, sign alternating: share of faulty rows in
alarm.   OMP_NUM_THREADS=1 python study.py [variant-set]  → study.log (JSON lines)
"""
import json
import sys
import time

import numpy as np
from proto import (FAULTS, calibrate_fine, Variant, alarm_share, calibrate, fault_rates, load_free, pseudo_runs,
                   reference_scores)

SETS = {
    "a": [
        Variant("base x,m30", ("x", "m30"), t0=29),
        Variant("base x,m30 sum", ("x", "m30"), t0=29, combine="sum"),
        *[Variant(f"D{W} x-M,m30-M", (f"x-M{W}", f"m30-M{W}")) for W in (120, 200, 300, 400)],
        *[Variant(f"B{W} x,m30,x-M,m30-M", ("x", "m30", f"x-M{W}", f"m30-M{W}"))
          for W in (200, 300, 400)],
        *[Variant(f"L{W} x-M,m30-L", (f"x-M{W}", f"m30-L{W}")) for W in (200, 400)],
    ],
    "b": [
        *[Variant(f"base tau b{b}", ("x", "m30"), t0=29, beta=b) for b in (0.5, 1.0, 1.5)],
        *[Variant(f"D400 tau b{b}", ("x-M400", "m30-M400"), beta=b) for b in (0.5, 1.0)],
        *[Variant(f"B400 tau b{b}", ("x", "m30", "x-M400", "m30-M400"), beta=b) for b in (0.5, 1.0)],
    ],
    "c": [
        Variant("base tau b2.0", ("x", "m30"), t0=29, beta=2.0),
        Variant("base tau b1.5 t10", ("x", "m30"), t0=29, beta=1.5, tau0=10),
        Variant("base tau b1.0 t10", ("x", "m30"), t0=29, beta=1.0, tau0=10),
        Variant("base tau b1.5 sum", ("x", "m30"), t0=29, beta=1.5, combine="sum"),
        Variant("base tau b1.5 v95", ("x", "m30"), t0=29, beta=1.5, var_keep=0.95),
        Variant("B400 tau b1.5", ("x", "m30", "x-M400", "m30-M400"), beta=1.5),
        Variant("B400 tau b2.0", ("x", "m30", "x-M400", "m30-M400"), beta=2.0),
        Variant("B200 tau b1.5", ("x", "m30", "x-M200", "m30-M200"), beta=1.5),
        Variant("x,m30,m30-M400 tau b1.5", ("x", "m30", "m30-M400"), beta=1.5),
        Variant("x,m30,m30-M400", ("x", "m30", "m30-M400")),
        Variant("m30,x-M400 tau b1.5", ("m30", "x-M400"), beta=1.5),
        Variant("D400 tau b1.5", ("x-M400", "m30-M400"), beta=1.5),
    ],
    "d": [
        *[Variant(f"base tau b{b} t{t}", ("x", "m30"), t0=29, beta=b, tau0=t)
          for t in (3, 10) for b in (1.0, 1.5, 2.0, 2.5) if (t, b) not in ((10, 1.0), (10, 1.5))],
        Variant("base tau b2.0 t10 sum", ("x", "m30"), t0=29, beta=2.0, tau0=10, combine="sum"),
        Variant("B400 tau b2.0 t10", ("x", "m30", "x-M400", "m30-M400"), beta=2.0, tau0=10),
        Variant("D400 tau b2.0 t10", ("x-M400", "m30-M400"), beta=2.0, tau0=10),
        Variant("x,m10,m30 tau b2.0 t10", ("x", "m10", "m30"), t0=29, beta=2.0, tau0=10),
        Variant("x,m30,m120 tau b2.0 t10", ("x", "m30", "m120"), t0=119, beta=2.0, tau0=10),
    ],
    "e": [
        Variant("base x,m30", ("x", "m30"), t0=29),
        Variant("base tau b1.5 t10", ("x", "m30"), t0=29, beta=1.5, tau0=10),
        Variant("base tau b1.5 t10 q.95", ("x", "m30"), t0=29, beta=1.5, tau0=10, quantile=0.95),
        Variant("base tau b1.5 t10 q.5", ("x", "m30"), t0=29, beta=1.5, tau0=10, quantile=0.5),
        Variant("base tau b1.5 t10 noq", ("x", "m30"), t0=29, beta=1.5, tau0=10, quantile=None),
        Variant("base tau b1.5 t10 v80", ("x", "m30"), t0=29, beta=1.5, tau0=10, var_keep=0.8),
        Variant("base tau b1.5 t10 robust", ("x", "m30"), t0=29, beta=1.5, tau0=10, robust=True),
        Variant("x,m10,m30 tau b2.0 t10", ("x", "m10", "m30"), t0=29, beta=2.0, tau0=10),
        Variant("x,m10,m30 tau b1.5 t10", ("x", "m10", "m30"), t0=29, beta=1.5, tau0=10),
        Variant("x,m10,m30 tau b2.0 t10 sum", ("x", "m10", "m30"), t0=29, beta=2.0, tau0=10, combine="sum"),
    ],
    "f": [
        Variant("base x,m30", ("x", "m30"), t0=29),
        Variant("base x,m30 q.5", ("x", "m30"), t0=29, quantile=0.5),
        Variant("D400 x-M,m30-M", ("x-M400", "m30-M400")),
        Variant("B400 x,m30,x-M,m30-M", ("x", "m30", "x-M400", "m30-M400")),
        *[Variant(f"base tau b{b} t{t}", ("x", "m30"), t0=29, beta=b, tau0=t)
          for t, b in ((10, 1.0), (10, 1.5), (10, 2.0), (30, 1.5), (30, 2.0), (3, 1.0))],
        *[Variant(f"base tau b{b} t{t} q.5", ("x", "m30"), t0=29, beta=b, tau0=t, quantile=0.5)
          for t, b in ((10, 1.0), (10, 1.5), (10, 2.0), (30, 2.0))],
        Variant("base tau b1.5 t10 noq", ("x", "m30"), t0=29, beta=1.5, tau0=10, quantile=None),
        Variant("x,m10,m30 tau b1.5 t10", ("x", "m10", "m30"), t0=29, beta=1.5, tau0=10),
        Variant("x,m10,m30 tau b1.5 t10 q.5", ("x", "m10", "m30"), t0=29, beta=1.5, tau0=10, quantile=0.5),
        Variant("B400 tau b1.5 t10", ("x", "m30", "x-M400", "m30-M400"), beta=1.5, tau0=10),
        Variant("D400 tau b1.5 t10", ("x-M400", "m30-M400"), beta=1.5, tau0=10),
    ],
    "g": [Variant("x,m10,m30 tau b1.5 t10 q.5", ("x", "m10", "m30"), t0=29, beta=1.5, tau0=10, quantile=0.5)],
}


def evaluate(v: Variant, free: np.ndarray, fine: bool = False) -> dict:
    cal = calibrate_fine if fine else calibrate
    t0 = time.perf_counter()
    runs = pseudo_runs(free)
    sc, _ = reference_scores(v, runs)
    factor, far = cal(sc)
    half = free.shape[0] // 2
    ra, rb = pseudo_runs(free, hi=half), pseudo_runs(free, lo=half)
    sa, _ = reference_scores(v, ra)
    sb, _ = reference_scores(v, rb)
    fa, _ = cal(sa)
    fb, _ = cal(sb)
    fruns = pseudo_runs(free, stride=100)
    _, fits = reference_scores(v, fruns)
    rates = fault_rates(v, factor, fruns, fits)
    return {
        "variant": v.name, "blocks": v.blocks, "combine": v.combine, "window": v.window,
        "t0": v.first_row(), "grid": "fine" if fine else "study-2", "factor": round(factor, 4), "ref_far": round(far, 2),
        "factor_A": fa, "factor_B": fb,
        "far_B_at_A": round(alarm_share(sb, fa), 1), "far_A_at_B": round(alarm_share(sa, fb), 1),
        **{k: round(r, 1) for k, r in rates.items()},
        "mean_fault": round(float(np.mean([r for k, r in rates.items() if k in FAULTS])), 1),
        "s": round(time.perf_counter() - t0, 1),
    }


if __name__ == "__main__":
    free = load_free()
    fine = "--fine" in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or ["a"]
    for name in names:
        for v in SETS[name]:
            print(json.dumps(evaluate(v, free, fine)), flush=True)
