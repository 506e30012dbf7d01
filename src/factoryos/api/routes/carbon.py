"""Carbon reports: issue the inventory of a month or a year (a new immutable version), list
the versions, read one as JSON or PDF (docs/energy.md)."""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.params import iso_time, now_ns
from factoryos.api.routes.oee import Range
from factoryos.apps.energy.carbon_report import to_report
from factoryos.apps.energy.carbon_service import CarbonService, LotFootprint
from factoryos.apps.energy.inventory import Activity, Category, Instrument, Kind
from factoryos.apps.reports.pdf import to_pdf
from factoryos.store.carbon_reports import CarbonReportVersion

router = APIRouter(prefix="/api/energy/carbon", tags=["energy"])

MAX_INPUTS = 1000
PERIOD = r"^[0-9]{4}(-[0-9]{2})?$"  # ASCII digits: "２０２５" must not name a period
_PERIOD = Path(
    description="A month YYYY-MM or a year YYYY, in the carbon section's time zone.",
    pattern=PERIOD,
)
_VERSION = Path(ge=1, le=2**31 - 1)
_Id = Annotated[str, Field(min_length=1, max_length=200)]
_Amount = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ActivityIn(_In):
    """A quantity that emits: a fuel from the library, or explicit factor ids."""

    id: _Id
    category: Literal[1, 2, 3, 4, 5, 6] = Field(description="ISO 14064-1 category.")
    quantity: _Amount
    unit: str = Field(min_length=1, max_length=32, examples=["m³", "t", "L"])
    fuel: str | None = Field(default=None, max_length=200, examples=["natural_gas"])
    convert: list[_Id] = Field(default_factory=list, max_length=20)
    emit: list[_Id] = Field(default_factory=list, max_length=20)
    evidence: str = Field(default="", max_length=500, description="Invoice, meter, delivery note.")

    def activity(self) -> Activity:
        return Activity(
            self.id, Category(self.category), self.quantity, self.unit, self.fuel,
            tuple(self.convert), tuple(self.emit), self.evidence,
        )  # fmt: skip


class InstrumentIn(_In):
    """A contractual instrument for the market-based scope 2."""

    id: _Id
    kind: Kind
    mwh: _Amount
    factor: _Id | None = Field(default=None, description="Needed for supplier instruments.")

    def instrument(self) -> Instrument:
        return Instrument(self.id, self.kind, self.mwh, self.factor)


class IssueIn(_In):
    period: str = Field(pattern=PERIOD, examples=["2026-11", "2026"])
    activities: list[ActivityIn] = Field(default_factory=list, max_length=MAX_INPUTS)
    instruments: list[InstrumentIn] = Field(default_factory=list, max_length=MAX_INPUTS)


class VersionOut(BaseModel):
    site: str
    period: str
    version: int
    created: datetime
    created_by: str
    factor_digest: str = Field(description="SHA-256 of the emission-factor set used.")
    content_sha256: str = Field(description="SHA-256 of the report as issued.")

    @classmethod
    def of(cls, v: CarbonReportVersion) -> "VersionOut":
        return cls(
            site=v.site, period=v.period, version=v.version, created=v.created,
            created_by=v.created_by, factor_digest=v.factor_digest,
            content_sha256=v.content_sha256,
        )  # fmt: skip


class IssuedOut(VersionOut):
    new: bool = Field(description="False: the newest version already held this content.")


class ReportOut(VersionOut):
    report: dict[str, Any] = Field(description="The report as issued (docs/energy.md).")


class MaterialOut(BaseModel):
    name: str
    quantity: float
    unit: str
    factor_kg_co2e: float = Field(description="Per one `per`, the user's upstream factor.")
    per: str
    source: str
    kg_co2e: float


class LotOut(BaseModel):
    lot: str = Field(description="The product lot's class URN (urn:epc:class:lgtin:…).")
    product: str
    start: str
    end: str
    good_units: int
    place: str = Field(description="Where the lot's energy was measured: its line.")
    kwh: float
    coverage: float = Field(description="Share of the lot's window its line's meters measured.")
    process_kg_co2e: float
    materials: list[MaterialOut]
    total_kg_co2e: float
    kg_co2e_per_unit: float | None


def _lot(f: LotFootprint) -> LotOut:
    fp = f.footprint
    materials = [
        MaterialOut(
            name=m.name, quantity=m.quantity, unit=m.unit, factor_kg_co2e=m.factor_kg_co2e,
            per=m.per, source=m.source, kg_co2e=m.kg_co2e(),
        )
        for m in fp.materials
    ]  # fmt: skip
    return LotOut(
        lot=f.lot.lot, product=fp.product, start=iso_time(f.lot.start_ns),
        end=iso_time(f.lot.end_ns), good_units=fp.good_units, place=f.place,
        kwh=sum(a.share for a in fp.process), coverage=f.coverage,
        process_kg_co2e=fp.process_kg, materials=materials, total_kg_co2e=fp.total_kg,
        kg_co2e_per_unit=fp.per_unit_kg if fp.good_units > 0 else None,
    )  # fmt: skip


_LINE = Query(description="A line of the trace: section (its name).", max_length=200)


def carbon_service(services: ServicesDep, principal: TenantCaller) -> CarbonService:
    """The carbon reports of the caller's tenant; 404 where none are configured."""
    app = services.energy
    if app is None or app.tenant != principal.tenant or app.carbon is None:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no carbon reports configured (apps file: energy: carbon:)"
        )
    return app.carbon


Carbon = Annotated[CarbonService, Depends(carbon_service)]


@router.post(
    "/reports",
    summary="Issue the inventory of a month or a year as a new version",
    status_code=status.HTTP_201_CREATED,
    responses={200: {"description": "The newest version already held this content."}},
)
async def issue(
    services: ServicesDep,
    principal: TenantCaller,
    carbon: Carbon,
    body: IssueIn,
    response: Response,
) -> IssuedOut:
    activities = [a.activity() for a in body.activities]
    instruments = [i.instrument() for i in body.instruments]
    version, new = await run_in_threadpool(
        carbon.issue, body.period, activities, instruments, principal.key_name, datetime.now(UTC)
    )
    if new:
        detail = {"version": version.version, "factor_digest": version.factor_digest}
        await record(services, "carbon_report_issue", principal, body.period, detail)
    else:
        response.status_code = status.HTTP_200_OK
    return IssuedOut(**VersionOut.of(version).model_dump(), new=new)


@router.get("/reports", summary="Issued versions, newest period and version first")
async def versions(
    carbon: Carbon,
    period: Annotated[str | None, Query(pattern=PERIOD)] = None,
) -> list[VersionOut]:
    return [VersionOut.of(v) for v in await run_in_threadpool(carbon.versions, period)]


@router.get("/reports/{period}/{version}", summary="One version as issued, with every line")
async def report(
    carbon: Carbon,
    period: Annotated[str, _PERIOD],
    version: Annotated[int, _VERSION],
) -> ReportOut:
    found = await run_in_threadpool(carbon.get, period, version)
    return ReportOut(**VersionOut.of(found).model_dump(), report=found.content)


def _pdf(found: CarbonReportVersion) -> bytes:
    return to_pdf(to_report(found.content, found.version, found.created))


@router.get(
    "/reports/{period}/{version}/pdf",
    summary="One version as a PDF, with charts",
    response_class=Response,
    responses={200: {"content": {"application/pdf": {}}}},
)
async def report_pdf(
    carbon: Carbon,
    period: Annotated[str, _PERIOD],
    version: Annotated[int, _VERSION],
) -> Response:
    found = await run_in_threadpool(carbon.get, period, version)
    data = await run_in_threadpool(_pdf, found)
    file = f"ghg-inventory_{found.site}_{period}_v{version}.pdf"
    return Response(
        data,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{file}"'},
    )


@router.get("/lots", summary="Footprint of every finished lot of a line started in a range")
async def lot_footprints(carbon: Carbon, span: Range, line: Annotated[str, _LINE]) -> list[LotOut]:
    found = await run_in_threadpool(carbon.lot_footprints, line, span.start_ns, span.end_ns)
    return [_lot(f) for f in found]


@router.get(
    "/pact",
    summary="One lot's footprint per kg of product in the PACT 2.2 data model",
    responses={200: {"description": "A ProductFootprint, validated against its schema."}},
)
async def pact(
    carbon: Carbon,
    span: Range,
    line: Annotated[str, _LINE],
    lot: Annotated[str, Query(description="The lot's class URN.", max_length=400)],
) -> dict[str, Any]:
    return await run_in_threadpool(carbon.pact, line, lot, span.start_ns, span.end_ns, now_ns())
