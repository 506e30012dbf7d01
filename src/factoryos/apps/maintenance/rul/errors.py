"""Errors of remaining-useful-life estimation; each names the field, unit or row at fault."""

from factoryos.apps.maintenance.errors import MaintenanceError


class RulError(MaintenanceError):
    """Root of every remaining-useful-life error."""


class RulDataError(RulError):
    """Run data a model cannot be fitted on or applied to (shape, NaN, too little, constant)."""


class TooLittleDataError(RulDataError):
    """Fewer units or rows than fitting needs; the message says how many and how many needed."""


class NonFiniteValueError(RulDataError):
    """A NaN or infinite setting or sensor value; the message names unit, cycle and column."""


class RulExportError(RulError):
    """A model that cannot be exported, or whose export disagrees with the model."""
