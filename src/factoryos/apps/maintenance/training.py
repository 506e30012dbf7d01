"""Training an equipment's anomaly model in the platform, from its stored history.

Training rows are built from history exactly as the live scorer builds them from the stream
(:class:`~factoryos.edge.inference.RowAssembler`: one row per poll, sample-and-hold, gate
applied), so a model sees the same kind of rows in training and in use. Rows with a gap (a
bad-quality or missing input) are left out of training and counted; when too few complete
rows remain the training stops with an error that says how many there were.

The fitted detector is exported to ONNX and the export is checked against the detector on
the training rows: a model whose ONNX scores differ by more than :data:`AGREEMENT` is refused,
because the edge and the live scorer run the ONNX file.
"""

import itertools
import json
import subprocess
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnx

import factoryos
from factoryos.apps.maintenance.config import AnomalySpec, model_name, signal_paths
from factoryos.apps.maintenance.detectors import (
    FittedDetector,
    export_check,
    fit_detector,
    select_detector,
)
from factoryos.apps.maintenance.errors import MaintenanceError
from factoryos.edge.inference import Gate, RowAssembler
from factoryos.model.samples import SampleBatch
from factoryos.model.uns import tag_path
from factoryos.store.model_registry import NewModel

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
AGREEMENT = 1e-5
MAX_GAP_SHARE = 0.5  # more rows with gaps than this: the window is not normal operation


class TrainingError(MaintenanceError):
    """A model cannot be trained from the data given; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Rows:
    ts: I64
    values: F64  # rows × signals, NaN where an input was missing


@dataclass(frozen=True, slots=True)
class Trained:
    detector: FittedDetector
    model: NewModel
    selection: dict[str, Any]


def code_version() -> str:
    """The package version, and the git commit when running from a checkout."""
    root = Path(factoryos.__file__).resolve().parents[2]
    try:
        commit = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short=12", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return factoryos.__version__
    return f"{factoryos.__version__}+g{commit}"


def _polls(chunks: Iterable[SampleBatch]) -> Iterable[SampleBatch]:
    """Chunks ordered by time regrouped into one batch per timestamp (one poll)."""
    carry: SampleBatch | None = None
    for chunk in chunks:
        if carry is not None:
            chunk = SampleBatch(
                np.concatenate([carry.tag_ids, chunk.tag_ids]),
                np.concatenate([carry.ts, chunk.ts]),
                np.concatenate([carry.values, chunk.values]),
                np.concatenate([carry.quality, chunk.quality]),
            )
        if len(chunk) == 0:
            continue
        starts = np.flatnonzero(np.diff(chunk.ts, prepend=chunk.ts[0] - 1))
        bounds = [*starts.tolist(), len(chunk)]
        for lo, hi in itertools.pairwise(bounds[:-1]):
            yield _slice(chunk, lo, hi)
        carry = _slice(chunk, bounds[-2], bounds[-1])  # the last poll may go on in the next chunk
    if carry is not None and len(carry):
        yield carry


def _slice(batch: SampleBatch, lo: int, hi: int) -> SampleBatch:
    return SampleBatch(
        batch.tag_ids[lo:hi], batch.ts[lo:hi], batch.values[lo:hi], batch.quality[lo:hi]
    )


def history_rows(
    chunks: Iterable[SampleBatch],
    signals: list[str],
    tag_ids: Mapping[str, int],
    gate: Gate | None,
) -> Rows:
    """Rows of ``signals`` from stored samples (ordered by time), as the live scorer makes them."""
    return assembled_rows(chunks, RowAssembler(signals, tag_ids, gate), len(signals))


def assembled_rows(chunks: Iterable[SampleBatch], assembler: RowAssembler, width: int) -> Rows:
    """Rows from stored samples through ``assembler``, which keeps its held values for the
    next call (a history read piece by piece gives the rows read all at once)."""
    times: list[int] = []
    rows: list[F64] = []
    for poll in _polls(chunks):
        row = assembler.feed(poll)
        if row is not None:
            times.append(row[0])
            rows.append(row[1])
    values = np.array(rows) if rows else np.empty((0, width))
    return Rows(np.array(times, dtype=np.int64), values)


def outside(rows: Rows, intervals: Sequence[tuple[int, int]]) -> tuple[Rows, int]:
    """``rows`` without those inside any ``[start, end]`` (a labelled failure: degraded from
    its first evidence until repaired), and how many were left out."""
    keep = np.ones(len(rows.ts), dtype=bool)
    for start, end in intervals:
        keep &= ~((rows.ts >= start) & (rows.ts <= end))
    return Rows(rows.ts[keep], rows.values[keep]), int((~keep).sum())


def complete_rows(rows: Rows, signals: list[str]) -> tuple[F64, dict[str, int]]:
    """The rows without gaps, and how many rows each signal's gaps cost."""
    holes = np.isnan(rows.values)
    gaps = {s: int(holes[:, i].sum()) for i, s in enumerate(signals) if holes[:, i].any()}
    complete = rows.values[~holes.any(axis=1)]
    if len(rows.ts) and 1 - len(complete) / len(rows.ts) > MAX_GAP_SHARE:
        worst = max(gaps, key=lambda s: gaps[s])
        raise TrainingError(
            f"{len(rows.ts) - len(complete)} of {len(rows.ts)} rows have a gap "
            f"(most in {worst}: {gaps[worst]}); a training window needs at least "
            f"{1 - MAX_GAP_SHARE:.0%} complete rows"
        )
    return complete, gaps


def _with_metadata(data: bytes, extra: Mapping[str, str]) -> bytes:
    proto = onnx.load_model_from_string(data)
    for key, value in extra.items():
        prop = proto.metadata_props.add()
        prop.key, prop.value = key, value
    return proto.SerializeToString()


def train_anomaly(
    equipment: str,
    spec: AnomalySpec,
    rows: Rows,
    *,
    created_by: str,
    failures: Sequence[tuple[int, int]] = (),
) -> Trained:
    """Fit (or choose, for ``family: auto``) the detector of ``equipment`` on ``rows``,
    leaving out the ``failures`` (closed work orders' degraded intervals): the model learns
    normal operation, and the last repair's lesson is not taught as normal."""
    signals = signal_paths(equipment, spec)
    train_start, train_end = (int(rows.ts[0]), int(rows.ts[-1])) if len(rows.ts) else (0, 0)
    rows, excluded = outside(rows, failures)
    if len(rows.ts) == 0:
        raise TrainingError(f"{equipment}: no rows in the training window")
    complete, gaps = complete_rows(rows, signals)
    try:
        if spec.family == "auto":
            detector, selection = select_detector(complete, signals)
        else:
            detector, selection = fit_detector(spec.family, complete, signals), {}
    except MaintenanceError as exc:
        raise TrainingError(f"{equipment}: {exc}") from exc
    disagreement = export_check(detector, complete)
    if not disagreement <= AGREEMENT:
        raise TrainingError(
            f"{equipment}: the ONNX export of the {detector.family} model differs from it by "
            f"{disagreement:.3g} (at most {AGREEMENT:g}); not registered"
        )
    gate = spec.gate
    extra = {"model_name": model_name(equipment)}
    if gate is not None:
        extra["gate"] = json.dumps({"tag": tag_path(equipment, gate.tag), "values": gate.values})
    description = detector.describe()
    model = NewModel(
        name=model_name(equipment),
        kind="anomaly",
        family=detector.family,
        created_by=created_by,
        code_version=code_version(),
        train_start=train_start,
        train_end=train_end,
        train_rows=len(complete),
        features=signals,
        hyper_parameters={
            "detector": description,
            "persistence": spec.persistence,
            "gate": None if gate is None else gate.model_dump(),
        },
        metrics={
            "onnx_max_abs_diff": disagreement,
            "rows_with_gaps": gaps,
            "rows_in_labelled_failures": excluded,
            "selection": selection,
        },
        artifact=_with_metadata(detector.to_onnx(), extra),
    )
    return Trained(detector, model, selection)
