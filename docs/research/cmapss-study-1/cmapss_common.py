"""Shared, subset-agnostic pieces of the C-MAPSS RUL study.

Nothing in here knows which subset it is working on: operating conditions are
found by clustering the three operational settings, sensors are selected by a
data-driven rule, and sensors are standardised per operating condition using
training statistics only.  The same code therefore runs unchanged on FD001-FD004.
"""
from __future__ import annotations

import gzip
import os
import time
from dataclasses import dataclass, field

import numpy as np
from sklearn.cluster import KMeans

RUL_CAP = 125.0
DATA_DIR = os.environ.get("CMAPSS_DATA", "/work/shared/datasets/cmapss")

# Physical tolerances for "same operating condition": altitude [kft], Mach [-],
# throttle resolver angle [deg].  The smallest k whose clusters are all tighter
# than this is chosen (k=1 for FD001/FD003, k=6 for FD002/FD004).
SETTING_TOL = np.array([0.5, 0.01, 1.0])
MAX_CONDITIONS = 10
MIN_UNIQUE = 10  # a sensor needs >= this many distinct values within a condition


# ----------------------------------------------------------------------------- io
def _read(path: str) -> np.ndarray:
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path = path + ".gz"
    if not os.path.exists(path) and path.endswith(".gz") and os.path.exists(path[:-3]):
        path = path[:-3]
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rt") as fh:
        rows = [line.split() for line in fh if line.strip()]
    return np.asarray(rows, dtype=np.float64)


def load_subset(subset: str, data_dir: str = DATA_DIR):
    train = _read(os.path.join(data_dir, f"train_{subset}.txt"))
    test = _read(os.path.join(data_dir, f"test_{subset}.txt"))
    rul = _read(os.path.join(data_dir, f"RUL_{subset}.txt")).reshape(-1)
    return train, test, rul


def train_targets(train: np.ndarray, cap: float = RUL_CAP) -> np.ndarray:
    units, cycles = train[:, 0], train[:, 1]
    last = {u: cycles[units == u].max() for u in np.unique(units)}
    rul = np.array([last[u] for u in units]) - cycles
    return np.minimum(rul, cap)


# ---------------------------------------------------------------- normalisation
@dataclass
class ConditionNormaliser:
    k: int = 1
    km: KMeans | None = None
    sensors: list[int] = field(default_factory=list)  # 0-based sensor indices (0..20)
    mean: np.ndarray | None = None  # (k, n_sensors)
    std: np.ndarray | None = None

    def fit(self, data: np.ndarray) -> "ConditionNormaliser":
        settings = data[:, 2:5]
        for k in range(1, MAX_CONDITIONS + 1):
            km = KMeans(n_clusters=k, n_init=10, random_state=0).fit(settings)
            lab = km.labels_
            spread = np.array([settings[lab == c].std(0) for c in range(k)])
            if np.all(spread <= SETTING_TOL):
                break
        self.k, self.km = k, km
        lab = km.labels_
        sens = data[:, 5:26]
        keep = []
        for j in range(21):
            uniq = [len(np.unique(sens[lab == c, j])) for c in range(k)]
            if np.median(uniq) >= MIN_UNIQUE:
                keep.append(j)
        self.sensors = keep
        self.mean = np.array([sens[lab == c][:, keep].mean(0) for c in range(k)])
        self.std = np.array([sens[lab == c][:, keep].std(0) for c in range(k)])
        self.std[self.std < 1e-12] = 1.0
        return self

    def condition(self, data: np.ndarray) -> np.ndarray:
        return self.km.predict(data[:, 2:5])

    def transform(self, data: np.ndarray) -> np.ndarray:
        lab = self.condition(data)
        sens = data[:, 5:26][:, self.sensors]
        return (sens - self.mean[lab]) / self.std[lab]


def split_units(data: np.ndarray, values: np.ndarray):
    """Yield (unit, rows-of-values) in file order."""
    units = data[:, 0]
    for u in np.unique(units):
        idx = np.where(units == u)[0]
        yield u, idx, values[idx]


# ------------------------------------------------------------------- metrics
def rmse(pred, true) -> float:
    d = np.asarray(pred, float) - np.asarray(true, float)
    return float(np.sqrt(np.mean(d ** 2)))


def phm08_score(pred, true) -> float:
    d = np.asarray(pred, float) - np.asarray(true, float)
    return float(np.sum(np.where(d < 0, np.exp(-d / 13.0) - 1.0, np.exp(d / 10.0) - 1.0)))


def last_rows(data: np.ndarray) -> np.ndarray:
    """Index of the last cycle of every unit (unit order)."""
    units = data[:, 0]
    return np.array([np.where(units == u)[0][-1] for u in np.unique(units)])


def grouped_folds(units: np.ndarray, n_folds: int = 5, seed: int = 0):
    """Grouped k-fold over engine units (deterministic)."""
    uu = np.unique(units)
    rng = np.random.RandomState(seed)
    perm = rng.permutation(uu)
    for f in range(n_folds):
        val_units = perm[f::n_folds]
        val = np.isin(units, val_units)
        yield np.where(~val)[0], np.where(val)[0]


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *a):
        self.s = time.perf_counter() - self.t0
