"""Report content is validated when built; errors name the table, row and column."""

from datetime import UTC, datetime

import pytest

from factoryos.apps.reports import (
    Chart,
    Column,
    ColumnKind,
    Report,
    ReportModelError,
    Series,
    Table,
)

COLS = (Column("Machine"), Column("OEE", ColumnKind.PERCENT), Column("Parts", ColumnKind.COUNT))


def test_a_valid_table_keeps_none_cells() -> None:
    table = Table("T", COLS, [["A", None, None], ["B", 0.5, 3]])
    assert table.rows == (("A", None, None), ("B", 0.5, 3))


def test_row_length_must_match_the_columns() -> None:
    with pytest.raises(ReportModelError, match=r"table 'T' row 1: 2 values for 3 columns"):
        Table("T", COLS, [["A", 0.5, 1], ["B", 0.5]])


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ((1, 0.5, 1), r"row 0 column 'Machine': expected text, got 1"),
        (("A", "85%", 1), r"column 'OEE': expected a number for a percent column"),
        (("A", float("nan"), 1), r"column 'OEE': expected a finite number"),
        (("A", 0.5, 1.0), r"column 'Parts': expected int, got 1.0"),
        (("A", True, 1), r"column 'OEE': expected a number"),
    ],
)
def test_values_must_match_their_column_kind(row: tuple[object, ...], message: str) -> None:
    with pytest.raises(ReportModelError, match=message):
        Table("T", COLS, [row])  # type: ignore[list-item]


def test_a_negative_duration_is_refused() -> None:
    with pytest.raises(ReportModelError, match=r"column 'Down': expected a duration >= 0"):
        Table("T", [Column("Down", ColumnKind.DURATION)], [[-1.0]])


def test_an_unknown_column_kind_is_named() -> None:
    with pytest.raises(ReportModelError, match=r"column 'X': unknown kind 'money'"):
        Column("X", "money")  # type: ignore[arg-type]


def test_chart_series_must_cover_every_category() -> None:
    with pytest.raises(ReportModelError, match=r"series 'L1': 2 values for 3 categories"):
        Chart("C", "bar", ["a", "b", "c"], [Series("L1", [1.0, 2.0])])
    with pytest.raises(ReportModelError, match=r"kind must be bar or line"):
        Chart("C", "pie", ["a"], [Series("L1", [1.0])])  # type: ignore[arg-type]


def test_report_times_must_be_aware_and_ordered() -> None:
    aware = datetime(2024, 1, 2, tzinfo=UTC)
    with pytest.raises(ReportModelError, match="period_start must be a time-zone-aware"):
        Report("R", "", datetime(2024, 1, 1), aware, aware, [])
    with pytest.raises(ReportModelError, match="period_end must be after period_start"):
        Report("R", "", aware, aware, aware, [])
