"""The twin package's errors, one root for all of them.

::

    TwinError
    ├── HandleError            a handle or prefix that breaks the grammar (400)
    ├── RecordError            an identifier record that is malformed or too large (400)
    ├── PrefixNotOwnedError    registration under a prefix another tenant owns, or nobody (403)
    ├── PrefixTakenError       a prefix (or one above or below it) already allocated (409)
    ├── NotFoundError          no such identifier, or no node serves its prefix (404)
    ├── ResolverConfigError    a FACTORYOS_RESOLVER_* setting that cannot be used (503)
    └── ParentError            the parent node could not answer (502)
        ├── ParentTimeoutError     … within the timeout (504)
        └── ResolutionLoopError    … because forwarding went round in a loop (508)

Foreign errors (httpx, the catalog's integrity errors) are translated where they happen,
with ``raise … from``; the API maps these classes to statuses in one table.
"""

from factoryos.errors import FactoryOSError


class TwinError(FactoryOSError):
    """Root of the twin package's errors."""


class HandleError(TwinError):
    """A handle or prefix that breaks the grammar; the message names the field and the part."""

    def __init__(self, field: str, text: str, problem: str) -> None:
        self.field = field
        self.problem = problem
        shown = text if len(text) <= 60 else text[:57] + "..."
        super().__init__(f"{field}: {shown!r}: {problem}")


class RecordError(TwinError):
    """An identifier record that cannot be stored; the message names the field."""


class PrefixNotOwnedError(TwinError):
    """The caller's tenant does not own the prefix it registers under."""


class PrefixTakenError(TwinError):
    """The prefix, or one above or below it, belongs to another tenant."""


class NotFoundError(TwinError):
    """No identifier with that handle (``node`` says which node said so)."""

    def __init__(self, handle: str, node: str, reason: str) -> None:
        self.handle = handle
        self.node = node
        self.reason = reason
        super().__init__(f"handle: {handle!r}: {reason} (answered by node {node!r})")


class ResolverConfigError(TwinError):
    """A resolver setting (environment variable) that cannot be used."""


class ParentError(TwinError):
    """The parent node did not give a usable answer; the message names the parent."""


class ParentTimeoutError(ParentError):
    """The parent node did not answer within the timeout."""


class ResolutionLoopError(ParentError):
    """A resolution forwarded more times than any real hierarchy needs: nodes point at each
    other (a misconfigured parent URL)."""


__all__ = [
    "HandleError",
    "NotFoundError",
    "ParentError",
    "ParentTimeoutError",
    "PrefixNotOwnedError",
    "PrefixTakenError",
    "RecordError",
    "ResolutionLoopError",
    "ResolverConfigError",
    "TwinError",
]
