"""The OEE app's exception tree.

``OeeError`` ─┬─ ``InvalidInputError``: a count, a time or a sample that cannot be right
              │    └─ ``CounterError``: a counter series that cannot be turned into a count
              ├─ ``MissingIdealCycleTimeError``: a product produced parts but has no ideal
              │    cycle time, so performance cannot be computed
              └─ ``ImplausibleKpiError``: the inputs give a KPI outside its possible range
"""

from factoryos.errors import FactoryOSError


class OeeError(FactoryOSError):
    """Root of every OEE error."""


class InvalidInputError(OeeError, ValueError):
    """An input value is impossible (negative, NaN, inconsistent)."""


class CounterError(InvalidInputError):
    """A cumulative counter series is out of order, negative, NaN or jumps implausibly."""


class MissingIdealCycleTimeError(OeeError):
    """A product produced parts but no ideal cycle time is known for it."""


class ImplausibleKpiError(OeeError):
    """A KPI came out beyond its possible range: an input (often a cycle time) is wrong."""
