"""Errors of the bus package."""

from factoryos.errors import FactoryOSError


class BusError(FactoryOSError):
    """Root of the bus package's errors."""


class BusClosedError(BusError):
    """A publish or subscribe on a bus that has been closed."""
