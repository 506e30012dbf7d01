"""All the files of one report run, named after the report and its period."""

from collections.abc import Callable, Sequence

from factoryos.apps.reports.config import Format
from factoryos.apps.reports.csvout import to_csv
from factoryos.apps.reports.model import Report
from factoryos.apps.reports.pdf import to_pdf
from factoryos.apps.reports.xlsx import to_xlsx

_SINGLE: dict[str, Callable[[Report], bytes]] = {"xlsx": to_xlsx, "pdf": to_pdf}


def file_stem(name: str, report: Report) -> str:
    """``daily-oee_2024-03-30``: the report's name and the first day of its period."""
    return f"{name}_{report.period_start:%Y-%m-%d}"


def render(name: str, report: Report, formats: Sequence[Format]) -> dict[str, bytes]:
    """``{"daily-oee_2024-03-30.pdf": b"%PDF…", "daily-oee_2024-03-30_oee.csv": b"…"}``."""
    stem = file_stem(name, report)
    files: dict[str, bytes] = {}
    for fmt in formats:
        if fmt == "csv":
            files.update({f"{stem}_{table}": data for table, data in to_csv(report).items()})
        else:
            files[f"{stem}.{fmt}"] = _SINGLE[fmt](report)
    return files


MIME_TYPES = {
    "csv": "text/csv",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pdf": "application/pdf",
}


def mime_type(filename: str) -> str:
    """The MIME type of a file :func:`render` made (for e-mail attachments)."""
    return MIME_TYPES[filename.rsplit(".", 1)[-1]]
