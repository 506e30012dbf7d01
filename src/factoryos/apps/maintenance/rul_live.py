"""Remaining useful life in the platform: per equipment type, from run-to-failure histories.

A history becomes **cycles**: consecutive rows (gate open) grouped by running time, one cycle
per ``cycle_s`` of it, each sensor's mean over the cycle; a gap between rows counts as at most
:data:`MAX_STEP_S` of running, so the cycles mean the same whether the rows came every second
(live polls) or every minute (a simulated life). The type's model (:mod:`..rul`, the one the
C-MAPSS benchmark measures) is fitted on the cycles of its lives and registered as
``rul/<type>``; its ONNX file answers RUL, lower and upper bound (in cycles, converted to
running hours) for an equipment's cycles since its last repair.

The equipment run in one operating condition when the gate is open, so the model's three
operating-setting columns are zero here (C-MAPSS needs them for its six flight conditions).
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import onnxruntime as ort

from factoryos.apps.maintenance.cmapss import Runs
from factoryos.apps.maintenance.config import RulSpec
from factoryos.apps.maintenance.errors import MaintenanceError
from factoryos.apps.maintenance.rul import RulConfig, RulModel, fit_rul
from factoryos.store.model_registry import NewModel

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
PREFIX = "rul/"
MAX_STEP_S = 60.0
SETTINGS = 3
NS_PER_S = 1e9


class RulEstimateError(MaintenanceError):
    """No estimate can be made from the history given; the message says why."""


@dataclass(frozen=True, slots=True)
class RulEstimate:
    equipment: str
    ts: int
    cycles: int
    rul_h: float
    lower_h: float
    upper_h: float
    coverage: float
    version: int


def model_name(kind: str) -> str:
    return PREFIX + kind


def cycle_means(ts: I64, values: F64, cycle_s: float) -> F64:
    """Each complete cycle's mean of every column (the running cycle in progress is left out)."""
    if len(ts) == 0:
        return np.empty((0, values.shape[1]))
    dt = np.diff(ts, prepend=ts[0]) / NS_PER_S
    running = np.cumsum(np.clip(dt, 0.0, MAX_STEP_S))
    cycle = np.floor(running / cycle_s).astype(np.int64)
    complete = cycle < cycle[-1]
    if not complete.any():
        return np.empty((0, values.shape[1]))
    counts = np.bincount(cycle[complete])
    sums = np.stack(
        [np.bincount(cycle[complete], weights=values[complete, j]) for j in range(values.shape[1])],
        axis=1,
    )
    filled = counts > 0  # a cycle index skipped by a long gap has no rows
    means: F64 = sums[filled] / counts[filled, np.newaxis]
    return means


def runs_of(lives: Sequence[F64]) -> Runs:
    """Run-to-failure cycles (one array per life) as the RUL model's runs."""
    lives = [c for c in lives if len(c)]
    if not lives:
        raise RulEstimateError("no life has a complete cycle")
    unit = np.concatenate([np.full(len(c), i + 1, dtype=np.int64) for i, c in enumerate(lives)])
    cycle = np.concatenate([np.arange(1, len(c) + 1, dtype=np.int64) for c in lives])
    sensors = np.concatenate(lives)
    return Runs(unit, cycle, np.zeros((len(unit), SETTINGS)), sensors)


def trained_model(
    kind: str, spec: RulSpec, lives: Sequence[F64], window: tuple[int, int], created_by: str,
    code_version: str, config: RulConfig | None = None,
) -> tuple[RulModel, NewModel]:  # fmt: skip
    """Fit the type's model on its lives' cycles; the registry's record of it."""
    runs = runs_of(lives)
    try:
        model = fit_rul(runs, config)
        artifact = model.to_onnx()
    except MaintenanceError as exc:
        raise RulEstimateError(f"rul.{kind}: {exc}") from exc
    record = NewModel(
        name=model_name(kind),
        kind="rul",
        family="lightgbm",
        created_by=created_by,
        code_version=code_version,
        train_start=window[0],
        train_end=window[1],
        train_rows=len(runs.unit),
        features=list(spec.sensors),
        hyper_parameters={**model.hyper_parameters, "cycle_s": spec.cycle_s},
        metrics={**model.metrics, "lives": len(lives), "training": model.training},
        artifact=artifact,
    )
    return model, record


class RulRunner:
    """A registered RUL model's ONNX file, run on one equipment's cycles at a time."""

    def __init__(self, artifact: bytes, sensors_kept: Sequence[int], cycle_s: float) -> None:
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        self._session = ort.InferenceSession(artifact, options, providers=["CPUExecutionProvider"])
        self._kept = list(sensors_kept)
        self.cycle_s = cycle_s

    @classmethod
    def of(cls, artifact: bytes, metrics_json: dict[str, object], cycle_s: float) -> "RulRunner":
        training = metrics_json.get("training")
        kept = training.get("sensors_kept") if isinstance(training, dict) else None
        if not isinstance(kept, list) or not all(isinstance(k, str) for k in kept):
            raise RulEstimateError("the RUL model's metrics do not say which sensors it kept")
        return cls(artifact, [int(k.lstrip("s")) - 1 for k in kept], cycle_s)

    def estimate(self, cycles: F64) -> tuple[float, float, float]:
        """RUL, lower and upper bound in running hours after the last of ``cycles``."""
        if len(cycles) == 0:
            raise RulEstimateError("no complete cycle since the last repair yet")
        x = np.concatenate([np.zeros((len(cycles), SETTINGS)), cycles[:, self._kept]], axis=1)
        rul, lower, upper = self._session.run(["rul", "lower", "upper"], {"x": x[np.newaxis]})
        hours = self.cycle_s / 3_600
        return float(rul[0]) * hours, float(lower[0]) * hours, float(upper[0]) * hours
