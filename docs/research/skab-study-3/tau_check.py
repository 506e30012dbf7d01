"""Label-free check: is the out-of-sample spread of a feature predicted by its integrated
autocorrelation time tau in the training rows (anomaly-free pseudo-runs)?"""
import numpy as np
from proto import Variant, fit, features, load_free, pseudo_runs, N_TRAIN
from factoryos.bench.skab import SIGNALS


def tau(f, maxlag=None):
    """Integrated autocorrelation time per column, initial positive sequence (sum until the
    first non-positive autocorrelation), lag ≤ n/4."""
    n = f.shape[0]
    maxlag = maxlag or n // 4
    x = f - f.mean(0)
    v = (x**2).mean(0)
    out = np.ones(f.shape[1])
    alive = np.ones(f.shape[1], bool)
    for k in range(1, maxlag + 1):
        r = (x[k:] * x[:-k]).sum(0) / n / np.maximum(v, 1e-300)
        alive &= r > 0
        out += 2 * np.where(alive, r, 0.0)
    return out


free = load_free()
runs = pseudo_runs(free, stride=100)
for blocks in (("x", "m30"), ("x-M400", "m30-M400")):
    v = Variant("d", blocks, t0=29 if blocks[0] == "x" else None)
    A, T = [], []
    for run in runs:
        d = fit(v, run[:N_TRAIN])
        F = features(run, blocks, d.kept)
        z = d.std(F)[N_TRAIN:]
        A.append(np.sqrt(np.mean(z**2, axis=0)))
        T.append(tau(F[v.first_row():N_TRAIN]))
    A, T = np.array(A), np.array(T)
    la, lt = np.log(A).ravel(), np.log(T).ravel()
    beta, c = np.polyfit(lt, la, 1)
    print(blocks, f"corr {np.corrcoef(la, lt)[0,1]:.3f}  log rms = {c:.3f} + {beta:.3f} log tau;  sd resid {np.std(la - c - beta*lt):.3f} vs sd {np.std(la):.3f}")
    k = len(SIGNALS)
    for i, b in enumerate(blocks):
        for j, s in enumerate(SIGNALS):
            cc = i * k + j
            print(f"  {b:9s} {s:22s} rms median {np.median(A[:,cc]):5.2f}  tau median {np.median(T[:,cc]):7.1f}")
