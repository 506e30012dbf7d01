"""Run a detector's ONNX graph with ONNX Runtime and compare it with the numpy scorer."""

import numpy as np
import onnxruntime as ort
from numpy.lib.stride_tricks import sliding_window_view

from factoryos.apps.maintenance.detectors.base import F64, FittedDetector
from factoryos.apps.maintenance.detectors.errors import ExportError
from factoryos.apps.maintenance.detectors.features import as_matrix


def onnx_session(model: bytes) -> ort.InferenceSession:
    """A one-thread CPU session (the edge runs one model per core, and so does the check)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # onnxruntime raises its own untyped errors: translate them here
        raise ExportError(f"ONNX Runtime cannot load the model: {exc}") from exc


def windows(raw: F64, window: int) -> F64:
    """(n - window + 1, window, k): the raw window ending at each scorable row."""
    if raw.shape[0] < window:
        return np.empty((0, window, raw.shape[1]), dtype=np.float64)
    return np.ascontiguousarray(sliding_window_view(raw, window, axis=0).transpose(0, 2, 1))


def run_onnx(
    detector: FittedDetector, raw: F64, session: ort.InferenceSession | None = None
) -> tuple[F64, F64]:
    """Score and contributions of every scorable row of ``raw`` through ONNX Runtime."""
    data = as_matrix(raw, detector.signals, "ONNX input")
    sess = session or onnx_session(detector.to_onnx())
    try:
        score, contrib = sess.run(["score", "contrib"], {"x": windows(data, detector.window)})
    except Exception as exc:  # see onnx_session
        raise ExportError(f"ONNX Runtime failed to score: {exc}") from exc
    return np.asarray(score, np.float64), np.asarray(contrib, np.float64)


def _max_diff(a: F64, b: F64) -> float:
    if not np.array_equal(np.isnan(a), np.isnan(b)):
        return float("inf")  # a gap in one and a number in the other is total disagreement
    ok = ~np.isnan(a)
    return float(np.max(np.abs(a[ok] - b[ok]), initial=0.0))


def export_check(detector: FittedDetector, raw: F64) -> float:
    """max |ONNX Runtime − numpy| over the scores and contribution shares of ``raw``'s rows."""
    score, contrib = run_onnx(detector, raw)
    return max(_max_diff(score, detector.score(raw)), _max_diff(contrib, detector.explain(raw)))
