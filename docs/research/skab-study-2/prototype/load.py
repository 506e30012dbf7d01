# ruff: noqa
# Prototype of study 2, kept as it was run (reformatted only); reads /work/shared/datasets/skab.
import csv
import glob
import os

import numpy as np

SIG = [
    "Accelerometer1RMS",
    "Accelerometer2RMS",
    "Current",
    "Pressure",
    "Temperature",
    "Thermocouple",
    "Voltage",
    "Volume Flow RateRMS",
]
D = "/work/shared/datasets/skab"


def read(p, lab=True):
    r = list(csv.reader(open(p), delimiter=";"))
    h = [x.strip() for x in r[0]]
    idx = [h.index(s) for s in SIG]
    rows = sorted(r[1:], key=lambda x: x[0])
    X = np.array([[float(x[i]) for i in idx] for x in rows])
    y = np.array([float(x[h.index("anomaly")]) > 0.5 for x in rows]) if lab else None
    return X, y


def files(d=D):
    out = []
    for f in sorted(glob.glob(d + "/**/*.csv", recursive=True)):
        if "anomaly-free" in f:
            continue
        X, y = read(f)
        out.append((os.path.relpath(f, d), X, y))
    return out


def af(d=D, L=1150):
    X, _ = read(d + "/anomaly-free/anomaly-free.csv", False)
    return [X[i : i + L] for i in range(0, len(X) - L + 1, L)]
