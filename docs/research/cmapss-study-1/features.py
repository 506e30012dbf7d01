"""Windowed features per engine cycle (causal: only past and current cycles)."""
from __future__ import annotations

import numpy as np

WINDOWS = (5, 10, 20, 30)


def _rolling(x: np.ndarray, w: int):
    """Causal rolling mean/std/slope over the last min(w, t+1) rows of x (T, S)."""
    T = x.shape[0]
    t = np.arange(T, dtype=np.float64)[:, None]
    z = np.zeros((1, x.shape[1]))
    cx = np.vstack([z, np.cumsum(x, 0)])
    cxx = np.vstack([z, np.cumsum(x * x, 0)])
    ctx = np.vstack([z, np.cumsum(t * x, 0)])
    ct = np.concatenate([[0.0], np.cumsum(t[:, 0])])[:, None]
    ctt = np.concatenate([[0.0], np.cumsum(t[:, 0] ** 2)])[:, None]
    hi = np.arange(1, T + 1)
    lo = np.maximum(hi - w, 0)
    n = (hi - lo).astype(np.float64)[:, None]
    sx, sxx, stx = cx[hi] - cx[lo], cxx[hi] - cxx[lo], ctx[hi] - ctx[lo]
    st, stt = ct[hi] - ct[lo], ctt[hi] - ctt[lo]
    mean = sx / n
    var = np.maximum(sxx / n - mean ** 2, 0.0)
    den = n * stt - st ** 2
    slope = np.where(den > 0, (n * stx - st * sx) / np.where(den > 0, den, 1.0), 0.0)
    return mean, np.sqrt(var), slope


def unit_features(z: np.ndarray, cycles: np.ndarray, cond: np.ndarray, n_cond: int) -> np.ndarray:
    """z: (T, S) condition-normalised sensors of one unit, in cycle order."""
    parts = [z]
    for w in WINDOWS:
        m, s, b = _rolling(z, w)
        parts += [m, s, b]
    # cycle count and time spent in each operating condition (history of the engine)
    onehot = np.eye(n_cond)[cond]
    parts += [cycles[:, None], np.cumsum(onehot, 0) / np.arange(1, len(z) + 1)[:, None]]
    return np.hstack(parts)


def build(data: np.ndarray, norm) -> np.ndarray:
    z = norm.transform(data)
    cond = norm.condition(data)
    out = np.empty((len(data), 0))
    feats = []
    for u in np.unique(data[:, 0]):
        idx = np.where(data[:, 0] == u)[0]
        idx = idx[np.argsort(data[idx, 1])]
        feats.append((idx, unit_features(z[idx], data[idx, 1], cond[idx], norm.k)))
    out = np.empty((len(data), feats[0][1].shape[1]))
    for idx, f in feats:
        out[idx] = f
    return out


def feature_names(norm) -> list[str]:
    s = [f"s{j + 1}" for j in norm.sensors]
    names = [f"{x}_last" for x in s]
    for w in WINDOWS:
        names += [f"{x}_mean{w}" for x in s] + [f"{x}_std{w}" for x in s] + [f"{x}_slope{w}" for x in s]
    return names + ["cycle"] + [f"frac_cond{c}" for c in range(norm.k)]
