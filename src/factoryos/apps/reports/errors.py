"""The reports package's exceptions.

``ReportError`` ─┬─ ``ReportModelError``: a report, table or chart that is inconsistent
                 │    (a row of the wrong length, a value that does not match its column)
                 ├─ ``ScheduleError``: a schedule that cannot be computed (e.g. a time zone
                 │    the machine does not know)
                 └─ ``StateFileError``: the job's state file cannot be read or written
"""

from factoryos.errors import FactoryOSError


class ReportError(FactoryOSError):
    """Root of every reports error."""


class ReportModelError(ReportError, ValueError):
    """A report's content is inconsistent; the message names the table, row and column."""


class ScheduleError(ReportError, ValueError):
    """A schedule cannot be used; the message names the field."""


class StateFileError(ReportError):
    """The state file of a report job is unreadable or cannot be written; names the path."""
