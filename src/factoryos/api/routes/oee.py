"""OEE: per equipment, shift, day, product, line and site, for any range (docs/oee.md)."""

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field

from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.params import iso_time, now_ns, parse_time
from factoryos.apps.oee.evaluate import OeeResult
from factoryos.apps.oee.service import LineResult, OeeService

router = APIRouter(prefix="/api/oee", tags=["oee"])

DAY_NS = 86_400 * 10**9
_TIME = "ISO 8601 with a zone, e.g. 2025-01-06T06:00:00Z."
_PATH = Query(description="UNS path of an equipment with OEE configured.", max_length=400)
_PRODUCT = Query(description="Only the time this product ran.", max_length=64)


class KpiOut(BaseModel):
    value: float | None = Field(description="None when undefined (a zero denominator).")
    reason: str | None = None


class ProductOut(BaseModel):
    product: str
    produced: int
    good: int
    scrap: int
    ideal_cycle_s: float | None


class OeeOut(BaseModel):
    """OEE of an equipment, a line or the site over [start, end)."""

    name: str
    start: str
    end: str
    availability: KpiOut
    performance: KpiOut
    quality: KpiOut
    oee: KpiOut
    kpis: dict[str, KpiOut] = Field(description="Every ISO 22400-2 KPI (docs/oee.md).")
    times_s: dict[str, float] = Field(description="Seconds per time category.")
    planned_busy_s: float
    production_s: float
    unknown_s: float = Field(description="Seconds with no known machine state (left out).")
    micro_stops: int
    failures: int
    products: list[ProductOut]
    notes: list[str] = Field(description="What limits the result (missing data …).")


class BucketOut(BaseModel):
    label: str = Field(description="'2025-01-06 early' for a shift, '2025-01-06' for a day.")
    oee: OeeOut


class LineOut(BaseModel):
    line: str
    bottleneck: str = Field(description="The line's OEE is its bottleneck's (docs/oee.md).")
    oee: OeeOut
    total: OeeOut = Field(description="All the line's equipment, times and parts summed.")
    equipment: list[OeeOut]


class Targets(BaseModel):
    oee: float
    availability: float
    performance: float
    quality: float


class LineInfo(BaseModel):
    line: str
    bottleneck: str
    equipment: list[str]


class OeeSetup(BaseModel):
    timezone: str
    taxonomy: str
    targets: Targets
    equipment: list[str]
    lines: list[LineInfo]


@dataclass(frozen=True)
class Span:
    start_ns: int
    end_ns: int


def span(
    start: Annotated[str | None, Query(description=f"{_TIME} Default: end - 24 h.")] = None,
    end: Annotated[str | None, Query(description=f"{_TIME} Default: now.")] = None,
) -> Span:
    end_ns = parse_time(end, "end") if end is not None else now_ns()
    start_ns = parse_time(start, "start") if start is not None else end_ns - DAY_NS
    if start_ns >= end_ns:
        raise BadParameterError("start", f"{iso_time(start_ns)} must be before end")
    return Span(start_ns, end_ns)


Range = Annotated[Span, Depends(span)]


def oee_service(services: ServicesDep, principal: TenantCaller) -> OeeService:
    """The OEE of the caller's tenant; 404 where none is configured."""
    app = services.oee
    if app is None or app.tenant != principal.tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no OEE configured (apps file: oee:)")
    return app.service


Oee = Annotated[OeeService, Depends(oee_service)]


def _equipment(oee: OeeService, path: str) -> str:
    if path not in oee.section.equipment:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no OEE configured for {path!r}")
    return path


def _kpi(result: OeeResult, name: str) -> KpiOut:
    kpi = result.kpis.values[name]
    return KpiOut(value=kpi.value, reason=kpi.reason)


def oee_out(result: OeeResult) -> OeeOut:
    t = result.kpis.times
    return OeeOut(
        name=result.name,
        start=iso_time(result.start_ns),
        end=iso_time(result.end_ns),
        availability=_kpi(result, "availability"),
        performance=_kpi(result, "effectiveness"),
        quality=_kpi(result, "quality_ratio"),
        oee=_kpi(result, "oee_index"),
        kpis={name: _kpi(result, name) for name in result.kpis.values},
        times_s={str(c): s for c, s in result.times.time_s.items()},
        planned_busy_s=t.pbt,
        production_s=t.apt,
        unknown_s=result.times.unknown_s,
        micro_stops=result.times.micro_stops,
        failures=result.times.down_events,
        products=[
            ProductOut(
                product=p.product,
                produced=p.produced,
                good=p.good,
                scrap=p.scrap,
                ideal_cycle_s=p.ideal_cycle_s,
            )
            for p in result.products
        ],
        notes=list(result.notes),
    )


def line_out(result: LineResult) -> LineOut:
    return LineOut(
        line=result.line,
        bottleneck=result.bottleneck,
        oee=oee_out(result.oee),
        total=oee_out(result.total),
        equipment=[oee_out(r) for r in result.equipment],
    )


@router.get("/setup", summary="What OEE is configured: equipment, lines, targets")
def setup(oee: Oee) -> OeeSetup:
    section = oee.section
    lines = sorted({path.rsplit("/", 2)[0] for path in section.equipment})
    return OeeSetup(
        timezone=section.timezone,
        taxonomy=section.taxonomy,
        targets=Targets(**section.targets.model_dump()),
        equipment=list(section.equipment),
        lines=[
            LineInfo(
                line=line,
                bottleneck=oee.bottleneck(line),
                equipment=[p for p in section.equipment if p.startswith(f"{line}/")],
            )
            for line in lines
        ],
    )


@router.get("/equipment", summary="OEE of one equipment over a range")
def equipment(
    oee: Oee,
    span: Range,
    path: Annotated[str, _PATH],
    product: Annotated[
        str | None, Query(max_length=64, description="Only this product's time.")
    ] = None,
) -> OeeOut:
    eq = _equipment(oee, path)
    return oee_out(oee.equipment(eq, span.start_ns, span.end_ns, product=product))


@router.get("/equipment/shifts", summary="OEE of one equipment per shift worked")
def shifts(oee: Oee, span: Range, path: Annotated[str, _PATH]) -> list[BucketOut]:
    found = oee.by_shift(_equipment(oee, path), span.start_ns, span.end_ns)
    return [BucketOut(label=s.label, oee=oee_out(r)) for s, r in found]


@router.get("/equipment/days", summary="OEE of one equipment per plant calendar day")
def days(oee: Oee, span: Range, path: Annotated[str, _PATH]) -> list[BucketOut]:
    found = oee.by_day(_equipment(oee, path), span.start_ns, span.end_ns)
    return [BucketOut(label=d.isoformat(), oee=oee_out(r)) for d, r in found]


@router.get("/equipment/products", summary="OEE of one equipment per product run")
def products(oee: Oee, span: Range, path: Annotated[str, _PATH]) -> list[OeeOut]:
    found = oee.by_product(_equipment(oee, path), span.start_ns, span.end_ns)
    return [oee_out(r) for r in found]


@router.get("/line", summary="OEE of a line: its bottleneck's, with every equipment's")
def line(
    oee: Oee,
    span: Range,
    path: Annotated[str, Query(description="UNS path of the line.", max_length=400)],
) -> LineOut:
    if not any(p.startswith(f"{path}/") for p in oee.section.equipment):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no equipment with OEE on {path!r}")
    return line_out(oee.line(path, span.start_ns, span.end_ns))


@router.get("/site", summary="OEE of the whole site, times and parts summed")
def site(oee: Oee, span: Range) -> OeeOut:
    return oee_out(oee.site(span.start_ns, span.end_ns))
