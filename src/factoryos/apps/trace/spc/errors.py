"""The SPC module's one exception.

``SpcError`` is raised for input that cannot give a meaningful chart, index or rule check
(too few points, no spread, a subgroup size outside the tables, NaN …). It sits under the
traceability app's root, ``TraceError``, and is a ``ValueError`` as well, so callers that
only know the standard library still catch it.
"""

from factoryos.apps.trace.errors import TraceError


class SpcError(TraceError, ValueError):
    """Input to an SPC computation is impossible or gives no meaningful result."""
