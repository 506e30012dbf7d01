"""Label-free diagnosis on anomaly-free pseudo-runs: rms of each z-scored feature on the 750
scored rows (1.0 = as in training), per signal and block, and by position in the run."""
import sys
import numpy as np
from proto import Variant, fit, features, load_free, pseudo_runs, N_TRAIN
from factoryos.bench.skab import SIGNALS

free = load_free()
runs = pseudo_runs(free)
for blocks in (("x", "m30"), ("x-M400", "m30-M400"), ("x-M200", "m30-M200")):
    v = Variant("d", blocks, t0=29 if blocks[0] == "x" else None)
    zs = []
    for run in runs:
        d = fit(v, run[:N_TRAIN])
        zs.append(d.std(features(run, blocks, d.kept))[N_TRAIN:])
    Z = np.stack(zs)  # runs, 750, m
    rms = np.sqrt(np.nanmean(Z**2, axis=(0, 1)))
    print(blocks)
    k = len(SIGNALS)
    for j, s in enumerate(SIGNALS):
        print(f"  {s:22s}", "  ".join(f"{b}: rms {rms[i*k+j]:6.2f} p99|z| {np.quantile(np.abs(Z[:,:,i*k+j]),0.99):6.2f}" for i, b in enumerate(blocks)))
    pos = np.sqrt(np.mean(Z**2, axis=(0, 2)))
    print("  rms over all features by scored-row position (0,150,300,450,600,749):", [round(pos[i], 2) for i in (0, 150, 300, 450, 600, 749)])
