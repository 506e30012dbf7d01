"""Errors of the bench package."""

from factoryos.errors import FactoryOSError


class BenchError(FactoryOSError):
    """A benchmark given bad parameters, or whose run produced a wrong result."""
