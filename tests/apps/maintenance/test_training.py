"""Training rows from stored history: one row per poll even when a poll straddles two read
chunks, gaps counted and refused beyond half, labelled failures left out, and the training
refused when its ONNX export would not score like the model."""

import numpy as np
import pytest

from factoryos.apps.maintenance.config import AnomalySpec
from factoryos.apps.maintenance.training import (
    Rows,
    TrainingError,
    complete_rows,
    history_rows,
    outside,
    train_anomaly,
)
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch

IDS = {"m/a": 1, "m/b": 2}


def _stored(polls: list[tuple[int, float, float]]) -> SampleBatch:
    """Samples as the store answers them: ordered by (ts, tag)."""
    ids, ts, values = [], [], []
    for t, a, b in polls:
        ids += [1, 2]
        ts += [t, t]
        values += [a, b]
    return SampleBatch.build(ids, ts, values)


def _chunks(batch: SampleBatch, size: int) -> list[SampleBatch]:
    return [batch.take(np.arange(i, min(i + size, len(batch)))) for i in range(0, len(batch), size)]


def test_one_row_per_poll_whatever_the_chunk_size() -> None:
    stored = _stored([(t, float(t), 10.0 * t) for t in range(1, 8)])
    for size in (1, 3, 5, 100):  # odd sizes split polls between chunks
        rows = history_rows(_chunks(stored, size), ["m/a", "m/b"], IDS, None)
        assert rows.ts.tolist() == list(range(1, 8))
        assert rows.values[:, 1].tolist() == [10.0 * t for t in range(1, 8)]


def test_gaps_are_counted_per_signal_and_refused_past_half() -> None:
    values = np.array([[1.0, 2.0], [np.nan, 2.0], [1.0, 2.0], [1.0, np.nan]])
    complete, gaps = complete_rows(Rows(np.arange(4), values), ["m/a", "m/b"])
    assert complete.shape == (2, 2) and gaps == {"m/a": 1, "m/b": 1}
    mostly_bad = np.array([[np.nan, 1.0]] * 3 + [[1.0, 1.0]])
    with pytest.raises(TrainingError, match=r"3 of 4 rows have a gap \(most in m/a: 3\)"):
        complete_rows(Rows(np.arange(4), mostly_bad), ["m/a", "m/b"])


def test_bad_quality_samples_become_gaps() -> None:
    batch = SampleBatch.build([1, 2], 5, [1.0, 2.0], [Quality.BAD, Quality.GOOD])
    rows = history_rows([batch], ["m/a", "m/b"], IDS, None)
    assert np.isnan(rows.values[0, 0]) and rows.values[0, 1] == 2.0


def test_labelled_failures_are_left_out() -> None:
    rows = Rows(np.arange(10, dtype=np.int64), np.zeros((10, 2)))
    kept, excluded = outside(rows, [(2, 4), (8, 20)])
    assert kept.ts.tolist() == [0, 1, 5, 6, 7] and excluded == 5


def test_training_names_the_equipment_when_the_data_cannot_train() -> None:
    spec = AnomalySpec(signals=["a", "b"], family="pca")
    constant = Rows(np.arange(500, dtype=np.int64), np.ones((500, 2)))
    with pytest.raises(TrainingError, match=r"^m: "):
        train_anomaly("m", spec, constant, created_by="test")
    with pytest.raises(TrainingError, match="no rows"):
        train_anomaly("m", spec, Rows(np.empty(0, np.int64), np.empty((0, 2))), created_by="t")


def test_a_trained_model_records_its_window_and_what_was_left_out() -> None:
    rng = np.random.default_rng(0)
    spec = AnomalySpec(signals=["a", "b"], family="pca")
    ts = np.arange(2_000, dtype=np.int64) * 10**9
    rows = Rows(ts, rng.normal(size=(2_000, 2)) @ np.array([[1.0, 0.5], [0.0, 1.0]]))
    trained = train_anomaly("m", spec, rows, created_by="test", failures=[(ts[100], ts[199])])
    model = trained.model
    assert (model.name, model.kind, model.family) == ("anomaly/m", "anomaly", "pca")
    assert (model.train_start, model.train_end, model.train_rows) == (ts[0], ts[-1], 1_900)
    assert model.features == ["m/a", "m/b"]
    assert model.metrics["rows_in_labelled_failures"] == 100
    assert model.metrics["onnx_max_abs_diff"] <= 1e-5
