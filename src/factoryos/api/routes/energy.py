"""Energy: per place, shift, product and good part, the load profile, and the compressed-air
station's audit (docs/energy.md). Answers read the store and compute with numpy: handlers
run in the thread pool."""

from dataclasses import asdict
from typing import Annotated

from fastapi import APIRouter, Depends, HTTPException, Query, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.params import iso_time
from factoryos.api.routes.oee import Range
from factoryos.apps.energy.air import CompressorFigures
from factoryos.apps.energy.service import AirReport, EnergyRow, EnergyService, PlaceEnergy

router = APIRouter(prefix="/api/energy", tags=["energy"])

_PLACE = Query(description="UNS path: the site, an area, a line or an equipment.", max_length=400)
_EQUIPMENT = Query(description="UNS path of an equipment with an oee: entry.", max_length=400)


class MeterOut(BaseModel):
    name: str
    measures: str
    tag: str
    kind: str = Field(description="counter (energy register) or power (integrated).")
    unit: str


class SetupOut(BaseModel):
    meters: list[MeterOut]
    places: list[str] = Field(description="Every place a meter measures.")
    demand_interval_s: int
    compressors: list[str] = Field(description="The compressed-air station, if configured.")


class PlaceOut(BaseModel):
    place: str
    start: str
    end: str
    kwh: float
    coverage: float = Field(description="Share of the range the meters measured (0–1).")
    meters: list[str] = Field(description="The meters summed (docs/energy.md).")
    idle_kwh: float | None = Field(description="Used while not producing; OEE equipment only.")


class RowOut(BaseModel):
    key: str = Field(description="'2025-01-06 early' for a shift, the name for a product.")
    start: str
    end: str
    kwh: float
    coverage: float
    good: int | None
    kwh_per_good: float | None = Field(description="None when no good part was made.")


class PeakOut(BaseModel):
    start: str
    kw: float


class ProfileOut(BaseModel):
    place: str
    interval_s: int
    starts: list[str]
    kw: list[float]
    coverage: list[float]
    peak: PeakOut | None = Field(description="Highest fully measured interval.")


class CompressorOut(BaseModel):
    name: str
    kwh: float
    air_m3: float
    specific_power_kw_per_m3_min: float | None
    load_ratio: float | None
    loaded_h: float
    unloaded_h: float
    unloaded_kwh: float


class LeakOut(BaseModel):
    m3_min: float = Field(description="Free air leaking, at pressure_bar.")
    pressure_bar: float
    measured_h: float
    share: float | None = Field(description="Of all air delivered in the range.")


class SetpointOut(BaseModel):
    lowest_bar: float
    target_bar: float
    reduce_bar: float
    saving_kwh: float
    loaded_kwh_saved: float
    leak_kwh_saved: float
    note: str


class RunOnOut(BaseModel):
    name: str
    delay_s: float
    saving_kwh: float
    starts_per_h: float


class AirOut(BaseModel):
    start: str
    end: str
    kwh: float
    specific_power_kw_per_m3_min: float | None
    compressors: list[CompressorOut]
    leakage: LeakOut | None
    setpoint: SetpointOut
    run_on: list[RunOnOut]


def energy_service(services: ServicesDep, principal: TenantCaller) -> EnergyService:
    """The energy app of the caller's tenant; 404 where none is configured."""
    app = services.energy
    if app is None or app.tenant != principal.tenant:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no energy configured (apps file: energy:)")
    return app.service


Energy = Annotated[EnergyService, Depends(energy_service)]


def _row(r: EnergyRow) -> RowOut:
    return RowOut(
        key=r.key, start=iso_time(r.start_ns), end=iso_time(r.end_ns), kwh=r.kwh,
        coverage=r.coverage, good=r.good, kwh_per_good=r.kwh_per_good,
    )  # fmt: skip


def _place(e: PlaceEnergy) -> PlaceOut:
    return PlaceOut(
        place=e.place, start=iso_time(e.start_ns), end=iso_time(e.end_ns), kwh=e.kwh,
        coverage=e.coverage, meters=list(e.meters), idle_kwh=e.idle_kwh,
    )  # fmt: skip


@router.get("/setup", summary="What energy metering is configured: meters, places, station")
def setup(energy: Energy) -> SetupOut:
    section = energy.section
    meters = [
        MeterOut(name=name, measures=m.measures, tag=m.tag, unit=m.unit, kind=m.kind)
        for name, m in section.meters.items()
    ]
    air = section.compressed_air
    return SetupOut(
        meters=meters,
        places=energy.places,
        demand_interval_s=section.demand_interval_s,
        compressors=list(air.compressors) if air is not None else [],
    )


@router.get("/place", summary="Energy of a place over a range, with idle energy")
async def place(energy: Energy, span: Range, path: Annotated[str, _PLACE]) -> PlaceOut:
    return _place(await run_in_threadpool(energy.energy, path, span.start_ns, span.end_ns))


@router.get("/shifts", summary="Energy and energy per good part of each shift worked")
async def shifts(energy: Energy, span: Range, path: Annotated[str, _EQUIPMENT]) -> list[RowOut]:
    rows = await run_in_threadpool(energy.by_shift, path, span.start_ns, span.end_ns)
    return [_row(r) for r in rows]


@router.get("/products", summary="Energy and energy per good part of each product run")
async def products(energy: Energy, span: Range, path: Annotated[str, _EQUIPMENT]) -> list[RowOut]:
    rows = await run_in_threadpool(energy.by_product, path, span.start_ns, span.end_ns)
    return [_row(r) for r in rows]


@router.get("/profile", summary="Load profile (average kW per demand interval) and its peak")
async def profile(energy: Energy, span: Range, path: Annotated[str, _PLACE]) -> ProfileOut:
    step = energy.section.demand_interval_s * 1_000_000_000
    a = span.start_ns - span.start_ns % step  # whole intervals around the range
    b = span.end_ns + (-span.end_ns) % step
    p = await run_in_threadpool(energy.profile, path, a, b)
    peak = p.peak()
    return ProfileOut(
        place=path,
        interval_s=p.interval_s,
        starts=[iso_time(int(t)) for t in p.starts],
        kw=[float(x) for x in p.kw],
        coverage=[float(x) for x in p.coverage],
        peak=None if peak is None else PeakOut(start=iso_time(peak[0]), kw=peak[1]),
    )


def _compressor(c: CompressorFigures) -> CompressorOut:
    fields = asdict(c)
    return CompressorOut(
        **fields, specific_power_kw_per_m3_min=c.specific_power, load_ratio=c.load_ratio
    )


def air_out(r: AirReport) -> AirOut:
    air = sum(c.air_m3 for c in r.compressors)
    leak = r.leakage
    hours = (r.end_ns - r.start_ns) / 3.6e12
    leak_out = None
    if leak is not None:
        share = leak.m3_min * 60 * hours / air if air > 0 else None
        leak_out = LeakOut(**asdict(leak), share=share)
    return AirOut(
        start=iso_time(r.start_ns),
        end=iso_time(r.end_ns),
        kwh=r.kwh,
        specific_power_kw_per_m3_min=r.specific_power,
        compressors=[_compressor(c) for c in r.compressors],
        leakage=leak_out,
        setpoint=SetpointOut(**asdict(r.setpoint)),
        run_on=[RunOnOut(**asdict(a)) for a in r.run_on],
    )


@router.get("/air", summary="Compressed-air station: specific power, leakage, advice")
async def air(energy: Energy, span: Range) -> AirOut:
    return air_out(await run_in_threadpool(energy.air, span.start_ns, span.end_ns))
