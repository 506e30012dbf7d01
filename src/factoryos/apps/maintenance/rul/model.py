"""Remaining useful life (RUL) from run-to-failure histories: LightGBM on causal features.

:func:`fit_rul` learns, from units run to failure, the capped RUL of every row from the
features of :mod:`.features` on condition-scaled sensors (:mod:`.conditions`). It first runs
a grouped k-fold over units (no unit in both halves) to get out-of-fold predictions: they
give the validation figures and calibrate the prediction interval (:mod:`.intervals`).
Then it fits the final model on every unit: ``seeds`` boosters with different bagging seeds,
averaged (study 2: seed averaging steadies the last-cycle predictions).
"""

from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import lightgbm as lgb
import numpy as np
import numpy.typing as npt

from factoryos.apps.maintenance.cmapss import RUL_CAP, Runs
from factoryos.apps.maintenance.rul.conditions import SensorScaler, fit_scaler
from factoryos.apps.maintenance.rul.errors import (
    NonFiniteValueError,
    RulDataError,
    TooLittleDataError,
)
from factoryos.apps.maintenance.rul.features import (
    FeatureSpec,
    all_features,
    feature_names,
    unit_bounds,
)
from factoryos.apps.maintenance.rul.intervals import Intervals, calibrate

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
Progress = Callable[[str, float], None]


@dataclass(frozen=True, slots=True)
class RulConfig:
    """How to fit; the defaults are study 2's final configuration (chosen by grouped CV)."""

    cap: int = RUL_CAP
    features: FeatureSpec = field(default_factory=FeatureSpec)
    rounds: int = 600
    learning_rate: float = 0.03
    num_leaves: int = 15
    min_child_samples: int = 50
    feature_fraction: float = 0.5
    bagging_fraction: float = 0.8
    l2: float = 1.0
    seeds: int = 3
    # Rows still at the cap (the engine looks new) are half the rows of a long run and say
    # little about wear: halving their weight helped a little on both subsets (study 2).
    cap_weight: float = 0.5
    folds: int = 5
    coverage: float = 0.8
    interval_bins: int = 4
    min_history: int = 30  # validation/calibration rows: histories like a cut-off test unit's
    min_units: int = 5
    # One thread: OpenMP threads competing for a busy 2-core machine ran 5-100x slower, and the
    # predictions are the same with any count (study 2). 0: OpenMP's default.
    threads: int = 1
    seed: int = 0

    def lightgbm_params(self, seed: int) -> dict[str, Any]:
        return {
            "objective": "regression",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "min_child_samples": self.min_child_samples,
            "feature_fraction": self.feature_fraction,
            "bagging_fraction": self.bagging_fraction,
            "bagging_freq": 1,
            "lambda_l2": self.l2,
            "num_threads": self.threads,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
            "seed": seed,
        }


@dataclass(frozen=True, slots=True)
class RulPrediction:
    """Predicted RUL and its interval (nominal ``coverage``) for the rows asked about."""

    unit: I64
    cycle: I64
    rul: F64
    lower: F64
    upper: F64
    coverage: float


@dataclass(frozen=True)
class RulModel:
    """A fitted RUL model and what a model registry records about it (all JSON-able)."""

    scaler: SensorScaler
    spec: FeatureSpec
    boosters: tuple[lgb.Booster, ...]
    intervals: Intervals
    cap: float
    features: list[str]
    hyper_parameters: dict[str, Any]
    metrics: dict[str, float]
    training: dict[str, Any]

    def row_features(self, runs: Runs, where: str = "runs") -> F64:
        check_runs(runs, where)
        z = self.scaler.transform(runs.settings, runs.sensors, where)
        label = self.scaler.condition(runs.settings, where)
        return all_features(z, label, runs.unit, self.scaler.conditions, self.spec)

    def raw_predict(self, x: F64) -> F64:
        """Mean of the boosters on feature rows, clipped to [0, cap]."""
        total = np.zeros(x.shape[0])
        for booster in self.boosters:
            total += np.asarray(booster.predict(x), dtype=np.float64)
        clipped: F64 = np.clip(total / len(self.boosters), 0.0, self.cap)
        return clipped

    def predict_rows(self, runs: Runs) -> RulPrediction:
        """RUL after every row, each from that unit's history up to the row."""
        rul = self.raw_predict(self.row_features(runs))
        lower, upper = self.intervals.apply(rul, self.cap)
        return RulPrediction(runs.unit, runs.cycle, rul, lower, upper, self.intervals.coverage)

    def predict(self, runs: Runs) -> RulPrediction:
        """RUL after the last row of each unit (in order of first appearance)."""
        rows = self.predict_rows(runs)
        last = runs.last_rows()
        return RulPrediction(
            rows.unit[last],
            rows.cycle[last],
            rows.rul[last],
            rows.lower[last],
            rows.upper[last],
            rows.coverage,
        )

    def to_onnx(self) -> bytes:
        from factoryos.apps.maintenance.rul.onnx_export import export

        return export(self)


_COLUMNS = ("setting", "sensor")


def check_runs(runs: Runs, where: str) -> None:
    """Shapes agree, values finite, each unit's rows together; errors name unit and cycle."""
    n = runs.unit.size
    if n == 0:
        raise TooLittleDataError(f"{where}: no rows")
    if runs.cycle.shape != (n,) or runs.settings.shape != (n, 3) or runs.sensors.shape[0] != n:
        raise RulDataError(
            f"{where}: unit {runs.unit.shape}, cycle {runs.cycle.shape}, settings "
            f"{runs.settings.shape}, sensors {runs.sensors.shape} do not line up (n×3 settings)"
        )
    for kind, values in zip(_COLUMNS, (runs.settings, runs.sensors), strict=True):
        bad = np.argwhere(~np.isfinite(values))
        if bad.size:
            row, col = int(bad[0][0]), int(bad[0][1])
            raise NonFiniteValueError(
                f"{where}: unit {runs.unit[row]} cycle {runs.cycle[row]}: {kind} {col + 1} "
                f"is {values[row, col]} ({bad.shape[0]} non-finite values in all)"
            )
    if len(unit_bounds(runs.unit)) != np.unique(runs.unit).size:
        raise RulDataError(f"{where}: a unit's rows are not together (sort by unit, cycle)")


def _subset(runs: Runs, mask: npt.NDArray[np.bool_]) -> Runs:
    return Runs(runs.unit[mask], runs.cycle[mask], runs.settings[mask], runs.sensors[mask])


def _seen(unit: I64) -> I64:
    """1-based position of each row in its unit's history."""
    out = np.empty(unit.size, dtype=np.int64)
    for a, b in unit_bounds(unit):
        out[a:b] = np.arange(1, b - a + 1)
    return out


def _unit_weights(unit: I64, mask: npt.NDArray[np.bool_]) -> F64:
    """Weights over the masked rows giving every unit the same total."""
    weights = np.zeros(unit.size)
    ids, counts = np.unique(unit[mask], return_counts=True)
    per = dict(zip(ids.tolist(), (1.0 / counts).tolist(), strict=True))
    weights[mask] = [per[u] for u in unit[mask].tolist()]
    return weights


def _fit_boosters(x: F64, y: F64, config: RulConfig) -> tuple[lgb.Booster, ...]:
    weight = np.where(y >= config.cap, config.cap_weight, 1.0)
    return tuple(
        lgb.train(
            config.lightgbm_params(config.seed + s),
            lgb.Dataset(x, y, weight=weight),
            config.rounds,
        )
        for s in range(config.seeds)
    )


def _fold_of_units(unit: I64, folds: int, seed: int) -> I64:
    """Fold number of every row: units shuffled (seeded) and dealt round-robin."""
    ids = np.unique(unit)
    order = np.random.default_rng(seed).permutation(ids)
    fold_of = {int(u): k % folds for k, u in enumerate(order.tolist())}
    return np.array([fold_of[u] for u in unit.tolist()], dtype=np.int64)


def _check_fit_input(runs: Runs, config: RulConfig) -> None:
    check_runs(runs, "training runs")
    units = np.unique(runs.unit).size
    needed = max(config.min_units, config.folds)
    if units < needed:
        raise TooLittleDataError(
            f"training runs: {units} units, at least {needed} needed "
            f"(min_units {config.min_units}, folds {config.folds})"
        )
    if runs.unit.size < 2 * config.min_child_samples:
        raise TooLittleDataError(
            f"training runs: {runs.unit.size} rows, at least {2 * config.min_child_samples} "
            f"needed (2 × min_child_samples)"
        )


def _out_of_fold(runs: Runs, y: F64, config: RulConfig, progress: Progress) -> F64:
    fold = _fold_of_units(runs.unit, config.folds, config.seed)
    predicted = np.zeros(y.size)
    for k in range(config.folds):
        progress(f"validation fold {k + 1}/{config.folds}", k / (config.folds + 1))
        train, held = fold != k, fold == k
        part = _subset(runs, train)
        scaler = fit_scaler(part.settings, part.sensors)
        model = _assemble(scaler, config, _boosters_on(part, scaler, y[train], config))
        predicted[held] = model.raw_predict(model.row_features(_subset(runs, held)))
    return predicted


def _boosters_on(
    runs: Runs, scaler: SensorScaler, y: F64, config: RulConfig
) -> tuple[lgb.Booster, ...]:
    z = scaler.transform(runs.settings, runs.sensors, "training runs")
    label = scaler.condition(runs.settings, "training runs")
    x = all_features(z, label, runs.unit, scaler.conditions, config.features)
    return _fit_boosters(x, y, config)


def _assemble(
    scaler: SensorScaler,
    config: RulConfig,
    boosters: tuple[lgb.Booster, ...],
    intervals: Intervals | None = None,
    record: dict[str, Any] | None = None,
) -> "RulModel":
    names = feature_names([f"s{j + 1}" for j in scaler.sensors], scaler.conditions, config.features)
    info = record or {}
    none = Intervals(config.coverage, np.zeros(0), np.zeros(1), np.zeros(1))
    return RulModel(
        scaler=scaler,
        spec=config.features,
        boosters=boosters,
        intervals=intervals or none,
        cap=float(config.cap),
        features=names,
        hyper_parameters=info.get("hyper_parameters", {}),
        metrics=info.get("metrics", {}),
        training=info.get("training", {}),
    )


def _validation(
    runs: Runs, y: F64, predicted: F64, config: RulConfig
) -> tuple[Intervals, dict[str, float]]:
    seen = _seen(runs.unit)
    shortest = min(b - a for a, b in unit_bounds(runs.unit))
    test_like = seen >= min(config.min_history, shortest)
    weights = _unit_weights(runs.unit, test_like)
    intervals = calibrate(
        predicted[test_like],
        y[test_like],
        weights[test_like],
        config.coverage,
        config.interval_bins,
    )
    lower, upper = intervals.apply(predicted, float(config.cap))
    inside = (y >= lower) & (y <= upper)
    w = weights[test_like] / weights[test_like].sum()
    error = (predicted - y)[test_like]
    metrics = {
        "cv_rmse_all_rows": float(np.sqrt(np.mean((predicted - y) ** 2))),
        "cv_rmse_test_like": float(np.sqrt(np.sum(w * error**2))),
        "cv_interval_coverage": float(np.sum(w * inside[test_like])),
        "cv_interval_mean_width": float(np.sum(w * (upper - lower)[test_like])),
        "cv_last_row_rmse": float(np.sqrt(np.mean((predicted - y)[runs.last_rows()] ** 2))),
    }
    return intervals, metrics


def _quiet(stage: str, fraction: float) -> None:
    """No progress reporting."""


def fit_rul(
    runs: Runs, config: RulConfig | None = None, *, progress: Progress | None = None
) -> RulModel:
    """Fit on run-to-failure histories (every unit's last row is its failure)."""
    config = config or RulConfig()
    report = progress or _quiet
    _check_fit_input(runs, config)
    y = runs.rul_targets(config.cap)
    predicted = _out_of_fold(runs, y, config, report)
    intervals, metrics = _validation(runs, y, predicted, config)
    report("final model", config.folds / (config.folds + 1))
    scaler = fit_scaler(runs.settings, runs.sensors)
    boosters = _boosters_on(runs, scaler, y, config)
    record = {
        "hyper_parameters": _hyper_parameters(config),
        "metrics": metrics,
        "training": {
            "units": int(np.unique(runs.unit).size),
            "rows": int(runs.unit.size),
            "conditions": scaler.conditions,
            "sensors_kept": [f"s{j + 1}" for j in scaler.sensors],
            "sensors_dropped": [f"s{j + 1}" for j in scaler.dropped],
            "interval": intervals.to_json(),
        },
    }
    report("done", 1.0)
    return _assemble(scaler, config, boosters, intervals, record)


def _hyper_parameters(config: RulConfig) -> dict[str, Any]:
    found = asdict(config)
    found["features"] = {"short": list(config.features.short), "long": list(config.features.long)}
    return found
