"""A carbon report as issued: the inventory of a month or a year, with its evidence, as one
JSON document (pure functions, no I/O).

The document is what is stored and what every rendering (API, page, PDF) reads, so a report
reads the same forever: each line keeps its factors (value, unit, source, year), the
electricity keeps the meters and the measured energy of every day (or month) with the share
of it the meters covered, and the report names the factor set by library, version and
SHA-256. Nothing is estimated for unmeasured time: the coverage says how much was measured.
"""

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from factoryos.apps.energy.errors import EnergyQueryError
from factoryos.apps.energy.inventory import (
    Activity,
    Category,
    Instrument,
    Inventory,
    Line,
    Method,
    scope_of,
)
from factoryos.model.timeparse import format_ns

SCHEMA = "factoryos/carbon-report/1"
NS_PER_S = 1_000_000_000
FIRST_YEAR, LAST_YEAR = 1970, 2200  # int64 ns since the epoch holds these

CATEGORY_NAMES = {
    Category.DIRECT: "Direct GHG emissions and removals",
    Category.IMPORTED_ENERGY: "Indirect GHG emissions from imported energy",
    Category.TRANSPORTATION: "Indirect GHG emissions from transportation",
    Category.PRODUCTS_USED: "Indirect GHG emissions from products an organization uses",
    Category.PRODUCTS_SOLD: "Indirect GHG emissions associated with the use of products",
    Category.OTHER: "Indirect GHG emissions from other sources",
}


@dataclass(frozen=True, slots=True)
class Part:
    """A day of a month's report, or a month of a year's."""

    label: str
    start_ns: int
    end_ns: int


@dataclass(frozen=True, slots=True)
class Period:
    name: str  # 2026-11 or 2026
    start_ns: int
    end_ns: int
    parts: tuple[Part, ...]


def _ns(day: date, zone: ZoneInfo) -> int:
    return int(datetime.combine(day, datetime.min.time(), zone).timestamp()) * NS_PER_S


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


def period_of(name: str, zone: ZoneInfo) -> Period:
    """``2026-11`` (a month, in days) or ``2026`` (a year, in months), in the plant's zone."""
    try:
        if not (name.replace("-", "").isascii() and FIRST_YEAR <= int(name[:4]) <= LAST_YEAR):
            raise ValueError(name)
        if len(name) == 7 and name[4] == "-":
            first = date(int(name[:4]), int(name[5:]), 1)
            days = (_next_month(first) - first).days
            bounds = [first + timedelta(days=i) for i in range(days + 1)]
            labels = [f"{d:%Y-%m-%d}" for d in bounds[:-1]]
        elif len(name) == 4:
            first = date(int(name), 1, 1)
            bounds = [first]
            while len(bounds) < 13:
                bounds.append(_next_month(bounds[-1]))
            labels = [f"{d:%Y-%m}" for d in bounds[:-1]]
        else:
            raise ValueError(name)
    except ValueError:
        raise EnergyQueryError(
            f"period {name!r}: expected a month YYYY-MM or a year YYYY ({FIRST_YEAR}-{LAST_YEAR})"
        ) from None
    edges = [_ns(d, zone) for d in bounds]
    parts = tuple(Part(lbl, a, b) for lbl, a, b in zip(labels, edges, edges[1:], strict=False))
    return Period(name, edges[0], edges[-1], parts)


@dataclass(frozen=True, slots=True)
class Metered:
    """The imported electricity measured in one part of the period."""

    label: str
    start_ns: int
    end_ns: int
    kwh: float
    coverage: float


@dataclass(frozen=True, slots=True)
class ElectricityEvidence:
    place: str
    meters: tuple[tuple[str, str], ...]  # (name, tag)
    parts: tuple[Metered, ...]

    @property
    def kwh(self) -> float:
        return sum(p.kwh for p in self.parts)

    @property
    def coverage(self) -> float:
        total = sum(p.end_ns - p.start_ns for p in self.parts)
        seen = sum(p.coverage * (p.end_ns - p.start_ns) for p in self.parts)
        return seen / total if total else 0.0

    def describe(self, zone: str) -> str:
        """What an auditor reads on the electricity lines: meters, window and coverage."""
        meters = ", ".join(f"{name} ({tag})" for name, tag in self.meters)
        first, last = self.parts[0], self.parts[-1]
        return (
            f"meters {meters}: {first.label} to {last.label} ({zone}), "
            f"{100 * self.coverage:.1f} % of the period measured"
        )


def coverage_note(coverage: float) -> str:
    if coverage >= 1.0 - 1e-9:
        return ""
    return (
        f"the meters covered {100 * coverage:.1f} % of the period: unmeasured time is not estimated"
    )


def _factor(f: Any) -> dict[str, Any]:
    return {k: v for k, v in asdict(f).items() if v is not None}


def _line(line: Line) -> dict[str, Any]:
    return {
        "activity": line.activity,
        "category": int(line.category),
        "scope": line.scope,
        "method": line.method.value,
        "gas": line.gas,
        "quantity": line.quantity,
        "unit": line.unit,
        "factors": [_factor(f) for f in line.factors],
        "kg": line.kg,
        "kg_co2e": line.kg_co2e,
        "evidence": line.evidence,
        "note": line.note,
    }


def _totals(inv: Inventory, method: Method) -> dict[str, Any]:
    by_category = inv.by_category(method)
    return {
        "total": inv.total(None, method),
        "scopes": {str(s): inv.total(s, method) for s in (1, 2, 3)},
        "categories": {str(int(c)): v for c, v in by_category.items()},
    }


def _activity(act: Activity) -> dict[str, Any]:
    out = asdict(act)
    out["category"] = int(act.category)
    out["convert"], out["emit"] = list(act.convert), list(act.emit)
    return out


def _instrument(inst: Instrument) -> dict[str, Any]:
    return {"id": inst.id, "kind": inst.kind.value, "mwh": inst.mwh, "factor": inst.factor}


def document(
    inv: Inventory,
    *,
    site: str,
    period: Period,
    timezone: str,
    organization: str,
    boundary: str,
    electricity: ElectricityEvidence,
    activities: Sequence[Activity],
    instruments: Sequence[Instrument],
) -> dict[str, Any]:
    """The report as stored: everything needed to read and check it, no issue time (the
    same inputs make the same document, so issuing it twice adds no version)."""
    return {
        "schema": SCHEMA,
        "site": site,
        "period": period.name,
        "timezone": timezone,
        "start": format_ns(period.start_ns),
        "end": format_ns(period.end_ns),
        "organization": organization,
        "boundary": boundary,
        "factor_set": {"library": inv.library, "version": inv.version, "digest": inv.digest},
        "gwp_set": inv.gwp_set,
        "categories": {str(int(c)): name for c, name in CATEGORY_NAMES.items()},
        "scopes": {str(int(c)): scope_of(c) for c in Category},
        "electricity": {
            "place": electricity.place,
            "meters": [{"name": n, "tag": t} for n, t in electricity.meters],
            "kwh": electricity.kwh,
            "coverage": electricity.coverage,
            "parts": [
                {
                    "label": p.label,
                    "start": format_ns(p.start_ns),
                    "end": format_ns(p.end_ns),
                    "kwh": p.kwh,
                    "coverage": p.coverage,
                }
                for p in electricity.parts
            ],
        },
        "activities": [_activity(a) for a in activities],
        "instruments": [_instrument(i) for i in instruments],
        "lines": [_line(line) for line in inv.lines],
        "totals": {m.value: _totals(inv, m) for m in (Method.LOCATION, Method.MARKET)},
    }
