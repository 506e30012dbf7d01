# ruff: noqa
# Prototype of study 2, kept as it was run (reformatted only); reads /work/shared/datasets/skab.
# label-free variant selection: synthetic faults injected in anomaly-free pseudo-files
import numpy as np
from lf import Xaf, cfor, curves
from load import *
from pca import *

V = {
    "lag30sum": lambda: PCA(30, comb="sum"),
    "lag60": lambda: PCA(60),
    "lag30var95": lambda: PCA(30, var=0.95),
}
for v, mk in V.items():
    C = cfor(curves(mk)["af50"], 20)
    rec = {}
    for kind in ("step2", "step4", "ramp6"):
        hit = tot = 0
        for j, i in enumerate(range(0, len(Xaf) - 1150 + 1, 100)):
            X = Xaf[i : i + 1150].copy()
            d = mk().fit(X[:400])
            q = np.quantile(d.train_scores, 0.99)
            sig = j % 8
            sd = X[:400, sig].std()
            m = float(kind[-1])
            prof = np.full(300, m) if kind.startswith("step") else np.linspace(0, m, 300)
            X[700:1000, sig] += prof * sd
            al = persist(d.score(X) > C * q, 5)[700:1000]
            hit += al.sum()
            tot += 300
        rec[kind] = round(100 * hit / tot, 1)
    print(v, "C", C, rec, flush=True)
