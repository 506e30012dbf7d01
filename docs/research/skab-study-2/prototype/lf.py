# ruff: noqa
# Prototype of study 2, kept as it was run (reformatted only); reads /work/shared/datasets/skab.
# label-free only: FAR-vs-C on anomaly-free (8 disjoint / stride-50 pseudo files) and train-cv
import numpy as np
from load import *
from pca import *

Xaf, _ = read(D + "/anomaly-free/anomaly-free.csv", False)
F = files()
grid = np.round(np.exp(np.linspace(np.log(0.5), np.log(50), 81)), 4)


def curves(mk, k=5):
    sets = {}
    for name, stride in (("af8", 1150), ("af50", 50)):
        sc = []
        for i in range(0, len(Xaf) - 1150 + 1, stride):
            X = Xaf[i : i + 1150]
            d = mk().fit(X[:400])
            sc.append((d.score(X)[400:], np.quantile(d.train_scores, 0.99)))
        sets[name] = sc
    sc = []
    for _, X, _ in F:
        d = mk().fit(X[:200])
        sc.append((d.score(X[:400])[200:], np.quantile(d.train_scores, 0.99)))
    sets["cv"] = sc
    res = {}
    for n, sc in sets.items():
        res[n] = [
            100 * sum(persist(s > C * q, k).sum() for s, q in sc) / sum(len(s) for s, _ in sc)
            for C in grid
        ]
    return res


def cfor(curve, t):
    for C, f in zip(grid, curve):
        if f <= t:
            return C


if __name__ == "__main__":
    V = {
        "lag10": lambda: PCA(10),
        "lag30": lambda: PCA(30),
        "mean10": lambda: PCA(10, raw=False),
        "mean30": lambda: PCA(30, raw=False),
    }
    for v, mk in V.items():
        r = curves(mk)
        print(v, {n: (cfor(c, 20), cfor(c, 10)) for n, c in r.items()}, flush=True)
