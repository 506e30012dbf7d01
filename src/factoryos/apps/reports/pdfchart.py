"""Charts drawn with fpdf2 primitives: axes, grid, bars or lines, a target line, a legend.

Colours are Apache ECharts' default palette, so a PDF chart looks like the web page's.
"""

import itertools
import math
from dataclasses import dataclass

from fpdf import FPDF

from factoryos.apps.reports.model import Chart
from factoryos.apps.reports.pdffont import Typeface

PALETTE = (
    (84, 112, 198),
    (145, 204, 117),
    (250, 200, 88),
    (238, 102, 102),
    (115, 192, 222),
    (59, 162, 114),
    (252, 132, 82),
    (154, 96, 180),
    (234, 124, 204),
)
TARGET_RGB = (200, 30, 30)
GRID_GRAY = 220
AXIS_W = 16.0  # mm left of the plot for the value labels
LABEL_H = 8.0  # mm below the plot for the category labels
LEGEND_H = 6.0


@dataclass(frozen=True)
class Box:
    """A rectangle on the page, in mm from the top left."""

    x: float
    y: float
    w: float
    h: float


def nice_ticks(low: float, high: float, count: int = 5) -> list[float]:
    """About ``count`` round values (1, 2, 2.5, 5 × 10^k steps) covering ``low``..``high``."""
    if high <= low:
        high = low + 1.0
    raw = (high - low) / count
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw)
    first = math.floor(low / step) * step
    ticks = [first]
    while ticks[-1] < high - step * 1e-9:
        ticks.append(first + len(ticks) * step)
    return ticks


def value_range(chart: Chart) -> tuple[float, float]:
    values = [v for s in chart.series for v in s.values if v is not None]
    if chart.target is not None:
        values.append(chart.target)
    # Bars grow from zero, so zero is always on the axis.
    return min([0.0, *values]), max([0.0, *values])


def draw_chart(pdf: FPDF, face: Typeface, chart: Chart, box: Box) -> None:
    pdf.set_font(face.family, "B", 10)
    pdf.set_xy(box.x, box.y)
    title = f"{chart.title} [{chart.unit}]" if chart.unit else chart.title
    pdf.cell(box.w, 6, face.fit(title))
    plot = Box(box.x + AXIS_W, box.y + 8, box.w - AXIS_W, box.h - 8 - LABEL_H - LEGEND_H)
    ticks = nice_ticks(*value_range(chart))
    scale = _Scale(ticks[0], ticks[-1], plot)
    _axes(pdf, face, chart, plot, ticks, scale)
    if chart.kind == "bar":
        _bars(pdf, chart, plot, scale)
    else:
        _lines(pdf, chart, plot, scale)
    if chart.target is not None:
        _target(pdf, face, chart.target, plot, scale)
    _legend(pdf, face, chart, Box(plot.x, plot.y + plot.h + LABEL_H, plot.w, LEGEND_H))


@dataclass(frozen=True)
class _Scale:
    low: float
    high: float
    plot: Box

    def y(self, value: float) -> float:
        share = (value - self.low) / (self.high - self.low)
        return self.plot.y + self.plot.h * (1 - share)

    def slot(self, count: int) -> float:
        return self.plot.w / count


def _axes(
    pdf: FPDF, face: Typeface, chart: Chart, plot: Box, ticks: list[float], scale: _Scale
) -> None:
    pdf.set_font(face.family, "", 7)
    pdf.set_line_width(0.1)
    for tick in ticks:
        y = scale.y(tick)
        pdf.set_draw_color(GRID_GRAY)
        pdf.line(plot.x, y, plot.x + plot.w, y)
        pdf.set_xy(plot.x - AXIS_W, y - 2)
        pdf.cell(AXIS_W - 1, 4, f"{round(tick, 9):g}", align="R")
    pdf.set_draw_color(0)
    pdf.line(plot.x, plot.y, plot.x, plot.y + plot.h)
    pdf.line(plot.x, scale.y(0.0), plot.x + plot.w, scale.y(0.0))
    _category_labels(pdf, face, chart, plot, scale)


def _category_labels(pdf: FPDF, face: Typeface, chart: Chart, plot: Box, scale: _Scale) -> None:
    slot = scale.slot(len(chart.categories))
    # Label every n-th category so labels at least ~12 mm apart never overlap.
    every = max(1, math.ceil(12 / slot))
    for i in range(0, len(chart.categories), every):
        text = face.fit(chart.categories[i])
        width = slot * every
        while len(text) > 1 and pdf.get_string_width(text) > width:
            text = text[:-1]
        pdf.set_xy(plot.x + i * slot + slot / 2 - width / 2, plot.y + plot.h + 1)
        pdf.cell(width, 4, text, align="C")


def _bars(pdf: FPDF, chart: Chart, plot: Box, scale: _Scale) -> None:
    slot = scale.slot(len(chart.categories))
    bar = slot * 0.8 / len(chart.series)
    zero = scale.y(0.0)
    for s, series in enumerate(chart.series):
        pdf.set_fill_color(*PALETTE[s % len(PALETTE)])
        for i, value in enumerate(series.values):
            if value is None:
                continue
            top = scale.y(value)
            x = plot.x + i * slot + slot * 0.1 + s * bar
            pdf.rect(x, min(top, zero), bar, abs(zero - top), style="F")


def _lines(pdf: FPDF, chart: Chart, plot: Box, scale: _Scale) -> None:
    slot = scale.slot(len(chart.categories))
    pdf.set_line_width(0.5)
    for s, series in enumerate(chart.series):
        rgb = PALETTE[s % len(PALETTE)]
        pdf.set_draw_color(*rgb)
        pdf.set_fill_color(*rgb)
        points = [
            (plot.x + i * slot + slot / 2, scale.y(v)) if v is not None else None
            for i, v in enumerate(series.values)
        ]
        for a, b in itertools.pairwise(points):
            if a is not None and b is not None:  # an undefined value is a gap, not a zero
                pdf.line(*a, *b)
        for point in points:
            if point is not None:
                pdf.circle(point[0], point[1], 0.7, style="F")
    pdf.set_line_width(0.1)
    pdf.set_draw_color(0)


def _target(pdf: FPDF, face: Typeface, target: float, plot: Box, scale: _Scale) -> None:
    y = scale.y(target)
    pdf.set_draw_color(*TARGET_RGB)
    pdf.set_text_color(*TARGET_RGB)
    pdf.set_line_width(0.4)
    pdf.set_dash_pattern(dash=2, gap=1.5)
    pdf.line(plot.x, y, plot.x + plot.w, y)
    pdf.set_dash_pattern()
    pdf.set_font(face.family, "", 7)
    pdf.set_xy(plot.x + plot.w - 30, y - 4)
    pdf.cell(30, 4, f"Target {target:g}", align="R")
    pdf.set_line_width(0.1)
    pdf.set_draw_color(0)
    pdf.set_text_color(0)


def _legend(pdf: FPDF, face: Typeface, chart: Chart, box: Box) -> None:
    pdf.set_font(face.family, "", 7)
    x = box.x
    for s, series in enumerate(chart.series):
        name = face.fit(series.name)
        pdf.set_fill_color(*PALETTE[s % len(PALETTE)])
        pdf.rect(x, box.y + 1.5, 3, 3, style="F")
        pdf.set_xy(x + 4, box.y + 1)
        width = pdf.get_string_width(name) + 2
        pdf.cell(width, 4, name)
        x += width + 8
        if x > box.x + box.w - 20:
            break
