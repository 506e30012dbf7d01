"""Alarms: the live list, operator commands (ISA-18.2), the history and its KPIs (docs/alarms.md).

Commands run on the event loop, where the alarm processor lives (it is single-threaded), and
are recorded twice: in the alarm history (with the operator and comment) and in the audit log.
"""

from collections.abc import Awaitable, Callable
from typing import Annotated, Literal, Self

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.params import iso_time, now_ns, parse_time
from factoryos.apps.alarms import (
    AlarmEvent,
    AlarmState,
    AlarmStateError,
    EventKind,
    Priority,
    compute_kpis,
)
from factoryos.apps.alarms.kpi import AlarmKpis
from factoryos.apps.alarms.processor import AlarmProcessor, LiveStatus
from factoryos.store.alarm_log import AlarmRecord, HistoryFilter

router = APIRouter(prefix="/api/alarms", tags=["alarms"])

NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
MAX_KPI_RANGE_NS = 31 * DAY_NS
KPI_LOOKBACK_NS = 7 * 86_400 * NS_PER_S  # how far before the range standing alarms are sought
MAX_KPI_EVENTS = 200_000
_TIME = "ISO 8601 with a zone, e.g. 2025-01-06T06:00:00Z."
_NAME = Path(description="The alarm's name (URL-encoded).", max_length=128)
_UNACKED = (AlarmState.UNACKED, AlarmState.RTN_UNACKED)
PriorityName = Literal["low", "medium", "high", "urgent"]


class AlarmOut(BaseModel):
    name: str
    state: AlarmState = Field(description="normal, active_unacked, active_acked, "
                              "cleared_unacked, shelved or out_of_service.")  # fmt: skip
    priority: PriorityName
    active: bool = Field(description="The (debounced) condition holds now.")
    acked: bool = Field(description="Nothing waits for an acknowledgement.")
    shelved_until: str | None
    last_value: float | None = Field(description="The tag's last good sample, when seen.")
    last_time: str | None
    equipment: str
    tag: str
    description: str
    activations: int = Field(description="Annunciated activations since the platform started.")

    @classmethod
    def of(cls, live: LiveStatus) -> "AlarmOut":
        s, info = live.status, live.info
        return cls(
            name=s.name,
            state=s.state,
            priority=_label(s.priority),
            active=s.condition_active,
            acked=s.state not in _UNACKED,
            shelved_until=None if s.shelved_until is None else iso_time(s.shelved_until),
            last_value=live.last_value,
            last_time=None if live.last_ts is None else iso_time(live.last_ts),
            equipment=info.equipment,
            tag=info.tag,
            description=info.description,
            activations=s.activations,
        )


class AlarmList(BaseModel):
    alarms: list[AlarmOut]


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    comment: str | None = Field(default=None, max_length=1000)


class Reason(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="Why: it is recorded.")


class ShelveRequest(Reason):
    """Give ``duration_s`` or ``until``; at most the configured maximum (default 8 h)."""

    duration_s: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    until: str | None = Field(default=None, description=_TIME, max_length=64)

    @model_validator(mode="after")
    def _one_end(self) -> Self:
        if (self.duration_s is None) == (self.until is None):
            raise ValueError("give exactly one of duration_s and until")
        return self


class EventOut(BaseModel):
    id: int
    time: str
    alarm: str
    kind: EventKind
    priority: PriorityName
    state: AlarmState = Field(description="The alarm's state right after the event.")
    value: float | None
    user: str | None = Field(description="Who gave the command (operator actions).")
    comment: str | None
    shelved_until: str | None

    @classmethod
    def of(cls, r: AlarmRecord) -> "EventOut":
        return cls(
            id=r.id or 0,
            time=iso_time(r.ts),
            alarm=r.alarm,
            kind=EventKind(r.kind),
            priority=_label(Priority(r.priority)),
            state=AlarmState(r.state),
            value=r.value,
            user=r.actor,
            comment=r.comment,
            shelved_until=None if r.until is None else iso_time(r.until),
        )


class HistoryOut(BaseModel):
    events: list[EventOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next, older page.")


class FloodOut(BaseModel):
    start: str
    end: str
    alarms: int


class StandingOut(BaseModel):
    alarm: str
    since: str
    duration_s: float


class KpiOut(BaseModel):
    """ISA-18.2 alarm-system performance over [start, end) (docs/alarms.md, KPIs)."""

    start: str
    end: str
    total: int
    per_10min_avg: float = Field(description="Alarms per operator per 10 minutes (target ~1).")
    per_10min_max: int
    floods: list[FloodOut] = Field(description="Periods with more than 10 alarms in 10 min.")
    flood_time_fraction: float
    standing: list[StandingOut] = Field(description="Active for more than 24 h.")
    chattering: list[str] = Field(description="3 or more activations within 60 s.")
    top: list[tuple[str, int]] = Field(description="The most frequent alarms.")
    truncated: bool = Field(description=f"More than {MAX_KPI_EVENTS} events: the newest used.")


def _label(priority: Priority) -> PriorityName:
    label: PriorityName = priority.name.lower()  # type: ignore[assignment]
    return label


def processor_of(services: ServicesDep, who: TenantCaller) -> AlarmProcessor:
    """The caller's tenant's alarms; 404 where none are configured."""
    alarms = services.alarms
    if alarms is None or alarms.tenant_id != who.tenant_id:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND,
            "no alarms configured: start the platform with an apps file that has 'alarms:'",
        )
    return alarms


Alarms = Annotated[AlarmProcessor, Depends(processor_of)]
_COMMAND_RESPONSES: dict[int | str, dict[str, str]] = {
    404: {"description": "no such alarm, or no alarms configured"},
    409: {"description": "the command is not allowed in the alarm's state"},
    422: {"description": "bad input (the body names the field)"},
}


def _live(alarms: AlarmProcessor, name: str) -> LiveStatus:
    if name not in alarms.config.info:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"no alarm named {name!r}")
    return alarms.live(name)


async def _command(
    services: ServicesDep,
    who: TenantCaller,
    alarms: AlarmProcessor,
    name: str,
    action: str,
    run: Callable[[], Awaitable[LiveStatus]],
    detail: dict[str, object],
) -> AlarmOut:
    _live(alarms, name)
    try:
        live = await run()
    except AlarmStateError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    await record(services, action, who, f"alarm {name}", {**detail, "state": live.status.state})
    return AlarmOut.of(live)


@router.get("", summary="Every alarm with its live state")
async def list_alarms(alarms: Alarms) -> AlarmList:
    return AlarmList(alarms=[AlarmOut.of(live) for live in alarms.live_all()])


@router.post("/{name}/ack", summary="Acknowledge an alarm", responses=_COMMAND_RESPONSES)
async def acknowledge(
    services: ServicesDep,
    who: TenantCaller,
    alarms: Alarms,
    name: Annotated[str, _NAME],
    body: Comment | None = None,
) -> AlarmOut:
    comment = body.comment if body else None
    return await _command(
        services, who, alarms, name, "alarm_acknowledge",
        lambda: alarms.acknowledge(name, who.key_name, comment), {"comment": comment},
    )  # fmt: skip


@router.post("/{name}/shelve", summary="Shelve an alarm until a time", responses=_COMMAND_RESPONSES)
async def shelve(
    services: ServicesDep,
    who: TenantCaller,
    alarms: Alarms,
    name: Annotated[str, _NAME],
    body: ShelveRequest,
) -> AlarmOut:
    now = now_ns()
    if body.until is not None:
        try:
            until = parse_time(body.until, "until")
        except BadParameterError as exc:  # a body field: 422, as for every bad body
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from exc
    else:
        assert body.duration_s is not None
        until = now + round(body.duration_s * NS_PER_S)
    longest = round(alarms.config.max_shelve_s * NS_PER_S)
    if not now < until <= now + longest:
        raise HTTPException(
            status.HTTP_422_UNPROCESSABLE_CONTENT,
            f"shelve end must be in the future and at most {longest / NS_PER_S:g} s ahead",
        )
    return await _command(
        services, who, alarms, name, "alarm_shelve",
        lambda: alarms.shelve(name, until, who.key_name, body.reason),
        {"until": iso_time(until), "reason": body.reason},
    )  # fmt: skip


@router.post("/{name}/unshelve", summary="Unshelve an alarm", responses=_COMMAND_RESPONSES)
async def unshelve(
    services: ServicesDep,
    who: TenantCaller,
    alarms: Alarms,
    name: Annotated[str, _NAME],
    body: Comment | None = None,
) -> AlarmOut:
    comment = body.comment if body else None
    return await _command(
        services, who, alarms, name, "alarm_unshelve",
        lambda: alarms.unshelve(name, who.key_name, comment), {"comment": comment},
    )  # fmt: skip


@router.post(
    "/{name}/out-of-service", summary="Remove an alarm from service", responses=_COMMAND_RESPONSES
)
async def out_of_service(
    services: ServicesDep,
    who: TenantCaller,
    alarms: Alarms,
    name: Annotated[str, _NAME],
    body: Reason,
) -> AlarmOut:
    return await _command(
        services, who, alarms, name, "alarm_out_of_service",
        lambda: alarms.remove_from_service(name, who.key_name, body.reason),
        {"reason": body.reason},
    )  # fmt: skip


@router.post(
    "/{name}/return-to-service",
    summary="Return an alarm to service",
    responses=_COMMAND_RESPONSES,
)
async def return_to_service(
    services: ServicesDep,
    who: TenantCaller,
    alarms: Alarms,
    name: Annotated[str, _NAME],
    body: Comment | None = None,
) -> AlarmOut:
    comment = body.comment if body else None
    return await _command(
        services, who, alarms, name, "alarm_return_to_service",
        lambda: alarms.return_to_service(name, who.key_name, comment), {"comment": comment},
    )  # fmt: skip


def _range(start: str | None, end: str | None) -> tuple[int | None, int | None]:
    lo = None if start is None else parse_time(start, "start")
    hi = None if end is None else parse_time(end, "end")
    if lo is not None and hi is not None and hi <= lo:
        raise BadParameterError("end", "must be after start")
    return lo, hi


@router.get("/history", summary="Alarm events, newest first, with filters and paging")
def history(
    alarms: Alarms,
    alarm: Annotated[str | None, Query(description="Only this alarm.", max_length=128)] = None,
    kind: Annotated[list[EventKind] | None, Query(description="Only these kinds.")] = None,
    priority_min: Annotated[PriorityName | None, Query(description="At least this.")] = None,
    start: Annotated[str | None, Query(description=_TIME, max_length=64)] = None,
    end: Annotated[str | None, Query(description=_TIME, max_length=64)] = None,
    before: Annotated[
        int | None, Query(description="`next_before` of the last page.", ge=1, le=2**63 - 1)
    ] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> HistoryOut:
    lo, hi = _range(start, end)
    where = HistoryFilter(
        alarm=alarm,
        kinds=None if not kind else tuple(str(k) for k in kind),
        min_priority=None if priority_min is None else int(Priority[priority_min.upper()]),
        start=lo,
        end=hi,
    )
    page = alarms.history.query(alarms.tenant_id, where, before=before, limit=limit)
    return HistoryOut(events=[EventOut.of(r) for r in page.records], next_before=page.next_before)


def _event(r: AlarmRecord) -> AlarmEvent:
    return AlarmEvent(r.ts, r.alarm, EventKind(r.kind), Priority(r.priority), r.value)


@router.get("/kpi", summary="ISA-18.2 alarm KPIs over a time range (at most 31 days)")
async def kpi(
    alarms: Alarms,
    start: Annotated[
        str | None, Query(description=_TIME + " Default: 24 h before end.", max_length=64)
    ] = None,
    end: Annotated[str | None, Query(description=_TIME + " Default: now.", max_length=64)] = None,
) -> KpiOut:
    lo, hi = _range(start, end)
    hi = now_ns() if hi is None else hi
    lo = hi - DAY_NS if lo is None else lo
    if hi <= lo:
        raise BadParameterError("start", "must be before end (now when end is not given)")
    if hi - lo > MAX_KPI_RANGE_NS:
        raise BadParameterError("end", "the range is longer than 31 days")
    since = max(lo - KPI_LOOKBACK_NS, -(2**63))  # a start near the int64 floor stays in it

    def work() -> tuple[AlarmKpis, int]:  # off the loop: the alarms' 1 s promise shares it
        rows = alarms.history.events(alarms.tenant_id, since, hi, MAX_KPI_EVENTS)
        return compute_kpis([_event(r) for r in rows], lo, hi), len(rows)

    k, read = await run_in_threadpool(work)
    return KpiOut(
        start=iso_time(lo),
        end=iso_time(hi),
        total=k.total,
        per_10min_avg=k.per_10min_avg,
        per_10min_max=k.per_10min_max,
        floods=[FloodOut(start=iso_time(f.start), end=iso_time(f.end), alarms=f.alarms)
                for f in k.floods],
        flood_time_fraction=k.flood_time_fraction,
        standing=[StandingOut(alarm=s.alarm, since=iso_time(s.since),
                              duration_s=s.duration_ns / NS_PER_S) for s in k.standing],
        chattering=k.chattering,
        top=k.top,
        truncated=read >= MAX_KPI_EVENTS,
    )  # fmt: skip
