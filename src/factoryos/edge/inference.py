"""Inference of platform-trained models, next to the machines or in the platform: ONNX Runtime.

A model file is an ONNX graph with one input ``x`` (float64, ``batch × window × k``: the raw
rows of its ``k`` input tags ending at the scored row) and outputs ``score`` (``batch``,
1.0 = the alarm threshold) and ``contrib`` (``batch × k``, each signal's share of the score).
Its metadata says what it needs: ``family``, ``signals`` (JSON list of the input tags' UNS
paths, in column order) and ``window``. The same file runs here and in the platform's live
scorer, so the two answer the same numbers for the same rows.

Rows are assembled from the sample stream by sample-and-hold: every batch that carries at
least one of a model's tags makes one row (the newest value of each input tag, at the newest
of their times), so a model scores once per poll of its equipment. A tag whose newest sample
has bad quality, or that was never seen, holds NaN: a window with a NaN is not scored and
gives a :class:`Score` with ``value`` NaN and the tags that are missing, never a number that
looks normal.
"""

import json
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import onnx
import onnxruntime as ort
from google.protobuf.message import DecodeError

from factoryos.edge.errors import EdgeError
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch

F64 = npt.NDArray[np.float64]
MAX_WINDOW = 100_000
MAX_MODEL_BYTES = 64 * 1024 * 1024


class ModelFileError(EdgeError):
    """A model file that cannot be loaded or run; the message says which and why."""


@dataclass(frozen=True, slots=True)
class Score:
    """One model's answer for one row."""

    model: str
    ts: int
    value: float
    """1.0 is the alarm threshold; NaN when the window has a gap (see ``missing``)."""
    contrib: F64
    signals: tuple[str, ...]
    missing: tuple[str, ...] = ()

    def top(self, n: int = 3) -> list[tuple[str, float]]:
        """The ``n`` signals that contribute most, largest first."""
        if not np.isfinite(self.value):
            return []
        order = np.argsort(-self.contrib)[:n]
        return [(self.signals[i], float(self.contrib[i])) for i in order]


def _meta(model: onnx.ModelProto, key: str, where: str) -> str:
    for prop in model.metadata_props:
        if prop.key == key:
            return str(prop.value)
    raise ModelFileError(f"{where}: the model's metadata has no {key!r}")


class OnnxModel:
    """A loaded model file: its inputs and an ONNX Runtime session (one thread)."""

    def __init__(self, data: bytes, name: str) -> None:
        if not 0 < len(data) <= MAX_MODEL_BYTES:
            raise ModelFileError(f"{name}: {len(data)} bytes; a model is 1 B to 64 MiB")
        try:
            proto = onnx.load_model_from_string(data)
            signals = json.loads(_meta(proto, "signals", name))
            window = int(_meta(proto, "window", name))
        except (DecodeError, ValueError) as exc:
            raise ModelFileError(f"{name}: not a FactoryOS model file: {exc}") from exc
        if not (isinstance(signals, list) and signals and all(isinstance(s, str) for s in signals)):
            raise ModelFileError(f"{name}: metadata 'signals' is not a list of tag paths")
        if not 0 < window <= MAX_WINDOW:
            raise ModelFileError(f"{name}: metadata 'window' {window} is not 1..{MAX_WINDOW}")
        self.name = name
        self.family = _meta(proto, "family", name)
        self.signals: tuple[str, ...] = tuple(signals)
        self.window = window
        self.gate = model_gate(proto, name)
        options = ort.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        try:
            self._session = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # ORT raises its own untyped errors (Fail, InvalidGraph …)
            raise ModelFileError(f"{name}: ONNX Runtime refuses the graph: {exc}") from exc

    def run(self, windows: F64) -> tuple[F64, F64]:
        """Scores and contributions of ``windows`` (batch × window × k)."""
        if windows.ndim != 3 or windows.shape[1:] != (self.window, len(self.signals)):
            raise ModelFileError(
                f"{self.name}: input of shape {windows.shape}, "
                f"expected (batch, {self.window}, {len(self.signals)})"
            )
        try:
            score, contrib = self._session.run(
                ["score", "contrib"], {"x": np.ascontiguousarray(windows, dtype=np.float64)}
            )
        except Exception as exc:  # translated at the boundary, as above
            raise ModelFileError(f"{self.name}: inference failed: {exc}") from exc
        return np.asarray(score, dtype=np.float64), np.asarray(contrib, dtype=np.float64)


@dataclass(frozen=True, slots=True)
class Gate:
    """Score only rows where tag ``tag`` holds one of ``values`` (a machine state, say):
    other rows are neither scored nor kept, in training and live alike."""

    tag: str
    values: tuple[float, ...]


class RowAssembler:
    """Rows of a model's input tags by sample-and-hold, one per batch that carries any of
    them, kept when the gate (if any) is open. The platform builds training rows from
    history with this same class, so training and live rows mean the same thing."""

    def __init__(self, signals: Sequence[str], tag_ids: Mapping[str, int], gate: Gate | None):
        names = [*signals, gate.tag] if gate is not None else list(signals)
        unknown = [s for s in names if s not in tag_ids]
        if unknown:
            raise ModelFileError(f"input tags not in this site: {', '.join(unknown)}")
        self._columns = {tag_ids[s]: c for c, s in enumerate(names)}
        self._k = len(signals)
        self._gate = gate
        self._held = np.full(len(names), np.nan)

    def feed(self, batch: SampleBatch) -> tuple[int, F64] | None:
        """Fold ``batch`` into the held values; the new row and its time, or None when the
        batch has no tag of ours or the gate is closed."""
        newest: int | None = None
        for i in np.flatnonzero(np.isin(batch.tag_ids, list(self._columns))).tolist():
            column = self._columns[int(batch.tag_ids[i])]
            value = float(batch.values[i])
            usable = batch.quality[i] != Quality.BAD and np.isfinite(value)
            self._held[column] = value if usable else np.nan
            ts = int(batch.ts[i])
            newest = ts if newest is None else max(newest, ts)
        if newest is None:
            return None
        if self._gate is not None and self._held[self._k] not in self._gate.values:
            return None
        return newest, self._held[: self._k].copy()


def model_gate(model: onnx.ModelProto, where: str) -> Gate | None:
    """The gate a model file names in its metadata (``gate``: JSON {tag, values}), if any."""
    text = next((p.value for p in model.metadata_props if p.key == "gate"), None)
    if text is None:
        return None
    try:
        raw = json.loads(text)
        return Gate(str(raw["tag"]), tuple(float(v) for v in raw["values"]))
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelFileError(f"{where}: metadata 'gate' is not {{tag, values}}: {exc}") from exc


class StreamScorer:
    """Scores models on a sample stream: one score per model per row (see RowAssembler)."""

    def __init__(self, models: Sequence[OnnxModel], tag_ids: Mapping[str, int]) -> None:
        self._models = list(models)
        self._rows: list[tuple[RowAssembler, deque[F64]]] = []
        for model in self._models:
            try:
                assembler = RowAssembler(model.signals, tag_ids, model.gate)
            except ModelFileError as exc:
                raise ModelFileError(f"{model.name}: {exc}") from exc
            self._rows.append((assembler, deque(maxlen=model.window)))

    @property
    def models(self) -> list[OnnxModel]:
        return list(self._models)

    def feed(self, batch: SampleBatch) -> list[Score]:
        scores: list[Score] = []
        for model, (assembler, rows) in zip(self._models, self._rows, strict=True):
            row = assembler.feed(batch)
            if row is None:
                continue
            ts, values = row
            rows.append(values)
            if len(rows) < model.window:
                continue
            window = np.stack(rows)
            missing = tuple(s for c, s in enumerate(model.signals) if np.isnan(window[:, c]).any())
            if missing:
                nan = np.full(len(model.signals), np.nan)
                scores.append(Score(model.name, ts, np.nan, nan, model.signals, missing))
                continue
            value, contrib = model.run(window[np.newaxis])
            scores.append(Score(model.name, ts, float(value[0]), contrib[0], model.signals))
        return scores


class ScoringPublisher:
    """Publishes each batch, then the scores it gave rise to, as samples of score tags.

    A score is a sample of its model's score tag at the scored row's time: GOOD with the
    score, or BAD with NaN for a window with a gap. Scores travel the same way as the
    samples they came from (outbox, uplink), so the platform stores and shows them as any tag.
    """

    def __init__(
        self,
        publish: Callable[[SampleBatch], Awaitable[None]],
        scorer: StreamScorer,
        score_tags: Mapping[str, int],
    ) -> None:
        missing = [m.name for m in scorer.models if m.name not in score_tags]
        if missing:
            raise ModelFileError(f"no score tag for {', '.join(missing)}")
        self._publish = publish
        self._scorer = scorer
        self._score_tags = dict(score_tags)

    async def __call__(self, batch: SampleBatch) -> None:
        await self._publish(batch)
        scores = self._scorer.feed(batch)
        if scores:
            await self._publish(score_batch(scores, self._score_tags))


def score_batch(scores: Sequence[Score], score_tags: Mapping[str, int]) -> SampleBatch:
    """The samples of ``scores`` on their models' score tags."""
    good = [bool(np.isfinite(s.value)) for s in scores]
    return SampleBatch.build(
        [score_tags[s.model] for s in scores],
        [s.ts for s in scores],
        [s.value for s in scores],
        [Quality.GOOD if g else Quality.BAD for g in good],
    )


def load_models(files: Sequence[Path], tag_ids: Mapping[str, int]) -> StreamScorer:
    """A scorer for model files; every problem names its file."""
    models = []
    for path in files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise ModelFileError(f"{path}: cannot read: {exc.strerror}") from exc
        models.append(OnnxModel(data, str(path)))
    return StreamScorer(models, tag_ids)
