"""The traceability app's exception tree.

``TraceError`` ── ``IdentifierError``: a GS1 key, Digital Link URI or EPC URN that is
malformed; the message names the identifier and what is wrong with it.
"""

from factoryos.errors import FactoryOSError


class TraceError(FactoryOSError):
    """Root of every traceability error."""


class IdentifierError(TraceError, ValueError):
    """A GS1 identifier (key, Digital Link URI, EPC URN or pattern) is invalid."""


class GenealogyError(TraceError, ValueError):
    """A trace that cannot be walked as asked (a depth out of range, an explosion)."""
