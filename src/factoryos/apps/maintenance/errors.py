"""The maintenance app's exceptions: one root, each naming the file, line or field at fault."""

from factoryos.errors import FactoryOSError


class MaintenanceError(FactoryOSError):
    """Root of every maintenance error."""


class DatasetError(MaintenanceError):
    """A run-to-failure data file that cannot be read; the message names file and line."""
