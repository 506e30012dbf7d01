"""Study 3 prototype: drift-insensitive causal window features for the SKAB detector.

Label-free by construction: this module reads only the SKAB anomaly-free recording (the scored
files are read by score_declared.py, after DECLARED.txt was written).

A variant = a list of feature blocks per signal, a core (PCA T²/Q from the package), a way to
combine T² and Q, and a training-row start. Feature blocks (t = row index, x = one raw signal,
mean_a..b = mean of rows a..b inclusive, every block is a linear causal filter of x):

    "x"          x_t                                      (current value)
    "mS"         mean_{t-S+1..t}                          (short causal mean, S = 30 as now)
    "x-MW"       x_t − mean_{t-W+1..t}                    (value minus its long causal mean)
    "mS-MW"      mean_{t-S+1..t} − mean_{t-W+1..t}        (short minus long mean)
    "mS-LW"      mean_{t-S+1..t} − mean_{t-W+1..t-S}      (short mean minus the preceding long mean)

Training rows (the file's first 400 rows) use partial windows where the window reaches before
row 0 (mean over the rows that exist, at least 1); only rows t ≥ ``t0`` are fitted on. Scored
rows (t ≥ 400) always have full windows as long as the longest window W ≤ 401, so the scorer is
a pure function of the last W rows.
"""

# ruff: noqa: E741
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from factoryos.apps.maintenance.detectors.features import Standardiser, check_training
from factoryos.apps.maintenance.detectors.pca import PcaCore
from factoryos.bench.skab import N_TRAIN, SIGNALS, read_skab_csv

DATA = Path("/work/shared/datasets/skab")
RUN, STRIDE = 1150, 50
GRID = np.round(np.exp(np.linspace(np.log(0.5), np.log(50), 81)), 4)
FAR_TARGET = 20.0  # = factoryos.apps.maintenance.detectors.calibration.FAR_TARGET, unchanged
K = 5


def load_free() -> np.ndarray:
    return read_skab_csv(DATA / "anomaly-free" / "anomaly-free.csv", labelled=False).raw


# ---------------------------------------------------------------- features
def _csum(x: np.ndarray) -> np.ndarray:
    c = np.zeros((x.shape[0] + 1, x.shape[1]))
    np.cumsum(x, axis=0, out=c[1:])
    return c


def _mean(c: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Mean of rows lo..hi inclusive (per row t), from the cumulative sum c; lo clipped at 0."""
    lo = np.maximum(lo, 0)
    n = (hi - lo + 1)[:, None]
    return (c[hi + 1] - c[lo]) / n


def block(x: np.ndarray, c: np.ndarray, name: str) -> np.ndarray:
    t = np.arange(x.shape[0])
    if name == "x":
        return x.copy()
    m = re.fullmatch(r"m(\d+)", name)
    if m:
        S = int(m[1])
        return _mean(c, t - S + 1, t)
    m = re.fullmatch(r"x-M(\d+)", name)
    if m:
        W = int(m[1])
        return x - _mean(c, t - W + 1, t)
    m = re.fullmatch(r"m(\d+)-M(\d+)", name)
    if m:
        S, W = int(m[1]), int(m[2])
        return _mean(c, t - S + 1, t) - _mean(c, t - W + 1, t)
    m = re.fullmatch(r"m(\d+)-L(\d+)", name)
    if m:
        S, W = int(m[1]), int(m[2])
        hi = np.maximum(t - S, 0)
        return _mean(c, t - S + 1, t) - _mean(c, t - W + 1, hi)
    raise ValueError(name)


def longest(name: str) -> int:
    return max(int(v) for v in re.findall(r"\d+", name)) if re.search(r"\d", name) else 1


def features(raw: np.ndarray, blocks: tuple[str, ...], kept: tuple[int, ...]) -> np.ndarray:
    """(n, len(blocks)·len(kept)) features of every row of ``raw`` (partial windows at the start)."""
    x = raw[:, list(kept)]
    c = _csum(x)
    return np.hstack([block(x, c, b) for b in blocks])


# ---------------------------------------------------------------- persistence (vectorised)
def persist(above: np.ndarray, k: int = K) -> np.ndarray:
    """Same alarm states as factoryos Persistence(k).run on finite scores (checked in selftest)."""
    a = above.astype(np.int8)
    n = a.size
    if n == 0:
        return np.zeros(0, bool)
    # run lengths of equal values
    change = np.flatnonzero(np.diff(a)) + 1
    starts = np.concatenate(([0], change))
    idx = np.arange(n)
    runstart = starts[np.searchsorted(starts, idx, side="right") - 1]
    runlen = idx - runstart + 1
    ev = np.zeros(n, np.int8)
    ev[(a == 1) & (runlen == k)] = 1
    ev[(a == 0) & (runlen == k)] = -1
    pos = np.where(ev != 0, idx, -1)
    last = np.maximum.accumulate(pos)
    out = np.zeros(n, bool)
    ok = last >= 0
    out[ok] = ev[last[ok]] == 1
    return out


# ---------------------------------------------------------------- detector
@dataclass
class Variant:
    name: str
    blocks: tuple[str, ...] = ("x", "m30")
    combine: str = "max"  # max(T²/lim, Q/lim) as the package; "sum": T²/lim + Q/lim
    t0: int | None = None  # first fitted row; None: longest window − 1, capped at T0_CAP
    var_keep: float = 0.90
    alpha: float = 0.01
    quantile: float | None = 0.99  # None: no training-quantile scaling (q = 1)
    robust: bool = False  # sd from the MAD (1.4826·MAD) instead of the standard deviation
    beta: float = 0.0  # > 0: inflate each feature's sd by max(1, tau_j / tau0) ** beta
    tau0: float = 30.0
    extra: dict = field(default_factory=dict)

    @property
    def window(self) -> int:
        return max(longest(b) for b in self.blocks)

    def first_row(self) -> int:
        if self.t0 is not None:
            return self.t0
        return min(self.window - 1, T0_CAP)


T0_CAP = 150  # fit on at least 250 of the 400 training rows


@dataclass
class Fitted:
    v: Variant
    kept: tuple[int, ...]
    std: Standardiser
    core: PcaCore
    q: float

    def stat(self, raw: np.ndarray) -> np.ndarray:
        """Statistic of every row of raw (rows before window-1 use partial windows)."""
        z = self.std(features(raw, self.v.blocks, self.kept))
        return _stat(self.core, z, self.v.combine)

    def score(self, raw: np.ndarray) -> np.ndarray:
        return self.stat(raw) / self.q


def _stat(core: PcaCore, z: np.ndarray, combine: str) -> np.ndarray:
    t = z @ core.loadings
    resid = z - t @ core.loadings.T
    t2 = np.sum(t**2 / core.eigenvalues, axis=1) / core.t2_ucl
    q = np.sum(resid**2, axis=1) / core.q_ucl
    if combine == "max":
        return np.maximum(t2, q)
    if combine == "sum":
        return t2 + q
    raise ValueError(combine)


def fit(v: Variant, train: np.ndarray) -> Fitted:
    _, kept = check_training(train, SIGNALS, 30)
    f = features(train, v.blocks, kept)[v.first_row() :]
    std = Standardiser.fit(f)
    if v.robust:
        med = np.median(f, axis=0)
        mad = 1.4826 * np.median(np.abs(f - med), axis=0)
        std = Standardiser(med, np.maximum(mad, std.sd * 1e-3))
    if v.beta > 0:
        infl = np.maximum(1.0, tau(f) / v.tau0) ** v.beta
        std = Standardiser(std.mean, std.sd * infl)
    z = std(f)
    core = PcaCore.fit(z, v.var_keep, v.alpha)
    stat = _stat(core, z, v.combine)
    q = 1.0 if v.quantile is None else max(float(np.quantile(stat, v.quantile)), np.finfo(float).tiny)
    return Fitted(v, kept, std, core, q)


def tau(f: np.ndarray, maxlag: int | None = None) -> np.ndarray:
    """Integrated autocorrelation time of each column of f (rows in time order): 1 + 2·Σ ρ_k
    over lags 1 … until the first non-positive ρ_k (initial positive sequence), k ≤ n/4."""
    n = f.shape[0]
    maxlag = maxlag or n // 4
    x = f - f.mean(0)
    v = np.maximum((x**2).mean(0), 1e-300)
    out = np.ones(f.shape[1])
    alive = np.ones(f.shape[1], bool)
    for k in range(1, maxlag + 1):
        r = (x[k:] * x[:-k]).sum(0) / n / v
        alive &= r > 0
        if not alive.any():
            break
        out += 2 * np.where(alive, r, 0.0)
    return out


# ---------------------------------------------------------------- calibration
def pseudo_runs(free: np.ndarray, stride: int = STRIDE, lo: int = 0, hi: int | None = None):
    hi = free.shape[0] if hi is None else hi
    return [free[s : s + RUN] for s in range(lo, hi - RUN + 1, stride)]


def reference_scores(v: Variant, runs) -> tuple[list[np.ndarray], list[Fitted]]:
    """Scores (factor 1) of rows 400..end of each pseudo-run, and the fitted detectors."""
    out, fits = [], []
    for run in runs:
        d = fit(v, run[:N_TRAIN])
        out.append(d.score(run)[N_TRAIN:])
        fits.append(d)
    return out, fits


def alarm_share(scores: list[np.ndarray], factor: float) -> float:
    on = sum(int(persist(s > factor).sum()) for s in scores)
    return 100.0 * on / sum(s.size for s in scores)


def calibrate(scores: list[np.ndarray], target: float = FAR_TARGET) -> tuple[float, float]:
    """Smallest grid factor with alarm share ≤ target (as study 2's calibrate.py)."""
    share = float("nan")
    for factor in GRID:
        share = alarm_share(scores, float(factor))
        if share <= target:
            return float(factor), share
    return float(GRID[-1]), share


GRID_FINE = np.exp(np.linspace(np.log(0.3), np.log(60.0), 801))


def calibrate_fine(scores: list[np.ndarray], target: float = FAR_TARGET) -> tuple[float, float]:
    """Smallest factor on a fine log grid (ratio 1.0066) with alarm share ≤ target, by bisection
    (the share after persistence is non-increasing in the factor). For fair comparisons only."""
    lo, hi = 0, len(GRID_FINE) - 1
    if alarm_share(scores, float(GRID_FINE[hi])) > target:
        return float(GRID_FINE[hi]), alarm_share(scores, float(GRID_FINE[hi]))
    while lo < hi:
        mid = (lo + hi) // 2
        if alarm_share(scores, float(GRID_FINE[mid])) <= target:
            hi = mid
        else:
            lo = mid + 1
    return float(GRID_FINE[lo]), alarm_share(scores, float(GRID_FINE[lo]))


# ---------------------------------------------------------------- synthetic faults
FAULTS = {
    # name: (onset row, end row (exclusive), amplitude in training sd, shape)
    "step2": (700, 1000, 2.0, "step"),
    "step4": (700, 1000, 4.0, "step"),
    "ramp6": (700, 1000, 6.0, "ramp"),
    "pstep2": (600, RUN, 2.0, "step"),  # persistent: lasts to the end of the run (550 rows)
    "pstep4": (600, RUN, 4.0, "step"),
}
PAIR = ("pair3", (700, 1000, 3.0, "step"))  # extra test: 3-sd step on signals sig and sig+1


def inject(run: np.ndarray, sig: int, kind: str, sign: float) -> tuple[np.ndarray, slice]:
    on, off, amp, shape = PAIR[1] if kind == PAIR[0] else FAULTS[kind]
    X = run.copy()
    n = off - on
    prof = np.full(n, amp) if shape == "step" else np.linspace(0.0, amp, n)
    sigs = [sig, (sig + 1) % run.shape[1]] if kind == PAIR[0] else [sig]
    for j in sigs:
        X[on:off, j] += sign * prof * run[:N_TRAIN, j].std()
    return X, slice(on, off)


def fault_rates(v: Variant, factor: float, runs, fits) -> dict[str, float]:
    """Share (%) of faulty rows in alarm, pooled over runs × 8 signals, sign alternating."""
    res = {}
    for kind in (*FAULTS, PAIR[0]):
        hit = tot = 0
        for r, (run, d) in enumerate(zip(runs, fits, strict=True)):
            for sig in range(len(SIGNALS)):
                sign = 1.0 if (r + sig) % 2 == 0 else -1.0
                X, sl = inject(run, sig, kind, sign)
                s = d.score(X)[N_TRAIN:]
                al = persist(s > factor)
                seg = al[sl.start - N_TRAIN : sl.stop - N_TRAIN]
                hit += int(seg.sum())
                tot += seg.size
        res[kind] = 100.0 * hit / tot
    return res


def fault_rates_by_signal(v: Variant, factor: float, runs, fits, kind: str) -> list[float]:
    out = []
    for sig in range(len(SIGNALS)):
        hit = tot = 0
        for r, (run, d) in enumerate(zip(runs, fits, strict=True)):
            sign = 1.0 if (r + sig) % 2 == 0 else -1.0
            X, sl = inject(run, sig, kind, sign)
            al = persist(d.score(X)[N_TRAIN:] > factor)
            seg = al[sl.start - N_TRAIN : sl.stop - N_TRAIN]
            hit += int(seg.sum())
            tot += seg.size
        out.append(100.0 * hit / tot)
    return out
