"""Fitting and predicting RUL on a few real FD001 units; bad input named precisely."""

import json
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.maintenance.cmapss import Runs, load_subset
from factoryos.apps.maintenance.rul import (
    NonFiniteValueError,
    RulConfig,
    RulDataError,
    RulModel,
    TooLittleDataError,
    fit_rul,
)

DATA = Path(__file__).resolve().parents[4].parent / "shared" / "datasets" / "cmapss"
SMALL = RulConfig(rounds=80, seeds=2, folds=3, threads=1, min_child_samples=20)


def _units(runs: Runs, first: int, last: int) -> Runs:
    m = (runs.unit >= first) & (runs.unit <= last)
    return Runs(runs.unit[m], runs.cycle[m], runs.settings[m], runs.sensors[m])


@pytest.fixture(scope="module")
def train() -> Runs:
    return load_subset(DATA, "FD001").train


@pytest.fixture(scope="module")
def model(train: Runs) -> RulModel:
    stages: list[tuple[str, float]] = []
    fitted = fit_rul(_units(train, 1, 15), SMALL, progress=lambda s, f: stages.append((s, f)))
    assert stages[0] == ("validation fold 1/3", 0.0) and stages[-1] == ("done", 1.0)
    return fitted


def test_a_small_real_fit_predicts_held_out_units(model: RulModel, train: Runs) -> None:
    held = _units(train, 16, 25)  # training units the model never saw: their truth is known
    rows = model.predict_rows(held)
    truth = held.rul_targets()
    assert np.sqrt(np.mean((rows.rul - truth) ** 2)) < 25.0  # a flat guess of 80 scores ~45
    assert np.all((rows.lower <= rows.rul) & (rows.rul <= rows.upper))
    assert rows.rul.min() >= 0.0 and rows.upper.max() <= 125.0
    last = model.predict(held)
    assert last.unit.tolist() == list(range(16, 26))
    assert np.array_equal(last.rul, rows.rul[held.last_rows()])
    assert np.all(last.rul < 40)  # the last row of a training unit is its failure
    assert last.coverage == 0.8


def test_the_model_records_what_a_registry_needs(model: RulModel) -> None:
    assert model.training["units"] == 15 and model.training["rows"] > 2000
    assert model.training["sensors_dropped"] == ["s1", "s5", "s6", "s10", "s16", "s18", "s19"]
    assert len(model.features) == 14 * (1 + 3 * 4 + 2 * 2) + 1
    assert model.hyper_parameters["rounds"] == 80
    assert model.hyper_parameters["features"] == {"short": [5, 10, 20, 30], "long": [50, 0]}
    assert 0.6 < model.metrics["cv_interval_coverage"] < 0.95
    assert model.metrics["cv_rmse_test_like"] > 0
    json.dumps([model.training, model.hyper_parameters, model.metrics])


def test_nan_is_named_by_unit_cycle_and_column(train: Runs) -> None:
    runs = _units(train, 1, 6)
    sensors = runs.sensors.copy()
    sensors[195, 3] = np.nan  # unit 2 (unit 1 has 192 rows), its 4th cycle
    bad = Runs(runs.unit, runs.cycle, runs.settings, sensors)
    with pytest.raises(NonFiniteValueError, match="training runs: unit 2 cycle 4: sensor 4 is nan"):
        fit_rul(bad, SMALL)


def test_too_few_units_or_rows(train: Runs) -> None:
    with pytest.raises(TooLittleDataError, match="2 units, at least 5 needed"):
        fit_rul(_units(train, 1, 2), RulConfig(folds=2))
    five = _units(train, 1, 5)
    first = np.flatnonzero(five.cycle <= 5)  # the first five cycles of five units
    few = Runs(five.unit[first], five.cycle[first], five.settings[first], five.sensors[first])
    with pytest.raises(TooLittleDataError, match="25 rows, at least 40 needed"):
        fit_rul(few, SMALL)


def test_mismatched_shapes_and_scattered_units(model: RulModel, train: Runs) -> None:
    runs = _units(train, 1, 2)
    with pytest.raises(RulDataError, match="do not line up"):
        model.predict(Runs(runs.unit, runs.cycle, runs.settings[:, :2], runs.sensors))
    with pytest.raises(RulDataError, match=r"sensors \(479, 20\): the model was fitted on 21"):
        model.predict(Runs(runs.unit, runs.cycle, runs.settings, runs.sensors[:, 1:]))
    order = np.r_[0:5, 300:305, 5:10]  # unit 1, unit 2, unit 1 again
    scattered = Runs(runs.unit[order], runs.cycle[order], runs.settings[order], runs.sensors[order])
    with pytest.raises(RulDataError, match="not together"):
        model.predict(scattered)
