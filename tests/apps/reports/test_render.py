"""Render the sample report and read every format back with a real reader."""

import csv
import dataclasses
import io
import itertools
import re
from datetime import timedelta

import openpyxl
import pytest
from openpyxl.chart import BarChart, LineChart
from pypdf import PdfReader

from factoryos.apps.reports import (
    DEFAULT_FONTS,
    Chart,
    Column,
    Report,
    Table,
    mime_type,
    render,
    to_csv,
    to_pdf,
    to_xlsx,
)
from factoryos.apps.reports.pdfchart import PALETTE, nice_ticks
from support import pdfpixels

from .sample import LONG_ROWS, ROWS, oee_table, sample_report

HAS_DEJAVU = any(f.regular.is_file() for f in DEFAULT_FONTS)


def _read_csv(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8"), newline="")))


def test_csv_has_one_file_per_table_and_values_round_trip() -> None:
    files = to_csv(sample_report())
    assert sorted(files) == ["downtime-by-reason.csv", "oee-by-machine.csv"]
    rows = _read_csv(files["oee-by-machine.csv"])
    assert rows[0] == ["Machine", "Temperature °C", "OEE [ratio]", "Downtime [s]", "Good parts"]
    parsed = [
        (
            r[0],
            float(r[1]) if r[1] else None,
            float(r[2]) if r[2] else None,
            float(r[3]),
            int(r[4]) if r[4] else None,
        )
        for r in rows[1:]
    ]
    assert parsed == [tuple(row) for row in ROWS]
    assert rows[2][2] == ""  # undefined OEE is empty, not 0
    assert len(_read_csv(files["downtime-by-reason.csv"])) == LONG_ROWS + 1


def test_csv_file_names_are_unique_and_never_empty() -> None:
    report = sample_report()
    table = Table("中文", [Column("a")], [["x"]])
    twice = Report(
        report.title,
        "",
        report.period_start,
        report.period_end,
        report.generated_at,
        [oee_table(), oee_table(), table],
    )
    assert sorted(to_csv(twice)) == ["oee-by-machine-2.csv", "oee-by-machine.csv", "table-3.csv"]


def test_xlsx_has_values_number_formats_and_native_charts() -> None:
    book = openpyxl.load_workbook(io.BytesIO(to_xlsx(sample_report())))
    assert book.sheetnames == [
        "Report",
        "OEE by machine",
        "OEE by day",
        "Downtime by reason",
        "Downtime trend",
    ]
    cover = book["Report"]
    assert cover["A1"].value == "Tagesbericht OEE – Werk Süd"
    assert "2024-03-30 00:00 UTC+01:00" in str(cover["B3"].value)
    sheet = book["OEE by machine"]
    assert sheet.freeze_panes == "A2"
    assert [c.value for c in sheet[1]] == [c.name for c in oee_table().columns]
    assert [c.value for c in sheet[2]] == [
        "Presse Müller",
        21.5,
        0.8532,
        timedelta(seconds=3725),
        1200,
    ]
    assert [c.value for c in sheet[3]][2] is None  # undefined stays empty
    assert [c.number_format for c in sheet[2]][1:] == ["0.0", "0.0%", "[h]:mm:ss", "0"]
    assert sheet["A4"].value == "中文 机器"
    bar, line = book["OEE by day"]._charts, book["Downtime trend"]._charts
    assert len(bar) == 1 and isinstance(bar[0], BarChart)
    assert len(line) == 1 and isinstance(line[0], LineChart)
    assert book["OEE by day"]["D2"].value == 0.85  # the target series beside the data
    assert book["OEE by day"]["B4"].value is None


def test_xlsx_text_is_never_a_formula() -> None:
    report = sample_report()
    evil = Table("Reasons", [Column("Reason")], [['=HYPERLINK("http://x")']])
    book = openpyxl.load_workbook(
        io.BytesIO(
            to_xlsx(
                Report("R", "", report.period_start, report.period_end, report.generated_at, [evil])
            )
        )
    )
    cell = book["Reasons"]["A2"]
    assert cell.data_type == "s" and cell.value == '=HYPERLINK("http://x")'


def _pdf_text(data: bytes) -> tuple[int, str]:
    reader = PdfReader(io.BytesIO(data))
    return len(reader.pages), "\n".join(p.extract_text() for p in reader.pages)


@pytest.mark.skipif(not HAS_DEJAVU, reason="no DejaVu font on this machine")
def test_pdf_with_a_unicode_font_has_title_period_cells_and_pages() -> None:
    pages, text = _pdf_text(to_pdf(sample_report()))
    assert pages > 1
    for expected in (
        "Tagesbericht OEE – Werk Süd",
        "Period: 2024-03-30 00:00 UTC+01:00 – 2024-03-31 00:00 UTC+01:00",
        "Presse Müller",
        "Fräse µ-Linie",
        "85.3 %",
        "1:02:05",
        "25:01:01",
        "Temperature °C",
        f"Störung {LONG_ROWS - 1:03d}",
        f"Page {pages} / {pages}",
    ):
        assert expected in text
    # DejaVu has no Chinese glyphs: they become "?" rather than vanishing
    assert "?? ??" in text


def test_pdf_repeats_the_table_header_on_every_page() -> None:
    reader = PdfReader(io.BytesIO(to_pdf(sample_report())))
    with_rows = [p.extract_text() for p in reader.pages if "Störung" in p.extract_text()]
    assert len(with_rows) >= 2
    for page in with_rows:
        assert re.search(r"Reason\s+Stops", page)


def test_pdf_without_any_truetype_font_falls_back_to_helvetica() -> None:
    data = to_pdf(sample_report(), fonts=())
    pages, text = _pdf_text(data)
    assert pages > 1
    assert "Tagesbericht OEE – Werk Süd" in text  # Windows-1252 covers ü, –, °, µ
    assert "Fräse µ-Linie" in text
    assert b"/Helvetica" in data


def test_pdf_draws_the_charts() -> None:
    reader = PdfReader(io.BytesIO(to_pdf(sample_report())))
    page = reader.pages[0]
    ops = [op for _, op in page.get_contents().operations]  # type: ignore[union-attr]
    # 9 bars (one value is undefined), a legend box per series, lines for grid and axes
    assert ops.count(b"re") >= 9 + 2
    assert ops.count(b"d") >= 1  # the dashed target line


def test_a_table_after_a_chart_is_not_filled_with_the_charts_colour() -> None:
    chart = next(s for s in sample_report().sections if isinstance(s, Chart))
    table = Table("After", [Column("Row")], [(f"row {i}",) for i in range(20)])
    base = sample_report()
    only_chart = dataclasses.replace(base, sections=[chart])
    chart_then_table = dataclasses.replace(base, sections=[chart, table])

    def palette_pixels(report: Report) -> list[int]:
        pages = pdfpixels.render(to_pdf(report))
        return [sum(pdfpixels.pixels_of(p, rgb) for p in pages) for rgb in PALETTE[:2]]

    drawn = palette_pixels(only_chart)
    assert all(n > 100 for n in drawn)  # the chart's bars are there, rendered
    assert palette_pixels(chart_then_table) == drawn  # and nothing else has their colours


def test_render_names_files_after_the_report_and_period() -> None:
    files = render("daily-oee", sample_report(), ["pdf", "csv", "xlsx"])
    assert sorted(files) == [
        "daily-oee_2024-03-30.pdf",
        "daily-oee_2024-03-30.xlsx",
        "daily-oee_2024-03-30_downtime-by-reason.csv",
        "daily-oee_2024-03-30_oee-by-machine.csv",
    ]
    assert files["daily-oee_2024-03-30.pdf"].startswith(b"%PDF")
    assert mime_type("daily-oee_2024-03-30.pdf") == "application/pdf"
    assert mime_type("x.csv") == "text/csv"


@pytest.mark.parametrize(("low", "high"), [(0.0, 0.9), (-3.0, 11.0), (0.0, 0.0), (0.0, 12345.0)])
def test_chart_axis_ticks_are_round_and_cover_the_values(low: float, high: float) -> None:
    ticks = nice_ticks(low, high)
    assert ticks[0] <= low and ticks[-1] >= high and 3 <= len(ticks) <= 8
    steps = {round(b - a, 9) for a, b in itertools.pairwise(ticks)}
    assert len(steps) == 1
