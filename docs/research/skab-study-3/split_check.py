"""Label-free check: does the split-half forecast inflation measured inside the training rows
(fit mean/sd on one half, rms z on the other, both ways) predict the spread of each feature on
the 750 scored rows (anomaly-free pseudo-runs)?"""
import numpy as np
from proto import Variant, fit, features, load_free, pseudo_runs, N_TRAIN
from factoryos.bench.skab import SIGNALS


def split_infl(f):
    n = f.shape[0]
    a, b = f[: n // 2], f[n // 2 :]
    def rms(x, y):
        return np.mean(((y - x.mean(0)) / np.maximum(x.std(0), 1e-12)) ** 2, axis=0)
    return np.sqrt(0.5 * (rms(a, b) + rms(b, a)))


free = load_free()
runs = pseudo_runs(free)
for blocks in (("x", "m30"), ("x-M400", "m30-M400"), ("x-M200", "m30-M200")):
    v = Variant("d", blocks, t0=29 if blocks[0] == "x" else None)
    act, pred = [], []
    for run in runs:
        d = fit(v, run[:N_TRAIN])
        F = features(run, blocks, d.kept)
        ftr = F[v.first_row():N_TRAIN]
        z = d.std(F)[N_TRAIN:]
        act.append(np.sqrt(np.mean(z**2, axis=0)))
        pred.append(split_infl(ftr))
    A, P = np.array(act), np.array(pred)
    print(blocks, "corr(log actual, log predicted):", round(np.corrcoef(np.log(A).ravel(), np.log(P).ravel())[0, 1], 3),
          " corr(log actual/pred... residual spread) sd log(A/P):", round(np.std(np.log(A / P)), 3), "vs sd log A:", round(np.std(np.log(A)), 3))
    k = len(SIGNALS)
    for i, b in enumerate(blocks):
        for j, s in enumerate(SIGNALS):
            c = i * k + j
            print(f"  {b:9s} {s:22s} actual rms median {np.median(A[:,c]):5.2f}  split-infl median {np.median(P[:,c]):5.2f}  corr {np.corrcoef(np.log(A[:,c]), np.log(P[:,c]))[0,1]:.2f}")
