"""Scheduled reports: a report model, CSV/XLSX/PDF renderers, schedules and a runner.

The package knows nothing about OEE or e-mail: an application builds a :class:`Report` for a
period and hands the rendered files to a ``deliver`` callable (docs/reports.md).
"""

from factoryos.apps.reports.config import Format, ReportConfig, ReportConfigs
from factoryos.apps.reports.csvout import to_csv
from factoryos.apps.reports.errors import (
    ReportError,
    ReportModelError,
    ScheduleError,
    StateFileError,
)
from factoryos.apps.reports.model import (
    Cell,
    Chart,
    Column,
    ColumnKind,
    Report,
    Section,
    Series,
    Table,
)
from factoryos.apps.reports.pdf import to_pdf
from factoryos.apps.reports.pdffont import DEFAULT_FONTS, PdfFont
from factoryos.apps.reports.render import mime_type, render
from factoryos.apps.reports.runner import Build, Deliver, JobLimits, ReportJob
from factoryos.apps.reports.schedule import (
    Period,
    Schedule,
    Weekday,
    due,
    last_run,
    next_run,
    period_of,
)
from factoryos.apps.reports.xlsx import to_xlsx

__all__ = [
    "DEFAULT_FONTS",
    "Build",
    "Cell",
    "Chart",
    "Column",
    "ColumnKind",
    "Deliver",
    "Format",
    "JobLimits",
    "PdfFont",
    "Period",
    "Report",
    "ReportConfig",
    "ReportConfigs",
    "ReportError",
    "ReportJob",
    "ReportModelError",
    "Schedule",
    "ScheduleError",
    "Section",
    "Series",
    "StateFileError",
    "Table",
    "Weekday",
    "due",
    "last_run",
    "mime_type",
    "next_run",
    "period_of",
    "render",
    "to_csv",
    "to_pdf",
    "to_xlsx",
]
