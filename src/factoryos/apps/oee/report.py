"""The OEE and downtime report of a period, as a :class:`~factoryos.apps.reports.Report`.

One report for the daily and weekly schedules and for downloads: OEE per equipment, line
and shift, the six big losses, and the downtime Pareto by reason and by equipment. Rendering
(CSV, XLSX, PDF) and delivery are the reports package's.
"""

from collections.abc import Sequence
from datetime import UTC, datetime

from factoryos.apps.oee.evaluate import OeeResult
from factoryos.apps.oee.pareto import ParetoRow
from factoryos.apps.oee.reasons import LossClass
from factoryos.apps.oee.service import LossReport, OeeService
from factoryos.apps.reports import Cell, Chart, Column, ColumnKind, Report, Section, Series, Table

NS_PER_S = 1_000_000_000
_PCT = ColumnKind.PERCENT
_OEE_COLUMNS = (
    Column("Availability", _PCT, 1),
    Column("Performance", _PCT, 1),
    Column("Quality", _PCT, 1),
    Column("OEE", _PCT, 1),
    Column("Planned busy time", ColumnKind.DURATION),
    Column("Production time", ColumnKind.DURATION),
    Column("Produced", ColumnKind.COUNT),
    Column("Good", ColumnKind.COUNT),
    Column("Scrap", ColumnKind.COUNT),
)


def _ns(moment: datetime) -> int:
    return round(moment.timestamp() * NS_PER_S)


def _oee_cells(r: OeeResult) -> list[Cell]:
    v = r.kpis.values
    return [
        v["availability"].value,
        v["effectiveness"].value,
        v["quality_ratio"].value,
        v["oee_index"].value,
        r.kpis.times.pbt,
        r.kpis.times.apt,
        sum(p.produced for p in r.products),
        sum(p.good for p in r.products),
        sum(p.scrap for p in r.products),
    ]


def _short(path: str) -> str:
    return path.rsplit("/", 1)[-1]


def _pareto_table(title: str, rows: Sequence[ParetoRow], what: str) -> Table:
    return Table(
        title,
        (
            Column(what),
            Column("Downtime", ColumnKind.DURATION),
            Column("Stops", ColumnKind.COUNT),
            Column("Share", _PCT, 1),
            Column("Cumulative", _PCT, 1),
        ),
        [[r.key, r.seconds, r.count, r.share, r.cumulative] for r in rows],
        note="Unplanned stops only; breaks and planned stops are not downtime.",
    )


def _pareto_chart(rows: Sequence[ParetoRow]) -> list[Chart]:
    """The Pareto as bars; none when nothing stopped (a chart needs categories)."""
    if not rows:
        return []
    hours = [r.seconds / 3600 for r in rows]
    return [
        Chart(
            "Downtime by reason",
            "bar",
            [r.key for r in rows],
            [Series("Downtime (h)", hours)],
            unit="h",
        )
    ]


def _losses_table(losses: LossReport) -> Table:
    classes = [c for c in LossClass if c is not LossClass.PLANNED]
    columns = (
        Column("Equipment"),
        Column("Value adding", ColumnKind.DURATION),
        *(Column(c.value.replace("_", " ").capitalize(), ColumnKind.DURATION) for c in classes),
    )
    rows: list[list[Cell]] = [
        [_short(path), six.value_adding_s, *(six.losses_s[c] for c in classes)]
        for path, six in losses.six_big_losses.items()
    ]
    note = "Every second of planned busy time is value adding or one of the six losses."
    return Table("Six big losses", columns, rows, note=note)


def oee_report(
    oee: OeeService, start: datetime, end: datetime, title: str = "OEE and downtime"
) -> Report:
    """The report over ``[start, end)`` (aware datetimes) for every configured equipment."""
    a, b = _ns(start), _ns(end)
    paths = oee.equipment_paths
    overview = oee.overview(paths, a, b)
    results = [overview.results[p] for p in paths]
    line_results = [oee.line_of(line, overview.results) for line in oee.lines()]
    losses = overview.losses
    shift_rows: list[list[Cell]] = [
        [_short(p), shift.label, *_oee_cells(r)[:4]]
        for p in paths
        for shift, r in overview.shifts[p]
    ]
    sections: list[Section] = [
        Table("OEE per equipment", (Column("Equipment"), *_OEE_COLUMNS), [
            [_short(r.name), *_oee_cells(r)] for r in results
        ]),
        Chart(
            "OEE per equipment",
            "bar",
            [_short(r.name) for r in results],
            [Series("OEE", [r.kpis.values["oee_index"].value for r in results])],
            unit="ratio",
            target=oee.section.targets.oee,
        ),
        Table(
            "OEE per line",
            (Column("Line"), Column("Bottleneck"), *_OEE_COLUMNS),
            [[lr.line, _short(lr.bottleneck), *_oee_cells(lr.oee)] for lr in line_results],
            note="A line's OEE is its bottleneck's (docs/oee.md).",
        ),
        Table(
            "OEE per shift",
            (Column("Equipment"), Column("Shift"), *_OEE_COLUMNS[:4]),
            shift_rows,
        ),
        _pareto_table("Downtime by reason", losses.by_reason, "Reason"),
        *_pareto_chart(losses.by_reason),
        _pareto_table("Downtime by equipment", losses.by_equipment, "Equipment"),
        _losses_table(losses),
    ]  # fmt: skip
    subtitle = f"{len(paths)} equipment, taxonomy {oee.section.taxonomy}, times in seconds"
    return Report(title, subtitle, start, end, datetime.now(UTC), sections)
