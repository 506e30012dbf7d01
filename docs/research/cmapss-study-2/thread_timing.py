"""Study 2: one final-config booster on FD001 with 1 vs 2 LightGBM threads (wall and CPU time),
and whether the predictions are identical across thread counts."""

import time

import lightgbm as lgb
import numpy as np

from factoryos.apps.maintenance.cmapss import load_subset
from factoryos.apps.maintenance.rul import RulConfig, fit_scaler
from factoryos.apps.maintenance.rul.features import all_features

s = load_subset("/work/shared/datasets/cmapss", "FD001")
r = s.train
sc = fit_scaler(r.settings, r.sensors)
x = all_features(
    sc.transform(r.settings, r.sensors), sc.condition(r.settings), r.unit, 1, RulConfig().features
)
y = r.rul_targets()
w = np.where(y >= 125, 0.5, 1.0)
preds = {}
for threads in (1, 2):
    cfg = RulConfig(threads=threads)
    t0, c0 = time.perf_counter(), time.process_time()
    b = lgb.train(cfg.lightgbm_params(0), lgb.Dataset(x, y, weight=w), cfg.rounds)
    print(
        threads,
        "threads: wall",
        round(time.perf_counter() - t0, 1),
        "cpu",
        round(time.process_time() - c0, 1),
        flush=True,
    )
    preds[threads] = b.predict(x)
print("max |1 thread - 2 threads|", float(np.max(np.abs(preds[1] - preds[2]))))
