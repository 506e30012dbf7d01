"""Scratch feature sets for study 2 (research only; the product code is in apps/maintenance/rul)."""

from __future__ import annotations

import numpy as np

from factoryos.apps.maintenance.cmapss import Runs

TOL = np.array([1.0, 0.05, 1.0])


def conditions(settings: np.ndarray) -> np.ndarray:
    """Leader clustering of the settings under a tolerance: centres (k, 3)."""
    centres: list[np.ndarray] = []
    for row in np.unique(np.round(settings / TOL), axis=0):
        p = row * TOL
        if not any(np.all(np.abs(p - c) <= TOL) for c in centres):
            centres.append(p)
    c = np.array(centres)
    lab = assign(settings, c)
    return np.array([settings[lab == i].mean(0) for i in range(len(c))])


def assign(settings: np.ndarray, centres: np.ndarray) -> np.ndarray:
    d = (((settings[:, None, :] - centres[None]) / TOL) ** 2).sum(-1)
    return d.argmin(1)


class Norm:
    def fit(self, r: Runs) -> Norm:
        self.c = conditions(r.settings)
        lab = assign(r.settings, self.c)
        k = len(self.c)
        keep = []
        for j in range(21):
            u = [np.unique(r.sensors[lab == i, j]).size for i in range(k)]
            if np.median(u) >= 10:
                keep.append(j)
        self.keep = keep
        s = r.sensors[:, keep]
        self.mu = np.array([s[lab == i].mean(0) for i in range(k)])
        self.sd = np.array([s[lab == i].std(0) for i in range(k)])
        self.k = k
        return self

    def z(self, r: Runs) -> tuple[np.ndarray, np.ndarray]:
        lab = assign(r.settings, self.c)
        return (r.sensors[:, self.keep] - self.mu[lab]) / self.sd[lab], lab


def _roll(x: np.ndarray, w: int):
    T = x.shape[0]
    t = np.arange(T, dtype=float)[:, None]
    z = np.zeros((1, x.shape[1]))
    cx = np.vstack([z, np.cumsum(x, 0)])
    cxx = np.vstack([z, np.cumsum(x * x, 0)])
    ctx = np.vstack([z, np.cumsum(t * x, 0)])
    ct = np.concatenate([[0.0], np.cumsum(t[:, 0])])[:, None]
    ctt = np.concatenate([[0.0], np.cumsum(t[:, 0] ** 2)])[:, None]
    hi = np.arange(1, T + 1)
    lo = np.maximum(hi - w, 0) if w > 0 else np.zeros_like(hi)
    n = (hi - lo).astype(float)[:, None]
    sx, sxx, stx = cx[hi] - cx[lo], cxx[hi] - cxx[lo], ctx[hi] - ctx[lo]
    st, stt = ct[hi] - ct[lo], ctt[hi] - ctt[lo]
    mean = sx / n
    var = np.maximum(sxx / n - mean**2, 0)
    den = n * stt - st**2
    slope = np.where(den > 0, (n * stx - st * sx) / np.where(den > 0, den, 1), 0)
    return mean, np.sqrt(var), slope


def _ewm(x: np.ndarray, span: float) -> np.ndarray:
    a = 2 / (span + 1)
    out = np.empty_like(x)
    acc = x[0].copy()
    for i in range(len(x)):
        acc = a * x[i] + (1 - a) * acc if i else x[0].copy()
        out[i] = acc
    return out


def unit_feats(z, lab, k, cyc, kind: str):
    parts = [z]
    if "win" in kind:
        for w in (5, 10, 20, 30):
            m, s, b = _roll(z, w)
            parts += [m, s, b]
    if "long" in kind:
        for w in (50, 0):
            m, s, b = _roll(z, w)
            parts += [m, b]
    if "ewm" in kind:
        for sp in (10, 30):
            parts.append(_ewm(z, sp))
    if "base" in kind:
        c = np.cumsum(z, 0)
        n = np.minimum(np.arange(1, len(z) + 1), 20)
        base = c[n - 1] / n[:, None]
        m, _, _ = _roll(z, 10)
        parts.append(m - base)
    if "cyc" in kind:
        parts.append(cyc[:, None].astype(float))
    if k > 1:
        oh = np.eye(k)[lab]
        parts.append(np.cumsum(oh, 0) / np.arange(1, len(z) + 1)[:, None])
    return np.hstack(parts)


def build(r: Runs, norm: Norm, kind: str) -> np.ndarray:
    z, lab = norm.z(r)
    ends = np.append(np.flatnonzero(r.unit[1:] != r.unit[:-1]) + 1, r.unit.size)
    starts = np.concatenate([[0], ends[:-1]])
    out = [unit_feats(z[a:b], lab[a:b], norm.k, r.cycle[a:b], kind) for a, b in zip(starts, ends)]
    return np.vstack(out)


def subset_rows(r: Runs, mask: np.ndarray) -> Runs:
    return Runs(r.unit[mask], r.cycle[mask], r.settings[mask], r.sensors[mask])
