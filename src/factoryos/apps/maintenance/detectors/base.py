"""The interface every detector family implements, its configuration, and the alarm rule.

A fitted detector turns a stream of raw rows (``k`` signals) into one score per row, scaled so
that 1.0 is the alarm threshold, plus per-signal contribution shares. The score of row ``i``
depends only on rows ``i - window + 1 .. i``: streaming with a ``window - 1`` row buffer gives
the same numbers as scoring a batch. A row whose window holds a NaN or infinite value (a gap or
a bad sample) scores NaN — flagged, never a number that looks normal — and `Persistence` holds
its state through it.
"""

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import NDArray

F64 = NDArray[np.float64]
Bool = NDArray[np.bool_]

FAMILIES = ("pca", "gmm", "autoencoder")


@dataclass(frozen=True)
class DetectorConfig:
    """Hyper-parameters shared by every family (defaults: docs/research/skab-study-2.md).

    ``horizon_factor`` None takes the family's factor calibrated on normal reference data
    (`HORIZON_FACTOR`); the threshold is ``horizon_factor × quantile`` of the training scores."""

    window: int = 30  # rows in the causal rolling mean (30 s at 1 Hz)
    use_current: bool = True  # features: current value and window mean (False: mean only)
    quantile: float = 0.99
    horizon_factor: float | None = None
    persistence_k: int = 5
    var_keep: float = 0.90  # pca: share of variance the retained components explain
    alpha: float = 0.01  # pca: level of the T² and Q control limits that put both on one scale
    gmm_components: int = 3
    ae_bottleneck: int = 0  # 0: a quarter of the features, at least 2
    seed: int = 0


@runtime_checkable
class FittedDetector(Protocol):
    """A detector fitted on a window of normal operation of one asset."""

    family: str
    signals: tuple[str, ...]
    window: int
    persistence_k: int

    def score(self, raw: F64) -> F64:
        """Scores of rows ``window-1 ..`` of ``raw`` (n, k): 1.0 is the threshold, NaN a gap."""
        ...

    def explain(self, raw: F64) -> F64:
        """Per-signal contribution shares (n - window + 1, k); each row sums to 1 (NaN: gap)."""
        ...

    def to_onnx(self) -> bytes:
        """The model as an ONNX graph: input ``x`` (batch, window, k) float64, outputs ``score``
        (batch,) and ``contrib`` (batch, k); metadata family, signals (JSON), window."""
        ...

    def describe(self) -> dict[str, Any]:
        """JSON-able account of the model: family, hyper-parameters, threshold rule, figures."""
        ...


class Persistence:
    """Alarm on after ``k`` consecutive scores above 1, off after ``k`` consecutive at or below.

    Streaming: feed scores one by one with `step` (state survives between calls) or a batch with
    `run`. A NaN score (a gap) counts for neither run: both counters restart and the alarm state
    is held, so a gap neither raises nor clears an alarm."""

    def __init__(self, k: int) -> None:
        if k < 1:
            raise ValueError(f"persistence k must be at least 1, got {k}")
        self.k = k
        self.active = False
        self._above = 0
        self._below = 0

    def step(self, score: float) -> bool:
        """Feed one score (NaN: a gap); the alarm state after it."""
        if score != score:  # NaN
            self._above = self._below = 0
            return self.active
        return self.update(score > 1.0)

    def update(self, above: bool) -> bool:
        """Feed one finite row's verdict (score above 1 or not); the alarm state after it."""
        if above:
            self._above += 1
            self._below = 0
        else:
            self._below += 1
            self._above = 0
        if not self.active and self._above >= self.k:
            self.active = True
        elif self.active and self._below >= self.k:
            self.active = False
        return self.active

    def run(self, scores: F64) -> Bool:
        out = np.zeros(scores.shape[0], dtype=np.bool_)
        for i, s in enumerate(scores.tolist()):
            out[i] = self.step(s)
        return out


def persistence(scores: F64, k: int) -> Bool:
    """Alarm state per score with a fresh `Persistence` (the batch form)."""
    return Persistence(k).run(scores)
