"""Anomaly detectors per equipment: several families behind one interface (issue 7).

`fit_detector` fits one family on a window of normal operation; `select_detector` chooses the
family per asset by validation on the training window only; `Persistence` turns scores into
alarms; `export_check` compares the ONNX graph with the numpy scorer."""

from factoryos.apps.maintenance.detectors.base import (
    FAMILIES,
    DetectorConfig,
    FittedDetector,
    Persistence,
    persistence,
)
from factoryos.apps.maintenance.detectors.detector import WindowDetector, fit_detector
from factoryos.apps.maintenance.detectors.errors import (
    ColumnCountError,
    ConstantSignalsError,
    DetectorError,
    ExportError,
    NonFiniteTrainingError,
    TooFewRowsError,
    UncalibratedError,
    UnknownFamilyError,
)
from factoryos.apps.maintenance.detectors.export import export_check, onnx_session, run_onnx
from factoryos.apps.maintenance.detectors.select import select_detector

__all__ = [
    "FAMILIES",
    "ColumnCountError",
    "ConstantSignalsError",
    "DetectorConfig",
    "DetectorError",
    "ExportError",
    "FittedDetector",
    "NonFiniteTrainingError",
    "Persistence",
    "TooFewRowsError",
    "UncalibratedError",
    "UnknownFamilyError",
    "WindowDetector",
    "export_check",
    "fit_detector",
    "onnx_session",
    "persistence",
    "run_onnx",
    "select_detector",
]
