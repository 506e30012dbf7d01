"""Errors of the virtual factory.

``SimError`` is the root; every error names the equipment, tag, device or parameter at fault.
"""

from factoryos.errors import FactoryOSError


class SimError(FactoryOSError):
    """Root of the sim package's errors."""


class SimConfigError(SimError):
    """A site file the simulator cannot run (unknown parameter, signal with no source)."""


class UnknownPathError(SimError):
    """An equipment or tag path that the factory does not simulate."""


class FaultError(SimError):
    """A fault that cannot be injected into the named equipment."""


class SimServerError(SimError):
    """A protocol server that cannot start (port in use, bad host)."""
