"""Why a detector cannot be fitted or asked to score: the message names signal, row or count."""

from factoryos.apps.maintenance.errors import MaintenanceError


class DetectorError(MaintenanceError):
    """Root of every detector error."""


class TooFewRowsError(DetectorError):
    """Fewer training rows than the detector needs; the message says how many it needs."""


class ConstantSignalsError(DetectorError):
    """Every signal is constant over the training rows: there is nothing to model."""


class NonFiniteTrainingError(DetectorError):
    """A NaN or infinite value in the training rows; the message names the signal and row."""


class ColumnCountError(DetectorError):
    """The data has a different number of columns than the detector's signals."""


class UnknownFamilyError(DetectorError):
    """A detector family that does not exist."""


class UncalibratedError(DetectorError):
    """Settings for which no horizon factor was calibrated, and none was given."""


class ExportError(DetectorError):
    """The ONNX graph could not be built or run."""
