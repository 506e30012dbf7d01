"""The energy app's exceptions: one root, each naming the meter, time, factor or field at fault."""

from factoryos.errors import FactoryOSError


class EnergyError(FactoryOSError):
    """Root of every energy and carbon error."""


class ReadingError(EnergyError, ValueError):
    """A meter reading that cannot be right: negative, NaN, decreasing without being a
    rollover or a reset, or a jump no meter of that size can make."""


class EnergyQueryError(EnergyError, ValueError):
    """A question the configured energy app cannot answer: an unknown place or meter, a range
    that ends before it starts, shifts of an equipment without an ``oee:`` entry."""


class UnitError(EnergyError, ValueError):
    """A unit that is unknown or of the wrong kind (kWh where m³ is expected, Nm³ for m³)."""


class FactorError(EnergyError, LookupError):
    """An emission factor that is missing, duplicated or malformed in the library."""


class InventoryError(EnergyError, ValueError):
    """Activity data that cannot make an inventory (certificates above consumption …)."""


class AllocationError(EnergyError, ValueError):
    """Emissions that cannot be allocated to products by the chosen rule."""
