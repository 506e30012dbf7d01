"""Learned family: a tanh autoencoder (scikit-learn MLPRegressor trained to reproduce its input).

Layers m → h → b → h → m with h = m and bottleneck b = m/4 (≥ 2), L-BFGS, fixed seed. Statistic:
squared reconstruction error of the z-scored features; contribution of a feature: its squared
error. The network is exported with the trained float64 weights, so ONNX Runtime and numpy agree
to rounding (no float32 step)."""

import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.neural_network import MLPRegressor

from factoryos.apps.maintenance.detectors.base import F64
from factoryos.apps.maintenance.detectors.onnx_graph import GraphBuilder

MAX_ITER = 400
L2 = 1e-3


@dataclass(frozen=True)
class AutoencoderCore:
    weights: tuple[F64, ...]
    biases: tuple[F64, ...]
    converged: bool
    iterations: int

    @classmethod
    def fit(cls, z: F64, bottleneck: int, seed: int) -> "AutoencoderCore":
        m = z.shape[1]
        b = bottleneck or max(2, m // 4)
        net = MLPRegressor(
            hidden_layer_sizes=(m, b, m),
            activation="tanh",
            solver="lbfgs",
            alpha=L2,
            max_iter=MAX_ITER,
            random_state=seed,
        )
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            net.fit(z, z)
        converged = not any(issubclass(w.category, ConvergenceWarning) for w in caught)
        return cls(
            tuple(np.asarray(w, np.float64) for w in net.coefs_),
            tuple(np.asarray(v, np.float64) for v in net.intercepts_),
            converged,
            int(net.n_iter_),
        )

    def reconstruct(self, z: F64) -> F64:
        h = z
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = h @ w + b
            if i < last:
                h = np.tanh(h)
        return h

    def stat_contrib(self, z: F64) -> tuple[F64, F64]:
        err = (z - self.reconstruct(z)) ** 2
        return err.sum(axis=1), err

    def to_graph(self, g: GraphBuilder, z: str) -> tuple[str, str]:
        h = z
        last = len(self.weights) - 1
        for i, (w, b) in enumerate(zip(self.weights, self.biases, strict=True)):
            h = g.op("Add", g.op("MatMul", h, g.const(w, "w")), g.const(b, "b"))
            if i < last:
                h = g.op("Tanh", h)
        diff = g.op("Sub", z, h)
        err = g.op("Mul", diff, diff)
        return g.reduce_sum(err, 1), err

    def params(self) -> dict[str, Any]:
        return {
            "layers": [int(self.weights[0].shape[0])] + [int(w.shape[1]) for w in self.weights],
            "activation": "tanh",
            "solver": "lbfgs",
            "l2": L2,
            "iterations": self.iterations,
            "converged": self.converged,
        }
