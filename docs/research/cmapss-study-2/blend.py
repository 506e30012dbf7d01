"""Study 2: blends of saved out-of-fold predictions (training units only)."""

import sys

import numpy as np
from exp_features import DATA, cut_rmse

from factoryos.apps.maintenance.cmapss import load_subset

subset, a, b = sys.argv[1:4]
r = load_subset(DATA, subset).train
y = r.rul_targets()
pa, pb = np.load(f"oof_{subset}_{a}.npy"), np.load(f"oof_{subset}_{b}.npy")
for w in (1.0, 0.9, 0.8, 0.7, 0.5):
    print(subset, a, b, w, round(cut_rmse(w * pa + (1 - w) * pb, y, r.unit, r.cycle), 3))
