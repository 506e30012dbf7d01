"""Errors of the edge package."""

from factoryos.errors import FactoryOSError


class EdgeError(FactoryOSError):
    """Root of the edge package's errors."""


class OutboxError(EdgeError):
    """The outbox cannot store or read records (disk full, unreadable file, closed)."""


class OutboxFullError(OutboxError):
    """An append refused because the outbox is full and its policy is REJECT."""


class UplinkError(EdgeError):
    """A record could not be delivered upstream; the sender retries it later."""


class GatewayConfigError(EdgeError):
    """A gateway config file that is unreadable or invalid; the message names file and line."""
