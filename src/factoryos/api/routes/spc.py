"""Statistical process control (docs/spc.md): the characteristics, their control charts with
run-rule violations, capability with confidence intervals, inspection results, SPC alarms.

Charts and capability read the time-series store or the catalog and compute with numpy:
handlers run them in the thread pool. Posting a result evaluates its characteristic at once
and answers the alarms it raised; a posted result and an acknowledgement are audit-logged.
"""

from collections.abc import Callable
from typing import Annotated, Literal, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.params import TIME_TEXT, IsoTime, iso_time, iso_times, now_ns, parse_time
from factoryos.apps.trace.spc.capability import Interval
from factoryos.apps.trace.spc.charts import Chart
from factoryos.apps.trace.spc.config import CharacteristicSpec, LimitsSpec, TagSource, ns
from factoryos.apps.trace.spc.errors import SpcError
from factoryos.apps.trace.spc.evaluate import rule_list
from factoryos.apps.trace.spc.inspection import InspectionInput, InspectionInputError
from factoryos.apps.trace.spc.service import (
    CapabilityAnswer,
    ChartAnswer,
    SpcService,
    UnknownCharacteristicError,
)
from factoryos.model.timeparse import parse_time_ns
from factoryos.store.inspections import (
    AlarmFilter,
    InspectionRecord,
    SpcAlarmNotFoundError,
    SpcAlarmRecord,
    SpcAlarmStateError,
)

router = APIRouter(prefix="/api/spc", tags=["spc"])

T = TypeVar("T")
DAY_NS = 86_400 * 1_000_000_000
MAX_RANGE_NS = 31 * DAY_NS
_TIME = TIME_TEXT
_NAME = Path(description="The characteristic's name (apps file: spc.characteristics).",
             max_length=64)  # fmt: skip
_ALARM = Path(description="The SPC alarm's id.", ge=1, le=2**53)
_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such characteristic or alarm, or no SPC configured"},
    409: {"description": "the data cannot give an answer, or the alarm was acknowledged"},
}
StateName = Literal["active", "acknowledged"]


# -- answers -----------------------------------------------------------------------------


class RuleOut(BaseModel):
    code: str = Field(description="N1 … N8 (Nelson), WE1 … WE4 (Western Electric).")
    number: int
    description: str


class SpecOut(BaseModel):
    lsl: float | None
    usl: float | None
    target: float | None
    unit: str


class LimitsOut(BaseModel):
    source: Literal["trial", "baseline", "entered"] = Field(
        description="trial: from the charted data; baseline: from a window; entered: given."
    )
    baseline_start: str | None = None
    baseline_end: str | None = None
    mean: float | None = None
    sigma: float | None = None
    p: float | None = None
    c: float | None = None
    u: float | None = None

    @classmethod
    def of(cls, limits: LimitsSpec | str) -> "LimitsOut":
        if not isinstance(limits, LimitsSpec):
            return cls(source="trial")
        if limits.baseline is not None:
            start, end = ns(limits.baseline.start), ns(limits.baseline.end)
            return cls(
                source="baseline", baseline_start=iso_time(start), baseline_end=iso_time(end)
            )
        return cls(source="entered", **limits.model_dump(exclude={"baseline"}))


class CharacteristicOut(BaseModel):
    name: str
    description: str
    equipment: str = Field(description="The machine its alarms are linked to.")
    source: Literal["tag", "inspection"]
    tag: str | None = Field(description="The measurement tag (a tag source).")
    gate: str | None = Field(description="Measurements count only while this tag allows.")
    chart: str = Field(description="xbar_r, xbar_s, imr, p, np, c or u.")
    subgroup_size: int
    subgroup_every_s: float | None = Field(description="Time subgroups: one per period.")
    spec: SpecOut | None
    limits: LimitsOut
    rule_set: Literal["nelson", "western_electric"]
    rules: list[RuleOut]
    lot: Literal["tag", "inspection"] | None = Field(description="How a point's lot is known.")
    lot_tag: str | None
    priority: str
    active_alarms: int

    @classmethod
    def of(cls, name: str, s: CharacteristicSpec, active: int) -> "CharacteristicOut":
        spec = None if s.spec is None else SpecOut(**s.spec.model_dump())
        lot = "tag" if s.lot_tag is not None else "inspection" if s.lot == "inspection" else None
        return cls(
            name=name,
            description=s.description,
            equipment=s.equipment,
            source="tag" if isinstance(s.source, TagSource) else "inspection",
            tag=s.tag,
            gate=s.gate_tag,
            chart=s.chart,
            subgroup_size=s.subgroup.size,
            subgroup_every_s=s.subgroup.every_s,
            spec=spec,
            limits=LimitsOut.of(s.limits),
            rule_set=s.rules.set,
            rules=[RuleOut(code=c, number=n, description=d) for c, n, d in rule_list(s.rules)],
            lot=lot,
            lot_tag=s.lot_tag,
            priority=s.priority,
            active_alarms=active,
        )


class SeriesOut(BaseModel):
    """One chart: per point its time, value, centre line and limits (limits vary per point
    on p, np and u charts with varying sample sizes)."""

    kind: str = Field(description="xbar, r, s, i, mr, p, np, c or u.")
    time: list[str]
    value: list[float]
    center: list[float]
    lcl: list[float]
    ucl: list[float]


class ViolationOut(BaseModel):
    index: int = Field(description="The point's index in its own chart.")
    time: str
    chart: str = Field(description="The chart it is on (xbar, r, mr, p …).")
    role: Literal["location", "spread"]
    rule: str = Field(description="N1 … N8, WE1 … WE4.")
    number: int
    description: str
    value: float
    lot: str | None
    equipment: str


class ChartOut(BaseModel):
    name: str
    chart: str
    start: str
    end: str
    phase: str | None = Field(description="phase I (trial limits) or phase II (given).")
    limits: LimitsOut
    sigma: float | None = Field(description="The process σ (variables charts).")
    unit: str
    location: SeriesOut | None
    spread: SeriesOut | None = Field(description="R, S or MR chart (variables).")
    lots: list[str | None] = Field(description="Per location point.")
    equipment: list[str] = Field(description="Per location point.")
    rules: list[RuleOut]
    violations: list[ViolationOut] = Field(description="Oldest first.")
    problem: str | None = Field(description="Why there is no chart (no data, no spread …).")
    truncated_at: str | None = Field(description="Charted only until here: narrow the range.")


class IndexOut(BaseModel):
    value: float
    low: float = Field(description="Lower end of the confidence interval.")
    high: float


class HistogramOut(BaseModel):
    edges: list[float] = Field(description="Bin edges: one more than counts.")
    counts: list[int]


class CapabilityOut(BaseModel):
    name: str
    start: str
    end: str
    n: int = Field(description="Measurements used.")
    mean: float
    unit: str
    spec: SpecOut
    confidence: float
    within_method: str | None = Field(description="How σ_within is estimated (R̄/d2 …).")
    sigma_within: float
    sigma_overall: float
    cp: IndexOut | None = Field(description="None with a one-sided specification.")
    cpk: IndexOut
    cpl: float | None
    cpu: float | None
    pp: IndexOut | None
    ppk: IndexOut
    ppl: float | None
    ppu: float | None
    histogram: HistogramOut
    out_of_control: int | None = Field(description="Points the chart flags in the range.")
    notes: list[str]


class InspectionOut(BaseModel):
    id: int
    characteristic: str
    time: str
    lot: str | None
    equipment: str
    values: list[float] | None
    count: int | None = Field(description="Defectives (p, np) or defects (c, u).")
    sample_size: float | None
    inspector: str
    comment: str

    @classmethod
    def of(cls, r: InspectionRecord) -> "InspectionOut":
        return cls(
            id=r.id,
            characteristic=r.characteristic,
            time=iso_time(r.ts),
            lot=r.lot,
            equipment=r.equipment,
            values=None if r.values is None else list(r.values),
            count=r.count,
            sample_size=r.sample_size,
            inspector=r.inspector,
            comment=r.comment,
        )


class AlarmOut(BaseModel):
    id: int
    characteristic: str
    time: str = Field(description="The out-of-control point's time.")
    chart: str
    rule: str
    description: str
    value: float | None
    lot: str | None
    equipment: str
    state: StateName
    raised: str = Field(description="When it was recorded.")
    acked_by: str | None
    acked_at: str | None
    comment: str | None

    @classmethod
    def of(cls, a: SpcAlarmRecord) -> "AlarmOut":
        return cls(
            id=a.id,
            characteristic=a.characteristic,
            time=iso_time(a.ts),
            chart=a.chart,
            rule=a.rule,
            description=a.description,
            value=a.value,
            lot=a.lot,
            equipment=a.equipment,
            state="acknowledged" if a.state == "acknowledged" else "active",
            raised=iso_time(a.raised),
            acked_by=a.acked_by,
            acked_at=None if a.acked_at is None else iso_time(a.acked_at),
            comment=a.comment,
        )


class AlarmList(BaseModel):
    alarms: list[AlarmOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next, older page.")


class PostedOut(BaseModel):
    result: InspectionOut
    alarms: list[AlarmOut] = Field(description="The alarms this result raised.")


# -- requests ----------------------------------------------------------------------------


Measurement = Annotated[float, Field(allow_inf_nan=False, ge=-1e15, le=1e15)]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InspectionIn(_Body):
    """One result, one point: ``values`` for variables charts; ``defectives`` and
    ``sample_size`` for p and np; ``defects`` for c; ``defects`` and ``sample_size`` for u."""

    time: IsoTime | None = Field(default=None, description="When inspected. Default: now.")
    lot: str | None = Field(default=None, min_length=1, max_length=128)
    equipment: str | None = Field(
        default=None, min_length=1, max_length=400, description="Default: the characteristic's."
    )
    values: list[Measurement] | None = Field(default=None, min_length=1, max_length=25)
    defectives: int | None = Field(default=None, ge=0, lt=2**31)
    defects: int | None = Field(default=None, ge=0, lt=2**31)
    sample_size: float | None = Field(default=None, gt=0, le=1e9, allow_inf_nan=False)
    comment: str = Field(default="", max_length=1000)

    def given(self, now: int) -> InspectionInput:
        return InspectionInput(
            ts=now if self.time is None else parse_time_ns(self.time, now_ns=None),
            lot=self.lot,
            equipment=self.equipment,
            values=None if self.values is None else tuple(self.values),
            defectives=self.defectives,
            defects=self.defects,
            sample_size=self.sample_size,
            comment=self.comment,
        )


class AckIn(_Body):
    comment: str | None = Field(default=None, max_length=1000)


# -- helpers -----------------------------------------------------------------------------


def spc_service(services: ServicesDep, who: TenantCaller) -> SpcService:
    """The caller's tenant's SPC; 404 where none is configured."""
    spc = services.spc
    if spc is None or spc.tenant_id != who.tenant_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no SPC configured: the apps file has no 'spc:' section"
        )
    return spc


Spc = Annotated[SpcService, Depends(spc_service)]


async def _call(run: Callable[[], T]) -> T:
    """``run`` in the thread pool, its refusals as 404, 409 or 422 (naming the field)."""
    try:
        return await run_in_threadpool(run)
    except (UnknownCharacteristicError, SpcAlarmNotFoundError) as exc:
        raise HTTPException(status.HTTP_404_NOT_FOUND, str(exc)) from exc
    except InspectionInputError as exc:
        detail = [{"loc": ["body", exc.field], "msg": str(exc), "type": "value_error"}]
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, detail) from exc
    except (SpcError, SpcAlarmStateError) as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc


def _range(start: str | None, end: str | None) -> tuple[int, int]:
    hi = parse_time(end, "end") if end is not None else now_ns()
    lo = parse_time(start, "start") if start is not None else hi - DAY_NS
    if not lo < hi <= lo + MAX_RANGE_NS:
        raise BadParameterError("end", "must be after start, and at most 31 days after it")
    return lo, hi


def _series(chart: Chart, ts: list[str]) -> SeriesOut:
    return SeriesOut(
        kind=chart.kind,
        time=ts,
        value=chart.points.tolist(),
        center=chart.center.tolist(),
        lcl=chart.lcl.tolist(),
        ucl=chart.ucl.tolist(),
    )


def _unit(s: CharacteristicSpec) -> str:
    return "" if s.spec is None else s.spec.unit


def chart_out(a: ChartAnswer) -> ChartOut:
    s, c, groups = a.spec, a.chart, a.groups
    location = spread = None
    violations: list[ViolationOut] = []
    if c is not None:
        location = _series(c.location, iso_times(c.location_ts))
        if c.spread is not None and c.spread_ts is not None:
            spread = _series(c.spread, iso_times(c.spread_ts))
        violations = [
            ViolationOut(
                index=v.index, time=iso_time(v.ts), chart=v.chart, role=v.role, rule=v.code,
                number=v.number, description=v.description, value=v.value,
                lot=groups.lots[v.point], equipment=groups.equipment[v.point],
            )
            for v in c.violations
        ]  # fmt: skip
    return ChartOut(
        name=a.name,
        chart=s.chart,
        start=iso_time(a.start),
        end=iso_time(a.end),
        phase=None if c is None else str(c.limits.phase),
        limits=LimitsOut.of(s.limits),
        sigma=None if c is None else c.sigma,
        unit=_unit(s),
        location=location,
        spread=spread,
        lots=list(groups.lots) if c is not None else [],
        equipment=list(groups.equipment) if c is not None else [],
        rules=[RuleOut(code=code, number=n, description=d) for code, n, d in rule_list(s.rules)],
        violations=violations,
        problem=a.problem,
        truncated_at=None if a.truncated_at is None else iso_time(a.truncated_at),
    )


def _index(value: float | None, interval: Interval | None) -> IndexOut | None:
    if value is None or interval is None:
        return None
    return IndexOut(value=value, low=interval.low, high=interval.high)


def capability_out(a: CapabilityAnswer) -> CapabilityOut:
    cap, hist = a.view.capability, a.view.histogram
    w, o = cap.within, cap.overall
    assert a.spec.spec is not None  # capability_of refuses a characteristic without one
    notes = []
    if a.out_of_control:
        notes.append(
            f"the chart flags {a.out_of_control} points in the range: capability assumes a "
            "process in control, so these indices describe it only loosely"
        )
    if a.truncated_at is not None:
        notes.append(f"only the data until {iso_time(a.truncated_at)}: narrow the range")
    return CapabilityOut(
        name=a.name,
        start=iso_time(a.start),
        end=iso_time(a.end),
        n=cap.n,
        mean=cap.mean,
        unit=_unit(a.spec),
        spec=SpecOut(**a.spec.spec.model_dump()),
        confidence=cap.confidence,
        within_method=None if cap.within_method is None else str(cap.within_method),
        sigma_within=w.sigma,
        sigma_overall=o.sigma,
        cp=_index(w.ratio, w.ratio_interval),
        cpk=IndexOut(value=w.k, low=w.k_interval.low, high=w.k_interval.high),
        cpl=w.lower,
        cpu=w.upper,
        pp=_index(o.ratio, o.ratio_interval),
        ppk=IndexOut(value=o.k, low=o.k_interval.low, high=o.k_interval.high),
        ppl=o.lower,
        ppu=o.upper,
        histogram=HistogramOut(edges=hist.edges.tolist(), counts=hist.counts.tolist()),
        out_of_control=a.out_of_control,
        notes=notes,
    )


# -- routes ------------------------------------------------------------------------------


@router.get("/characteristics", summary="The configured quality characteristics")
async def characteristics(spc: Spc) -> list[CharacteristicOut]:
    active = await _call(lambda: spc.inspections.active_counts(spc.tenant_id))
    return [
        CharacteristicOut.of(name, s, active.get(name, 0))
        for name, s in spc.section.characteristics.items()
    ]


@router.get(
    "/characteristics/{name}/chart",
    summary="A characteristic's control chart over a range, with run-rule violations",
    responses=_ERRORS,
)
async def chart(
    spc: Spc,
    name: Annotated[str, _NAME],
    start: Annotated[str | None, Query(description=f"{_TIME} Default: end − 24 h.",
                                       max_length=64)] = None,
    end: Annotated[str | None, Query(description=f"{_TIME} Default: now.", max_length=64)] = None,
) -> ChartOut:  # fmt: skip
    lo, hi = _range(start, end)
    return chart_out(await _call(lambda: spc.chart(name, lo, hi)))


@router.get(
    "/characteristics/{name}/capability",
    summary="Cp, Cpk, Pp, Ppk with confidence intervals, and the histogram",
    responses=_ERRORS,
)
async def capability(
    spc: Spc,
    name: Annotated[str, _NAME],
    start: Annotated[str | None, Query(description=f"{_TIME} Default: end − 24 h.",
                                       max_length=64)] = None,
    end: Annotated[str | None, Query(description=f"{_TIME} Default: now.", max_length=64)] = None,
    confidence: Annotated[float, Query(ge=0.5, le=0.999, description="Of the intervals.")] = 0.95,
) -> CapabilityOut:  # fmt: skip
    lo, hi = _range(start, end)
    return capability_out(await _call(lambda: spc.capability(name, lo, hi, confidence)))


@router.post(
    "/characteristics/{name}/inspections",
    status_code=status.HTTP_201_CREATED,
    summary="Post an inspection result (one point); answers the alarms it raised",
    responses={**_ERRORS, 422: {"description": "a field that does not fit the chart"}},
)
async def post_inspection(
    services: ServicesDep,
    who: TenantCaller,
    spc: Spc,
    name: Annotated[str, _NAME],
    body: InspectionIn,
) -> PostedOut:
    now = now_ns()
    given = body.given(now)
    stored, raised = await _call(lambda: spc.add_result(name, given, who.key_name, now))
    facts = {"id": stored.id, "lot": stored.lot, "alarms": [a.id for a in raised]}
    await record(services, "spc_inspection", who, name, facts)
    return PostedOut(result=InspectionOut.of(stored), alarms=[AlarmOut.of(a) for a in raised])


@router.get("/alarms", summary="SPC alarms, newest first, with filters and paging")
async def alarms(
    spc: Spc,
    characteristic: Annotated[str | None, Query(description="Only this one.",
                                                max_length=64)] = None,
    state: Annotated[StateName | None, Query(description="Only this state.")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**53, description="Older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AlarmList:  # fmt: skip
    where = AlarmFilter(characteristic, state)
    page = await _call(lambda: spc.alarms(where, before=before, limit=limit))
    return AlarmList(alarms=[AlarmOut.of(a) for a in page.alarms], next_before=page.next_before)


@router.post("/alarms/{alarm_id}/ack", summary="Acknowledge an SPC alarm", responses=_ERRORS)
async def acknowledge(
    services: ServicesDep,
    who: TenantCaller,
    spc: Spc,
    alarm_id: Annotated[int, _ALARM],
    body: AckIn | None = None,
) -> AlarmOut:
    comment = None if body is None else body.comment
    acked = await _call(lambda: spc.acknowledge(alarm_id, who.key_name, comment, now_ns()))
    facts = {"characteristic": acked.characteristic, "rule": acked.rule, "comment": comment}
    await record(services, "spc_alarm_acknowledge", who, f"spc alarm {alarm_id}", facts)
    return AlarmOut.of(acked)
