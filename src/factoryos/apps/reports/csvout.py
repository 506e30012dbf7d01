"""CSV: one file per table, for machines first.

UTF-8 without a byte-order mark, comma separated, ``\\r\\n`` line ends (RFC 4180), one header
row. Values keep full precision (the column's ``decimals`` is for display only): numbers with
a ``.`` decimal point, percents as fractions (0.853) with `` [ratio]`` after the column name,
durations in seconds with `` [s]``, undefined values as an empty field.
"""

import csv
import io

from factoryos.apps.reports.model import Cell, Column, ColumnKind, Report, Table
from factoryos.apps.reports.text import slug, unique_names

_SUFFIX = {ColumnKind.PERCENT: " [ratio]", ColumnKind.DURATION: " [s]"}


def header(column: Column) -> str:
    return column.name + _SUFFIX.get(column.kind, "")


def _field(value: Cell) -> str:
    if value is None:
        return ""
    # repr of a float is the shortest text that reads back as the same float
    return repr(value) if isinstance(value, float) else str(value)


def table_csv(table: Table) -> bytes:
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([header(c) for c in table.columns])
    writer.writerows([_field(v) for v in row] for row in table.rows)
    return out.getvalue().encode("utf-8")


def to_csv(report: Report) -> dict[str, bytes]:
    """``{"oee-by-machine.csv": b"..."}``: file names are the table titles, slugged."""
    tables = report.tables
    names = unique_names(slug(t.title, f"table-{i + 1}") for i, t in enumerate(tables))
    return {f"{name}.csv": table_csv(t) for name, t in zip(names, tables, strict=True)}
