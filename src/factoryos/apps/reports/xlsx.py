"""XLSX: a cover sheet, a sheet per table and a sheet per chart (its data and a native chart).

Cells hold real values with number formats, so the workbook computes: percents are fractions
shown with a percent format, durations are Excel durations (days) shown as ``[h]:mm:ss``,
undefined values are empty cells. Text is always stored as text (a downtime reason typed as
``=HYPERLINK(…)`` must not become a formula).
"""

import io
import re

from openpyxl import Workbook
from openpyxl.cell.cell import Cell as XlCell
from openpyxl.chart import BarChart, LineChart, Reference
from openpyxl.styles import Font
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from factoryos.apps.reports.model import Cell, Chart, Column, ColumnKind, Report, Table
from factoryos.apps.reports.text import display, period, unique_names, when

_SECONDS_PER_DAY = 86_400
_MAX_WIDTH = 60
_BOLD = Font(bold=True)


def to_xlsx(report: Report) -> bytes:
    book = Workbook()
    cover = book.active
    assert cover is not None
    sections = report.sections
    names = unique_names(_sheet_name(s.title, i) for i, s in enumerate(sections))
    _cover(cover, report, names)
    for name, section in zip(names, sections, strict=True):
        sheet = book.create_sheet(name)
        if isinstance(section, Table):
            _table(sheet, section)
        else:
            _chart(sheet, section)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _sheet_name(title: str, index: int) -> str:
    # Excel refuses []:*?/\ in sheet names and more than 31 characters; 3 are kept for "-nn".
    cleaned = re.sub(r"[\[\]:*?/\\']", " ", title).strip()[:28].strip()
    return cleaned or f"Section {index + 1}"


def _cover(sheet: Worksheet, report: Report, names: list[str]) -> None:
    sheet.title = "Report"
    _put(sheet, 1, 1, report.title).font = Font(bold=True, size=16)
    rows: list[tuple[str, str]] = [
        ("", report.subtitle),
        ("Period", period(report.period_start, report.period_end)),
        ("Generated", when(report.generated_at)),
        ("", ""),
    ]
    rows += [
        (name, s.note if isinstance(s, Table) else "chart")
        for name, s in zip(names, report.sections, strict=True)
    ]
    for row, (label, value) in enumerate(rows, start=2):
        _put(sheet, row, 1, label).font = _BOLD
        _put(sheet, row, 2, value)
    sheet.column_dimensions["A"].width = 30
    sheet.column_dimensions["B"].width = 70


def _put(sheet: Worksheet, row: int, col: int, value: Cell) -> XlCell:
    cell = sheet.cell(row, col)
    assert isinstance(cell, XlCell)  # no merged cells in our sheets
    cell.value = value
    if isinstance(value, str):
        cell.data_type = "s"  # never a formula, whatever the text starts with
    return cell


def _number_format(column: Column) -> str:
    places = "." + "0" * column.places if column.places else ""
    if column.kind is ColumnKind.PERCENT:
        return f"0{places}%"
    if column.kind is ColumnKind.DURATION:
        return "[h]:mm:ss"
    if column.kind is ColumnKind.COUNT:
        return "0"
    if column.kind is ColumnKind.NUMBER:
        return f"0{places}"
    return "@"


def _value(column: Column, value: Cell) -> Cell:
    if isinstance(value, int | float) and column.kind is ColumnKind.DURATION:
        return value / _SECONDS_PER_DAY
    return value


def _table(sheet: Worksheet, table: Table) -> None:
    for col, column in enumerate(table.columns, start=1):
        _put(sheet, 1, col, column.name).font = _BOLD
        fmt = _number_format(column)
        for row, values in enumerate(table.rows, start=2):
            _put(sheet, row, col, _value(column, values[col - 1])).number_format = fmt
        width = max([len(column.name)] + [len(display(column, r[col - 1])) for r in table.rows])
        sheet.column_dimensions[get_column_letter(col)].width = min(width + 2, _MAX_WIDTH)
    sheet.freeze_panes = "A2"
    last = f"{get_column_letter(len(table.columns))}{len(table.rows) + 1}"
    sheet.auto_filter.ref = f"A1:{last}"


def _chart(sheet: Worksheet, chart: Chart) -> None:
    """The chart's data as a small table (the chart refers to it) and the chart beside it."""
    names = [s.name for s in chart.series]
    if chart.target is not None:
        names.append("Target")
    for col, name in enumerate(names, start=2):
        _put(sheet, 1, col, name).font = _BOLD
    for row, category in enumerate(chart.categories, start=2):
        values = [s.values[row - 2] for s in chart.series]
        if chart.target is not None:
            values.append(chart.target)
        for col, value in enumerate([category, *values], start=1):
            _put(sheet, row, col, value)
    sheet.column_dimensions["A"].width = min(max(len(c) for c in chart.categories) + 2, _MAX_WIDTH)
    sheet.add_chart(_native_chart(sheet, chart), f"{get_column_letter(len(names) + 3)}2")


def _native_chart(sheet: Worksheet, chart: Chart) -> BarChart | LineChart:
    rows = len(chart.categories) + 1
    n = len(chart.series)
    main: BarChart | LineChart = BarChart() if chart.kind == "bar" else LineChart()
    main.title = chart.title
    main.y_axis.title = chart.unit or None
    main.height, main.width = 9, 18
    main.add_data(
        Reference(sheet, min_col=2, max_col=n + 1, min_row=1, max_row=rows), titles_from_data=True
    )
    categories = Reference(sheet, min_col=1, min_row=2, max_row=rows)
    main.set_categories(categories)
    if chart.target is not None:
        # The target is a line on either chart kind: for bars a line chart laid over them.
        target = LineChart() if chart.kind == "bar" else main
        target.add_data(
            Reference(sheet, min_col=n + 2, min_row=1, max_row=rows), titles_from_data=True
        )
        if target is not main:
            target.set_categories(categories)
            main += target
    return main
