"""Checks the prototype against the package on anomaly-free data only (label-free)."""
import numpy as np
from proto import Variant, fit, load_free, persist, pseudo_runs, reference_scores, calibrate, N_TRAIN
from factoryos.apps.maintenance.detectors import DetectorConfig, fit_detector, Persistence
from factoryos.bench.skab import SIGNALS

free = load_free()
rng = np.random.default_rng(0)
for _ in range(200):
    s = rng.normal(1, 1, rng.integers(1, 400))
    assert (persist(s > 1) == Persistence(5).run(s)).all()
print("persist ok")
v = Variant("base", ("x", "m30"), t0=29)
run = free[1000:2150]
d = fit(v, run[:N_TRAIN])
p = fit_detector("pca", run[:N_TRAIN], SIGNALS, DetectorConfig(horizon_factor=1.0))
a = d.score(run)[29:]
b = p.score(run)
print("max |proto - package| score:", np.abs(a - b).max(), "q", d.q, p.train_quantile)
sc, _ = reference_scores(v, pseudo_runs(free))
print("baseline factor, reference FAR:", calibrate(sc), "(package calibration.py: 9.9763)")
