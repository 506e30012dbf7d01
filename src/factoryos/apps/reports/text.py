"""Text shared by the renderers: how a cell, a time or a period reads, and file names."""

import re
import unicodedata
from collections.abc import Iterable
from datetime import datetime

from factoryos.apps.reports.model import Cell, Column, ColumnKind

UNDEFINED = "–"  # an undefined value (None) in a document meant for people


def display(column: Column, value: Cell) -> str:
    """A cell as a person reads it: ``85.3 %``, ``26:03:05``, ``–`` for undefined."""
    if value is None:
        return UNDEFINED
    if column.kind is ColumnKind.TEXT:
        return str(value)
    assert isinstance(value, int | float)
    if column.kind is ColumnKind.PERCENT:
        return f"{value * 100:.{column.places}f} %"
    if column.kind is ColumnKind.DURATION:
        return hms(value)
    if column.kind is ColumnKind.COUNT:
        return str(value)
    return f"{value:.{column.places}f}"


def hms(seconds: float) -> str:
    """Seconds as ``h:mm:ss`` (hours not wrapped at 24, as a spreadsheet's ``[h]:mm:ss``)."""
    total = round(seconds)
    hours, rest = divmod(total, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}"


def when(moment: datetime) -> str:
    """``2024-03-31 06:30 UTC+02:00``: the wall time with its offset, never ambiguous."""
    offset = moment.strftime("%z")
    sign, hh, mm = offset[0], offset[1:3], offset[3:5]
    return f"{moment:%Y-%m-%d %H:%M} UTC{sign}{hh}:{mm}"


def period(start: datetime, end: datetime) -> str:
    return f"{when(start)} – {when(end)}"


def slug(text: str, fallback: str) -> str:
    """``Downtime by reason (°C)`` → ``downtime-by-reason-c``; ``fallback`` when nothing is
    left (a title in Chinese, say)."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    out = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return out[:60].rstrip("-") or fallback


def unique_names(names: Iterable[str]) -> list[str]:
    """Names made unique by appending ``-2``, ``-3`` … to repeats."""
    seen: set[str] = set()
    out = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            candidate = f"{name}-{n}"
        seen.add(candidate)
        out.append(candidate)
    return out
