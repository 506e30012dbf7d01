"""Remaining useful life: fit on run-to-failure histories, predict with an interval, export.

>>> model = fit_rul(subset.train)               # doctest: +SKIP
>>> model.predict(subset.test).rul              # doctest: +SKIP
"""

from factoryos.apps.maintenance.rul.conditions import SensorScaler, fit_scaler
from factoryos.apps.maintenance.rul.errors import (
    NonFiniteValueError,
    RulDataError,
    RulError,
    RulExportError,
    TooLittleDataError,
)
from factoryos.apps.maintenance.rul.features import FeatureSpec, feature_names, window_stats
from factoryos.apps.maintenance.rul.intervals import Intervals, calibrate, covered
from factoryos.apps.maintenance.rul.model import RulConfig, RulModel, RulPrediction, fit_rul

__all__ = [
    "FeatureSpec",
    "Intervals",
    "NonFiniteValueError",
    "RulConfig",
    "RulDataError",
    "RulError",
    "RulExportError",
    "RulModel",
    "RulPrediction",
    "SensorScaler",
    "TooLittleDataError",
    "calibrate",
    "covered",
    "feature_names",
    "fit_rul",
    "fit_scaler",
    "window_stats",
]
