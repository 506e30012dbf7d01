"""A sample report with every column kind, both chart kinds, undefined values and
non-ASCII text; the long table spans several PDF pages."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from factoryos.apps.reports import Chart, Column, ColumnKind, Report, Series, Table

BERLIN = ZoneInfo("Europe/Berlin")
START = datetime(2024, 3, 30, tzinfo=BERLIN)
END = datetime(2024, 3, 31, tzinfo=BERLIN)
LONG_ROWS = 150

COLUMNS = (
    Column("Machine", ColumnKind.TEXT),
    Column("Temperature °C", ColumnKind.NUMBER, decimals=1),
    Column("OEE", ColumnKind.PERCENT, decimals=1),
    Column("Downtime", ColumnKind.DURATION),
    Column("Good parts", ColumnKind.COUNT),
)
ROWS = (
    ("Presse Müller", 21.5, 0.8532, 3725.0, 1200),
    ("Fräse µ-Linie", 19.25, None, 0.0, 0),  # OEE undefined: no planned time
    ("中文 机器", None, 0.5, 90061, None),
)


def oee_table() -> Table:
    return Table("OEE by machine", COLUMNS, ROWS, note="OEE is empty when nothing was planned.")


def long_table() -> Table:
    columns = (Column("Reason"), Column("Stops", ColumnKind.COUNT))
    rows = [(f"Störung {i:03d}", i) for i in range(LONG_ROWS)]
    return Table("Downtime by reason", columns, rows)


def charts() -> tuple[Chart, Chart]:
    days = ["Mo", "Di", "Mi", "Do", "Fr"]
    bar = Chart(
        "OEE by day",
        "bar",
        days,
        [
            Series("Line 1", [0.81, 0.75, None, 0.9, 0.7]),
            Series("Line 2", [0.6, 0.65, 0.7, 0.72, 0.5]),
        ],
        unit="ratio",
        target=0.85,
    )
    line = Chart(
        "Downtime trend",
        "line",
        days,
        [Series("Störungen", [3.0, 1.5, None, 4.0, 2.0])],
        unit="h",
        target=None,
    )
    return bar, line


def sample_report() -> Report:
    bar, line = charts()
    return Report(
        title="Tagesbericht OEE – Werk Süd",
        subtitle="Linie 1 & 2, Temperatur in °C",
        period_start=START,
        period_end=END,
        generated_at=datetime(2024, 3, 31, 6, 30, tzinfo=UTC) + timedelta(seconds=5),
        sections=(oee_table(), bar, long_table(), line),
    )
