"""What a report contains: frozen data, validated when built, known to every renderer.

A report is a title, a period and a list of sections; a section is a :class:`Table` or a
:class:`Chart`. A ``None`` cell or chart value means *undefined* (an OEE with no planned
time, say): renderers show it as empty, never as 0.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal

from factoryos.apps.reports.errors import ReportModelError

Cell = str | int | float | None

MAX_ROWS = 100_000  # per table: a report is read by people, not a data export
MAX_COLUMNS = 50
MAX_CATEGORIES = 1_000
MAX_SERIES = 20
MAX_SECTIONS = 200


class ColumnKind(StrEnum):
    """How a column's values are typed and shown."""

    TEXT = "text"  # str
    NUMBER = "number"  # int or float
    PERCENT = "percent"  # a fraction: 0.853 is shown as 85.3 %
    DURATION = "duration"  # seconds, >= 0
    COUNT = "count"  # int


_DEFAULT_DECIMALS = {ColumnKind.NUMBER: 2, ColumnKind.PERCENT: 1}


@dataclass(frozen=True)
class Column:
    """One table column; ``decimals`` applies to the display of numbers and percents."""

    name: str
    kind: ColumnKind = ColumnKind.TEXT
    decimals: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", _kind(self.kind, self.name))
        if not self.name:
            raise ReportModelError("a column needs a name")
        if self.decimals is not None and not 0 <= self.decimals <= 10:
            raise ReportModelError(f"column {self.name!r}: decimals must be 0..10")

    @property
    def places(self) -> int:
        """Decimals to show (the column's, else the kind's default)."""
        return self.decimals if self.decimals is not None else _DEFAULT_DECIMALS.get(self.kind, 0)


def _kind(kind: str, name: str) -> ColumnKind:
    try:
        return ColumnKind(kind)
    except ValueError:
        known = ", ".join(k.value for k in ColumnKind)
        raise ReportModelError(f"column {name!r}: unknown kind {kind!r} (known: {known})") from None


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _cell_problem(kind: ColumnKind, value: Cell) -> str | None:
    """Why ``value`` cannot be a cell of a ``kind`` column, or None when it can."""
    if value is None:
        return None
    if kind is ColumnKind.TEXT:
        return None if isinstance(value, str) else "expected text"
    if kind is ColumnKind.COUNT:
        return None if isinstance(value, int) and not isinstance(value, bool) else "expected int"
    if not _is_number(value):
        return f"expected a number for a {kind.value} column"
    assert isinstance(value, int | float)
    if not math.isfinite(value):
        return "expected a finite number (use None for undefined)"
    if kind is ColumnKind.DURATION and value < 0:
        return "expected a duration >= 0 seconds"
    return None


@dataclass(frozen=True)
class Table:
    """A table section; every row has one value per column, typed by the column's kind."""

    title: str
    columns: Sequence[Column]
    rows: Sequence[Sequence[Cell]]
    note: str = ""

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", tuple(self.columns))
        object.__setattr__(self, "rows", tuple(tuple(row) for row in self.rows))
        if not self.columns or len(self.columns) > MAX_COLUMNS:
            raise ReportModelError(f"table {self.title!r}: needs 1..{MAX_COLUMNS} columns")
        if len(self.rows) > MAX_ROWS:
            raise ReportModelError(f"table {self.title!r}: more than {MAX_ROWS} rows")
        for index, row in enumerate(self.rows):
            self._check_row(index, row)

    def _check_row(self, index: int, row: Sequence[Cell]) -> None:
        where = f"table {self.title!r} row {index}"
        if len(row) != len(self.columns):
            raise ReportModelError(f"{where}: {len(row)} values for {len(self.columns)} columns")
        for column, value in zip(self.columns, row, strict=True):
            problem = _cell_problem(column.kind, value)
            if problem:
                raise ReportModelError(f"{where} column {column.name!r}: {problem}, got {value!r}")


@dataclass(frozen=True)
class Series:
    """One named series of a chart: a value (or None, a gap) per category."""

    name: str
    values: Sequence[float | None]

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))
        for i, value in enumerate(self.values):
            if value is not None and not (_is_number(value) and math.isfinite(value)):
                raise ReportModelError(
                    f"series {self.name!r} value {i}: expected a finite number or None, "
                    f"got {value!r}"
                )


@dataclass(frozen=True)
class Chart:
    """A bar or line chart over categories; ``target`` draws a horizontal line."""

    title: str
    kind: Literal["bar", "line"]
    categories: Sequence[str]
    series: Sequence[Series]
    unit: str = ""
    target: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "categories", tuple(self.categories))
        object.__setattr__(self, "series", tuple(self.series))
        where = f"chart {self.title!r}"
        if self.kind not in ("bar", "line"):
            raise ReportModelError(f"{where}: kind must be bar or line, not {self.kind!r}")
        if not 1 <= len(self.categories) <= MAX_CATEGORIES:
            raise ReportModelError(f"{where}: needs 1..{MAX_CATEGORIES} categories")
        if not 1 <= len(self.series) <= MAX_SERIES:
            raise ReportModelError(f"{where}: needs 1..{MAX_SERIES} series")
        for series in self.series:
            if len(series.values) != len(self.categories):
                raise ReportModelError(
                    f"{where} series {series.name!r}: {len(series.values)} values for "
                    f"{len(self.categories)} categories"
                )
        if self.target is not None and not (_is_number(self.target) and math.isfinite(self.target)):
            raise ReportModelError(f"{where}: target must be a finite number or None")


Section = Table | Chart


def _aware(name: str, value: datetime) -> None:
    if not isinstance(value, datetime) or value.utcoffset() is None:
        raise ReportModelError(f"report {name} must be a time-zone-aware datetime, got {value!r}")


@dataclass(frozen=True)
class Report:
    """A rendered-to-be report: times are aware and shown in their own time zone."""

    title: str
    subtitle: str
    period_start: datetime
    period_end: datetime
    generated_at: datetime
    sections: Sequence[Section]

    def __post_init__(self) -> None:
        object.__setattr__(self, "sections", tuple(self.sections))
        if not self.title:
            raise ReportModelError("a report needs a title")
        for name in ("period_start", "period_end", "generated_at"):
            _aware(name, getattr(self, name))
        if self.period_end <= self.period_start:
            raise ReportModelError("report period_end must be after period_start")
        if len(self.sections) > MAX_SECTIONS:
            raise ReportModelError(f"a report has at most {MAX_SECTIONS} sections")
        for section in self.sections:
            if not isinstance(section, Table | Chart):
                raise ReportModelError(f"a section is a Table or a Chart, not {section!r}")

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(s for s in self.sections if isinstance(s, Table))

    @property
    def charts(self) -> tuple[Chart, ...]:
        return tuple(s for s in self.sections if isinstance(s, Chart))
