# ruff: noqa
# Prototype of study 2, kept as it was run (reformatted only); reads /work/shared/datasets/skab.
import numpy as np
from load import *
from pca import *

F = files()


def run(mk, C, k=5):
    TP = FP = TN = FN = 0
    for _, X, y in F:
        d = mk().fit(X[:400])
        q = np.quantile(d.train_scores, 0.99)
        p = persist(d.score(X) > C * q, k)[400:]
        t = y[400:]
        TP += (p & t).sum()
        FP += (p & ~t).sum()
        TN += (~p & ~t).sum()
        FN += (~p & t).sum()
    return (
        round(TP / (TP + (FP + FN) / 2), 4),
        round(100 * FP / (FP + TN), 2),
        round(100 * FN / (FN + TP), 2),
    )


if __name__ == "__main__":
    print("R2 lag30 C=7.9245", run(lambda: PCA(30), 7.9245))
