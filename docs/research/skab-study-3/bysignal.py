"""Per-signal synthetic-fault detection (% of faulty rows in alarm) at each variant's
calibrated factor (anomaly-free only).  python bysignal.py"""
import sys
from proto import Variant, calibrate, fault_rates_by_signal, load_free, pseudo_runs, reference_scores
from factoryos.bench.skab import SIGNALS

VARIANTS = {
    "base": Variant("base", ("x", "m30"), t0=29),
    "base tau b1.5": Variant("base tau b1.5", ("x", "m30"), t0=29, beta=1.5),
    "D400": Variant("D400", ("x-M400", "m30-M400")),
    "base tau b1.5 t10": Variant("base tau b1.5 t10", ("x", "m30"), t0=29, beta=1.5, tau0=10),
    "base tau b2.0 t30": Variant("base tau b2.0 t30", ("x", "m30"), t0=29, beta=2.0, tau0=30),
    "x,m10,m30 tau b2.0 t10": Variant("x,m10,m30 tau b2.0 t10", ("x", "m10", "m30"), t0=29, beta=2.0, tau0=10),
}
free = load_free()
fr = pseudo_runs(free, stride=100)
print("signals:", [s[:8] for s in SIGNALS])
for name in sys.argv[1:] or VARIANTS:
    v = VARIANTS[name]
    f, far = calibrate(reference_scores(v, pseudo_runs(free))[0])
    _, fits = reference_scores(v, fr)
    for kind in ("step2", "step4", "pstep4"):
        print(f"{name:15s} factor {f:7.3f} {kind:6s}", [round(r) for r in fault_rates_by_signal(v, f, fr, fits, kind)])
