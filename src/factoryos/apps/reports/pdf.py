"""PDF: A4 portrait, a title block, the sections in order, page numbers in the footer.

Tables repeat their header row on every page they run onto; charts are drawn with fpdf2's
primitives (no image library, no browser). The typeface is chosen by
:mod:`~factoryos.apps.reports.pdffont`.
"""

from collections.abc import Sequence

from fpdf import FPDF
from fpdf.enums import TableHeadingsDisplay
from fpdf.fonts import FontFace

from factoryos.apps.reports.model import Chart, ColumnKind, Report, Table
from factoryos.apps.reports.pdfchart import Box, draw_chart
from factoryos.apps.reports.pdffont import DEFAULT_FONTS, PdfFont, Typeface, install
from factoryos.apps.reports.text import display, period, when

MARGIN = 15.0  # mm
CHART_H = 85.0
HEADING_FILL = (230, 234, 242)


class _Document(FPDF):
    def __init__(self, report: Report, fonts: Sequence[PdfFont]) -> None:
        super().__init__(orientation="portrait", unit="mm", format="A4")
        self.report = report
        self.face: Typeface = install(self, fonts)
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN + 5)
        self.set_title(self.face.fit(report.title))
        self.set_creator("FactoryOS")

    def footer(self) -> None:
        self.set_y(-MARGIN)
        self.set_font(self.face.family, "", 7)
        self.set_text_color(110)
        report = self.report
        self.cell(
            0,
            5,
            self.face.fit(f"{report.title} · {period(report.period_start, report.period_end)}"),
        )
        self.set_x(MARGIN)
        self.cell(0, 5, f"Page {self.page_no()} / {{nb}}", align="R")
        self.set_text_color(0)


def to_pdf(report: Report, *, fonts: Sequence[PdfFont] = DEFAULT_FONTS) -> bytes:
    """The report as PDF bytes; ``fonts`` are tried in order (see ``pdffont``)."""
    pdf = _Document(report, fonts)
    pdf.add_page()
    _title(pdf, report)
    for section in report.sections:
        if isinstance(section, Table):
            _table(pdf, section)
        else:
            _chart(pdf, section)
    return bytes(pdf.output())


def _title(pdf: _Document, report: Report) -> None:
    fit = pdf.face.fit
    pdf.set_font(pdf.face.family, "B", 16)
    pdf.multi_cell(0, 8, fit(report.title), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(pdf.face.family, "", 10)
    if report.subtitle:
        pdf.multi_cell(0, 5, fit(report.subtitle), new_x="LMARGIN", new_y="NEXT")
    pdf.cell(
        0,
        5,
        fit(f"Period: {period(report.period_start, report.period_end)}"),
        new_x="LMARGIN",
        new_y="NEXT",
    )
    pdf.cell(0, 5, fit(f"Generated: {when(report.generated_at)}"), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _heading(pdf: _Document, text: str, keep: float) -> None:
    """A section heading, on a new page when ``keep`` mm would not fit below it."""
    if pdf.get_y() + 8 + keep > pdf.h - pdf.b_margin:
        pdf.add_page()
    pdf.set_font(pdf.face.family, "B", 11)
    pdf.cell(0, 7, pdf.face.fit(text), new_x="LMARGIN", new_y="NEXT")


def _table(pdf: _Document, table: Table) -> None:
    _heading(pdf, table.title, keep=12)
    fit = pdf.face.fit
    texts = [
        [fit(display(c, v)) for c, v in zip(table.columns, row, strict=True)] for row in table.rows
    ]
    headers = [fit(c.name) for c in table.columns]
    pdf.set_font(pdf.face.family, "", 8)
    aligns = ["LEFT" if c.kind is ColumnKind.TEXT else "RIGHT" for c in table.columns]
    with pdf.table(
        col_widths=_widths(pdf, headers, texts),
        text_align=tuple(aligns),
        repeat_headings=TableHeadingsDisplay.ON_TOP_OF_EVERY_PAGE,
        headings_style=FontFace(emphasis="BOLD", fill_color=HEADING_FILL),
        line_height=4.5,
        width=pdf.epw,
    ) as grid:
        for row in [headers, *texts]:
            grid.row(row)
    if table.note:
        pdf.set_font(pdf.face.family, "", 7)
        pdf.multi_cell(0, 4, fit(table.note), new_x="LMARGIN", new_y="NEXT")
    pdf.ln(4)


def _widths(pdf: FPDF, headers: list[str], texts: list[list[str]]) -> list[float]:
    """Relative widths: the widest text of each column, within 8..60 mm."""
    sample = texts[:500]  # widths of a 100,000-row table need not look at every row
    widths = []
    for col, header in enumerate(headers):
        longest = max(
            [pdf.get_string_width(header) + 2] + [pdf.get_string_width(row[col]) for row in sample]
        )
        widths.append(min(max(longest + 3, 8.0), 60.0))
    return widths


def _chart(pdf: _Document, chart: Chart) -> None:
    if pdf.get_y() + CHART_H > pdf.h - pdf.b_margin:
        pdf.add_page()
    top = pdf.get_y()
    with pdf.local_context():  # the chart's colours must not fill the cells of what follows
        draw_chart(pdf, pdf.face, chart, Box(MARGIN, top, pdf.epw, CHART_H))
    pdf.set_xy(MARGIN, top + CHART_H + 4)
