"""RUL features and operating conditions against values worked out by hand."""

import numpy as np
import pytest

from factoryos.apps.maintenance.rul import FeatureSpec, RulDataError, feature_names, fit_scaler
from factoryos.apps.maintenance.rul.features import all_features, unit_features, window_stats


def test_window_stats_by_hand() -> None:
    x = np.array([[1.0], [2.0], [4.0], [8.0]])
    mean, std, slope = window_stats(x, 3)
    assert mean[:, 0].tolist() == pytest.approx([1.0, 1.5, 7 / 3, 14 / 3])
    # rows 0..2 = 1, 2, 4: deviations -4/3, -1/3, 5/3 → variance 42/27
    assert std[2, 0] == pytest.approx(np.sqrt(42 / 27))
    # rows 1..3 = 2, 4, 8 at t = 1, 2, 3: Σ(t-2)(x-14/3) / Σ(t-2)² = 6 / 2
    assert slope[:, 0].tolist() == pytest.approx([0.0, 1.0, 1.5, 3.0])
    whole, _, whole_slope = window_stats(x, 0)  # 0: the whole history so far
    assert whole[3, 0] == pytest.approx(15 / 4)
    assert whole_slope[3, 0] == pytest.approx(2.3)  # Σ(t-1.5)(x-3.75) / Σ(t-1.5)² = 11.5 / 5


def test_features_are_causal_and_named() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(40, 2))
    spec = FeatureSpec(short=(5,), long=(0,))
    label = np.array([0] * 20 + [1] * 20)
    full = unit_features(z, label, 2, spec)
    cut = unit_features(z[:25], label[:25], 2, spec)
    assert np.array_equal(full[:25], cut)  # later rows never change earlier features
    names = feature_names(["s2", "s3"], 2, spec)
    assert full.shape[1] == len(names) == 2 + 6 + 4 + 1 + 2
    assert names[-3:] == ["age", "share_condition0", "share_condition1"]
    assert full[:, names.index("age")].tolist() == list(range(1, 41))
    assert full[21, -2:].tolist() == pytest.approx([20 / 22, 2 / 22])


def test_each_unit_starts_a_fresh_history() -> None:
    z = np.arange(6.0).reshape(6, 1)
    unit = np.array([7, 7, 7, 3, 3, 3])
    x = all_features(z, np.zeros(6, dtype=np.intp), unit, 1, FeatureSpec(short=(), long=(0,)))
    assert x[:, 0].tolist() == [0, 1, 2, 3, 4, 5]  # last
    assert x[:, 1].tolist() == [0, 0.5, 1, 3, 3.5, 4]  # whole-history mean restarts at unit 3
    assert x[:, 3].tolist() == [1, 2, 3, 1, 2, 3]  # age


def _two_conditions() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(1)
    n = 200
    at = rng.integers(0, 2, n)
    settings = np.where(at[:, None] == 0, [0.0, 0.0, 100.0], [35.0, 0.84, 60.0])
    settings = settings + rng.normal(0, 0.002, (n, 3))
    sensors = np.column_stack(
        [
            np.full(n, 518.67),  # constant: dropped
            np.where(at == 0, 640.0, 550.0) + rng.normal(0, 0.5, n),
            rng.integers(0, 3, n).astype(float),  # three distinct values: dropped
        ]
    )
    return settings, sensors


def test_conditions_are_found_and_sensors_scaled_within_them() -> None:
    settings, sensors = _two_conditions()
    scaler = fit_scaler(settings, sensors)
    assert scaler.conditions == 2
    assert scaler.sensors == (1,) and scaler.dropped == (0, 2)
    z = scaler.transform(settings, sensors)
    for c in range(2):
        inside = scaler.condition(settings) == c
        assert abs(z[inside, 0].mean()) < 1e-9 and z[inside, 0].std() == pytest.approx(1.0)


def test_an_unseen_operating_condition_is_refused_naming_the_row() -> None:
    settings, sensors = _two_conditions()
    scaler = fit_scaler(settings, sensors)
    odd = settings[:3].copy()
    odd[2] = [20.0, 0.7, 100.0]
    with pytest.raises(RulDataError, match=r"test: row 2 settings \[20.0, 0.7, 100.0\]"):
        scaler.transform(odd, sensors[:3], "test")


def test_all_constant_sensors_are_an_error() -> None:
    settings, sensors = _two_conditions()
    with pytest.raises(RulDataError, match="all 2 are constant"):
        fit_scaler(settings, sensors[:, [0, 2]])
