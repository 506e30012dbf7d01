"""Label-free check: does variance growth inside the training rows predict how much larger a
feature's spread is on the 750 scored rows (anomaly-free pseudo-runs)?"""
import numpy as np
from proto import Variant, fit, features, load_free, pseudo_runs, N_TRAIN
from factoryos.bench.skab import SIGNALS


def growth(f, H):
    n = f.shape[0]
    Ls = [n // 8, n // 4, n // 2, n]
    V = []
    for L in Ls:
        nb = n // L
        blocks = f[n - nb * L:].reshape(nb, L, -1)
        V.append(blocks.var(axis=1).mean(axis=0))
    V = np.array(V)  # (4, m)
    lv = np.log(np.maximum(V, 1e-300))
    ll = np.log(Ls)
    h = np.polyfit(ll, lv, 1)[0]
    h = np.clip(h, 0, 2)
    return np.sqrt((H / n) ** h)


free = load_free()
runs = pseudo_runs(free)
for blocks in (("x", "m30"), ("x-M400", "m30-M400")):
    v = Variant("d", blocks, t0=29 if blocks[0] == "x" else None)
    act, pred = [], []
    for run in runs:
        d = fit(v, run[:N_TRAIN])
        F = features(run, blocks, d.kept)
        ftr = F[v.first_row():N_TRAIN]
        z = d.std(F)[N_TRAIN:]
        act.append(np.sqrt(np.mean(z**2, axis=0)))
        pred.append(growth(ftr, 1150))
    A, P = np.array(act), np.array(pred)
    print(blocks, "corr(log actual, log predicted) over runs×features:",
          round(np.corrcoef(np.log(A).ravel(), np.log(P).ravel())[0, 1], 3))
    k = len(SIGNALS)
    for i, b in enumerate(blocks):
        for j, s in enumerate(SIGNALS):
            c = i * k + j
            print(f"  {b:9s} {s:22s} actual rms median {np.median(A[:,c]):5.2f}  predicted median {np.median(P[:,c]):5.2f}  corr {np.corrcoef(np.log(A[:,c]), np.log(P[:,c]))[0,1]:.2f}")
