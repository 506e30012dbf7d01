"""Errors of the store package."""

from factoryos.errors import FactoryOSError


class StoreError(FactoryOSError):
    """Root of the time-series store's errors."""


class QueryError(StoreError):
    """A query with bad parameters (range, bucket, aggregate); the message names the parameter."""


class InvalidBatchError(StoreError):
    """A batch that cannot be stored (e.g. a tag id out of range); nothing of it was written."""


class IngestError(StoreError):
    """The ingest worker could not store what it received, or a flush timed out."""
