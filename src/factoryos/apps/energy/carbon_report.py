"""A stored carbon report as a :class:`~factoryos.apps.reports.model.Report` (for the PDF,
XLSX and CSV renderers): totals by scope under both scope 2 methods, ISO 14064-1
categories, every inventory line with its factors, the factors with source and year, and
the electricity measured on each day (or month) with the meters' coverage."""

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from factoryos.apps.reports.model import Chart, Column, ColumnKind, Report, Series, Table

T = 1000.0  # kg per tonne

_N = ColumnKind.NUMBER


def _when(iso: str, zone: ZoneInfo) -> datetime:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).astimezone(zone)


def _facts(doc: dict[str, Any], version: int | None) -> Table:
    fs = doc["factor_set"]
    el = doc["electricity"]
    meters = ", ".join(f"{m['name']} ({m['tag']})" for m in el["meters"])
    rows = [
        ("Organization", doc["organization"]),
        ("Boundary", doc["boundary"]),
        ("Site", doc["site"]),
        ("Period", f"{doc['period']} ({doc['timezone']})"),
        ("Report version", "draft" if version is None else str(version)),
        ("Factor set", f"{fs['library']} {fs['version']}"),
        ("Factor set SHA-256", fs["digest"]),
        ("GWP values", doc["gwp_set"]),
        ("Electricity meters", f"{el['place']}: {meters}"),
        ("Electricity measured", f"{100 * el['coverage']:.1f} % of the period"),
    ]
    return Table("Report", [Column("Field"), Column("Value")], rows, note=el.get("note", ""))


def _summary(doc: dict[str, Any]) -> Table:
    loc, mkt = doc["totals"]["location"], doc["totals"]["market"]
    rows: list[tuple[str, float, float]] = [
        (f"Scope {s}", loc["scopes"][s] / T, mkt["scopes"][s] / T) for s in ("1", "2", "3")
    ]
    rows.append(("Total", loc["total"] / T, mkt["total"] / T))
    columns = [
        Column("Scope"),
        Column("Location-based t CO2e", _N, 3),
        Column("Market-based t CO2e", _N, 3),
    ]
    return Table("Emissions by scope (GHG Protocol)", columns, rows)


def _categories(doc: dict[str, Any]) -> tuple[Table, Chart]:
    names = doc["categories"]
    loc = doc["totals"]["location"]["categories"]
    mkt = doc["totals"]["market"]["categories"]
    rows = [(f"{c}. {names[c]}", doc["scopes"][c], loc[c] / T, mkt[c] / T) for c in sorted(names)]
    columns = [
        Column("ISO 14064-1 category"),
        Column("Scope", ColumnKind.COUNT),
        Column("Location-based t CO2e", _N, 3),
        Column("Market-based t CO2e", _N, 3),
    ]
    chart = Chart(
        "Emissions by ISO 14064-1 category",
        "bar",
        [f"Category {c}" for c in sorted(names)],
        [
            Series("location-based", [loc[c] / T for c in sorted(names)]),
            Series("market-based", [mkt[c] / T for c in sorted(names)]),
        ],
        unit="t CO2e",
    )
    return Table("Emissions by ISO 14064-1 category", columns, rows), chart


def _lines(doc: dict[str, Any]) -> Table:
    rows = [
        (
            line["activity"],
            line["scope"],
            line["method"],
            line["gas"],
            line["quantity"],
            line["unit"],
            " × ".join(f["id"] for f in line["factors"]) or "renewable attributes (0)",
            line["kg"],
            line["kg_co2e"],
        )
        for line in doc["lines"]
    ]
    columns = [
        Column("Activity"),
        Column("Scope", ColumnKind.COUNT),
        Column("Method"),
        Column("Gas"),
        Column("Quantity", _N, 3),
        Column("Unit"),
        Column("Factors"),
        Column("kg gas", _N, 3),
        Column("kg CO2e", _N, 3),
    ]
    note = (
        "Each line is quantity × factors (in order) × GWP. Method 'direct' lines count under "
        "both scope 2 methods; 'location' and 'market' lines only under their own."
    )
    return Table("Inventory lines", columns, rows, note=note)


def _factors(doc: dict[str, Any]) -> Table:
    seen: dict[str, dict[str, Any]] = {}
    for line in doc["lines"]:
        for f in line["factors"]:
            seen.setdefault(f["id"], f)
    rows = [
        (f["id"], f["value"], f["unit"], f.get("gas") or "conversion", f["source"], f["year"])
        for f in seen.values()
    ]
    columns = [
        Column("Factor"),
        Column("Value", _N, 4),
        Column("Unit"),
        Column("Gas"),
        Column("Source"),
        Column("Year", ColumnKind.COUNT),
    ]
    return Table("Emission factors and conversions used", columns, rows)


def _electricity(doc: dict[str, Any]) -> tuple[Chart, Table]:
    parts = doc["electricity"]["parts"]
    labels = [p["label"] for p in parts]
    chart = Chart(
        "Imported electricity", "bar", labels, [Series("kWh", [p["kwh"] for p in parts])], "kWh"
    )
    columns = [Column("Day or month"), Column("kWh", _N, 1), Column("Measured", ColumnKind.PERCENT)]
    rows = [(p["label"], p["kwh"], p["coverage"]) for p in parts]
    return chart, Table("Imported electricity as measured", columns, rows)


def to_report(doc: dict[str, Any], version: int | None, generated_at: datetime) -> Report:
    """The report document ``doc`` (as stored) for the renderers of :mod:`apps.reports`."""
    zone = ZoneInfo(doc["timezone"])
    categories, category_chart = _categories(doc)
    electricity_chart, electricity = _electricity(doc)
    label = "draft" if version is None else f"version {version}"
    return Report(
        title=f"GHG inventory {doc['period']} ({label})",
        subtitle=f"{doc['organization']} · site {doc['site']} · ISO 14064-1 / GHG Protocol",
        period_start=_when(doc["start"], zone),
        period_end=_when(doc["end"], zone),
        generated_at=generated_at.astimezone(zone),
        sections=[
            _facts(doc, version),
            _summary(doc),
            categories,
            category_chart,
            _lines(doc),
            _factors(doc),
            electricity_chart,
            electricity,
        ],
    )
