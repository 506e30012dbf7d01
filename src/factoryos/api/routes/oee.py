"""OEE: per equipment, shift, day, product, line and site, for any range (docs/oee.md)."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.params import iso_time, now_ns, parse_time
from factoryos.apps.oee.evaluate import ENTRY_TOLERANCE_S, OeeResult
from factoryos.apps.oee.pareto import ParetoRow
from factoryos.apps.oee.reasons import OperatorEntry
from factoryos.apps.oee.report import oee_report
from factoryos.apps.oee.service import LineResult, LossReport, OeeService
from factoryos.apps.oee.trend import TrendRow
from factoryos.apps.reports import Format, mime_type, render
from factoryos.store.downtime import DowntimeReasons, ReasonEntry

router = APIRouter(prefix="/api/oee", tags=["oee"])

DAY_NS = 86_400 * 10**9
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TIME = "ISO 8601 with a zone, e.g. 2025-01-06T06:00:00Z."
_PATH = Query(description="UNS path of an equipment with OEE configured.", max_length=400)
_SCOPE = Query(description="Equipment, line or area; default: all.", max_length=400)
_FORMAT = Query(description="pdf, xlsx, or csv (the first table).")
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


class ParetoOut(BaseModel):
    key: str
    seconds: float
    count: int
    share: float
    cumulative: float


class StopOut(BaseModel):
    equipment: str
    start: str
    end: str
    category: str
    reason: str | None = Field(description="'code text', None = unassigned.")
    source: str | None = Field(description="automatic (PLC code) or operator.")


class TrendOut(BaseModel):
    label: str
    seconds: dict[str, float]
    stops: int


class LossesOut(BaseModel):
    """Where the time went (docs/oee.md, "Loss analysis")."""

    start: str
    end: str
    six_big_losses_s: dict[str, float] = Field(description="Summed over the equipment asked.")
    value_adding_s: float
    planned_busy_s: float
    by_reason: list[ParetoOut]
    by_equipment: list[ParetoOut]
    by_day: list[TrendOut]
    by_shift: list[TrendOut] = Field(description="Per shift; equipment add up by shift label.")
    stops: list[StopOut] = Field(description="Unplanned stops, oldest first (the newest 1000).")


class Targets(BaseModel):
    oee: float
    availability: float
    performance: float
    quality: float


class LineInfo(BaseModel):
    line: str
    bottleneck: str
    equipment: list[str]


class ReasonCode(BaseModel):
    code: int
    text: str
    loss: str


class OeeSetup(BaseModel):
    timezone: str
    taxonomy: str
    targets: Targets
    equipment: list[str]
    lines: list[LineInfo]
    reasons: list[ReasonCode] = Field(description="The codes an operator may enter for a stop.")


@dataclass(frozen=True)
class Span:
    start_ns: int
    end_ns: int


def span(
    start: Annotated[str | None, Query(description=f"{_TIME} Default: end - 24 h.")] = None,
    end: Annotated[str | None, Query(description=f"{_TIME} Default: now.")] = None,
) -> Span:
    now = now_ns()
    # The future holds no data: a range reaching past now ends now (shown in the answer's end).
    end_ns = min(parse_time(end, "end"), now) if end is not None else now
    start_ns = parse_time(start, "start") if start is not None else end_ns - DAY_NS
    if start_ns >= end_ns:
        raise BadParameterError("start", f"{iso_time(start_ns)} must be before end and now")
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
    lines = oee.lines()
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
        reasons=[
            ReasonCode(code=code, text=r.text, loss=str(r.loss))
            for code, r in sorted(section.reasons.root.items())
        ],
    )


@router.get("/equipment", summary="OEE of one equipment over a range")
def equipment(
    oee: Oee,
    span: Range,
    path: Annotated[str, _PATH],
    product: Annotated[str | None, _PRODUCT] = None,
) -> OeeOut:
    eq = _equipment(oee, path)
    if product is not None and product not in oee.product_names(eq):
        known = ", ".join(oee.product_names(eq))
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no product {product!r} (known: {known})")
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
    if path not in oee.lines():
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no line {path!r} with OEE equipment")
    return line_out(oee.line(path, span.start_ns, span.end_ns))


@router.get("/site", summary="OEE of the whole site, times and parts summed")
def site(oee: Oee, span: Range) -> OeeOut:
    return oee_out(oee.site(span.start_ns, span.end_ns))


def _pareto(rows: list[ParetoRow]) -> list[ParetoOut]:
    return [
        ParetoOut(
            key=r.key, seconds=r.seconds, count=r.count, share=r.share, cumulative=r.cumulative
        )
        for r in rows
    ]


MAX_STOPS = 1000


def _trend(t: TrendRow) -> TrendOut:
    return TrendOut(label=t.label, seconds={str(c): v for c, v in t.seconds.items()}, stops=t.stops)


def losses_out(report: LossReport) -> LossesOut:
    unplanned = sorted((s for s in report.stops if not s.planned), key=lambda s: s.start_ns)
    unplanned = unplanned[-MAX_STOPS:]
    return LossesOut(
        start=iso_time(report.start_ns),
        end=iso_time(report.end_ns),
        six_big_losses_s={str(k): v for k, v in report.total_losses().items()},
        value_adding_s=sum(s.value_adding_s for s in report.six_big_losses.values()),
        planned_busy_s=sum(s.pbt_s for s in report.six_big_losses.values()),
        by_reason=_pareto(report.by_reason),
        by_equipment=_pareto(report.by_equipment),
        by_day=[_trend(t) for t in report.by_day],
        by_shift=[_trend(t) for t in report.by_shift],
        stops=[
            StopOut(
                equipment=s.equipment,
                start=iso_time(s.start_ns),
                end=iso_time(s.end_ns),
                category=str(s.category),
                reason=None if s.reason is None else s.reason.key,
                source=None if s.reason is None else str(s.reason.source),
            )
            for s in unplanned
        ],
    )


def _scope(oee: OeeService, path: str | None) -> list[str]:
    """Equipment under ``path`` (an equipment, a line, an area …); all when None."""
    if path is None:
        return oee.equipment_paths
    found = [p for p in oee.equipment_paths if p == path or p.startswith(f"{path}/")]
    if not found:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no equipment with OEE under {path!r}")
    return found


@router.get("/losses", summary="Downtime Pareto, six big losses and daily trend")
def losses(
    services: ServicesDep,
    principal: TenantCaller,
    oee: Oee,
    span: Range,
    path: Annotated[str | None, _SCOPE] = None,
    top: Annotated[int, Query(ge=1, le=100, description="Pareto rows before 'other'.")] = 10,
) -> LossesOut:
    paths = _scope(oee, path)
    slack = round(ENTRY_TOLERANCE_S * 1e9)  # an entry may name a start just before the range
    found = DowntimeReasons(services.catalog).entries(
        principal.tenant_id, paths, span.start_ns - slack, span.end_ns
    )
    entries = [OperatorEntry(e.equipment, e.stop_start, e.code, e.comment, e.user) for e in found]
    return losses_out(oee.losses(paths, span.start_ns, span.end_ns, entries, top_n=top))


class ReasonIn(BaseModel):
    """A downtime reason for one stop, as an operator enters it."""

    equipment: str = Field(max_length=400, description="UNS path of the equipment.")
    stop_start: str = Field(max_length=64, description=f"The stop's start ({_TIME}).")
    code: int = Field(ge=-(2**31), lt=2**31, description="A code of the oee.reasons catalog.")
    comment: str = Field(default="", max_length=500)


class ReasonOut(BaseModel):
    equipment: str
    stop_start: str
    code: int
    text: str
    comment: str
    user: str
    entered: datetime


def _reason_out(oee: OeeService, e: ReasonEntry) -> ReasonOut:
    spec = oee.section.reasons.root.get(e.code)
    return ReasonOut(
        equipment=e.equipment,
        stop_start=iso_time(e.stop_start),
        code=e.code,
        text=spec.text if spec is not None else "(no longer in the catalog)",
        comment=e.comment,
        user=e.user,
        entered=e.entered,
    )


@router.post("/reasons", summary="Enter the reason of a stop (a newer entry corrects it)")
async def enter_reason(
    services: ServicesDep, principal: TenantCaller, oee: Oee, body: ReasonIn
) -> ReasonOut:
    _equipment(oee, body.equipment)
    catalog = oee.section.reasons.root
    if body.code not in catalog:
        known = ", ".join(f"{c} {r.text}" for c, r in sorted(catalog.items())) or "none"
        raise BadParameterError("code", f"{body.code} is not a reason code (known: {known})")
    start = parse_time(body.stop_start, "stop_start")
    entry = ReasonEntry(
        body.equipment, start, body.code, body.comment, principal.key_name, datetime.now(UTC)
    )
    stored = await run_in_threadpool(
        DowntimeReasons(services.catalog).add, principal.tenant_id, entry
    )
    detail = {"code": body.code, "stop_start": body.stop_start}
    await record(services, "downtime_reason", principal, body.equipment, detail)
    return _reason_out(oee, stored)


@router.get("/reasons", summary="Reasons entered for stops starting in a range")
def reasons(
    services: ServicesDep,
    principal: TenantCaller,
    oee: Oee,
    span: Range,
    path: Annotated[str | None, _SCOPE] = None,
) -> list[ReasonOut]:
    found = DowntimeReasons(services.catalog).entries(
        principal.tenant_id, _scope(oee, path), span.start_ns, span.end_ns
    )
    return [_reason_out(oee, e) for e in found]


def _utc(ns: int) -> datetime:
    return EPOCH + timedelta(microseconds=ns // 1000)  # no float: ends stay exact to the µs


@router.get(
    "/report",
    summary="The OEE and downtime report of a range as a file",
    response_class=Response,
    responses={200: {"content": {t: {} for t in ("text/csv", "application/pdf")}}},
)
def report(
    oee: Oee,
    span: Range,
    format: Annotated[Format, _FORMAT] = "pdf",
) -> Response:
    built = oee_report(oee, _utc(span.start_ns), _utc(span.end_ns))
    files = render("oee", built, [format])
    name = next(iter(files))
    return Response(
        files[name],
        media_type=mime_type(name),
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
