"""Production scheduling (docs/scheduling.md): solve a planner's problem document in the
background, watch the search, read the schedule (Gantt bars, KPIs, the dispatching rules
side by side, each machine's dispatch list, CSV and JSON), pin a lot where the planner wants
it and solve again, and repair the plan after a disruption.

Solves run in the scheduling service's worker threads (apps/scheduling/service.py), never on
the event loop; a submit answers 202 with the job, which the client polls. Jobs live in
memory: a restart forgets them. Another tenant's job is not found (404), like a missing one.
"""

from collections.abc import Callable
from dataclasses import replace
from datetime import datetime
from typing import Annotated, Any, Literal, Self

from fastapi import APIRouter, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record, record_now
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.routes.workorders import work_orders
from factoryos.apps.scheduling.export import dispatch_lists, kpi_dict, schedule_csv, schedule_json
from factoryos.apps.scheduling.kpis import objective_value
from factoryos.apps.scheduling.model import Downtime, Schedule, Slot
from factoryos.apps.scheduling.problem_file import Plan, ProblemFileError
from factoryos.apps.scheduling.reschedule import Move
from factoryos.apps.scheduling.service import (
    FINISHED,
    MAX_TIME_LIMIT,
    Job,
    JobStatus,
    RequestError,
    utc,
)
from factoryos.model.yamlfile import parse_yaml

router = APIRouter(prefix="/api/schedules", tags=["scheduling"])

MAX_TEXT = 4_000_000
MAX_DOWNTIME = 20_000  # shaded spans in one answer
_JOB = Path(description="The job's id (from the submit or the list).", max_length=64)
_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such job in the caller's tenant"},
    409: {"description": "the job has no schedule (yet): queued, running, failed, infeasible"},
}
"""422 (FastAPI's validation answer) also names each field at fault of a request that cannot
be planned, with the line of a problem file's text."""
JobStatusName = Literal["queued", "running", "done", "failed", "infeasible", "cancelled"]


# -- bodies ------------------------------------------------------------------------------


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Run(_In):
    time_limit: float | None = Field(
        default=None, gt=0, le=MAX_TIME_LIMIT, allow_inf_nan=False, description="CP-SAT, s."
    )
    workers: int | None = Field(default=None, ge=1, le=8, description="CP-SAT search workers.")
    name: str | None = Field(default=None, max_length=200)


class SubmitIn(_In):
    """A problem document (the format of ``factoryos schedule``, docs/scheduling.md), as
    JSON in ``document`` or as YAML/JSON text in ``text`` (then errors name its lines)."""

    document: dict[str, Any] | None = Field(default=None, description="The problem document.")
    text: str | None = Field(default=None, max_length=MAX_TEXT, description="Or its text.")
    time_limit: float = Field(
        default=10.0, gt=0, le=MAX_TIME_LIMIT, allow_inf_nan=False, description="CP-SAT, s."
    )
    workers: int = Field(default=2, ge=1, le=8, description="CP-SAT search workers.")
    name: str = Field(default="", max_length=200)
    work_orders: bool = Field(
        default=False,
        description="Keep the maintenance windows of live work orders free, on the machines "
        "with an equipment path.",
    )

    @model_validator(mode="after")
    def _one_document(self) -> Self:
        if (self.document is None) == (self.text is None):
            raise ValueError("document: give the document or its text (one of them)")
        return self


class PinIn(_Run):
    """Fix one lot on a machine from a start; the rest is solved again around it."""

    op: str = Field(max_length=200, description="order/step, steps from 0: SO-1001/1.")
    lot: int = Field(default=0, ge=0, le=7)
    machine: str = Field(max_length=80, description="One of the operation's machines.")
    start: datetime = Field(description="ISO 8601; without a zone, the plan's time zone.")


class RescheduleIn(_Run):
    """A disruption: ``breakdown`` {machine, start, end}, ``rush_order`` {order: as in the
    document's orders}, ``late_material`` {order, release}; each may add ``now`` (default:
    the breakdown's start, the rush order's release, the plan's now), ``release_window_minutes``
    (480) and ``stability_weight`` (1)."""

    kind: Literal["breakdown", "rush_order", "late_material"]
    params: dict[str, Any] = Field(default_factory=dict)


# -- answers -----------------------------------------------------------------------------


class PointOut(BaseModel):
    seconds: float
    objective: float
    bound: float


class DowntimeOut(BaseModel):
    machine: str
    start: str
    end: str
    reason: str


class BarOut(BaseModel):
    """A lot on the Gantt chart: changeover from ``changeover_start`` to ``start``, the
    mode's setup from ``start`` to ``setup_end``, running until ``end``."""

    machine: str
    order: str
    op: str
    step: int
    operation: str
    lot: int
    quantity: int
    product: str
    changeover_start: str
    start: str
    setup_end: str
    end: str
    due: str | None
    late: bool
    pinned: bool = Field(description="Pinned by a planner.")
    frozen: bool = Field(description="Started (or frozen by the document): it cannot move.")


class MethodOut(BaseModel):
    method: str
    status: str
    objective: list[float] = Field(description="The goal's value (one per stage if lexicographic).")
    start: bool = Field(description="The rule CP-SAT started from.")
    kpis: dict[str, Any]


class ResultOut(BaseModel):
    status: str
    method: str
    objective: list[float]
    bound: float | None
    seconds: float
    best_rule: str
    kpis: dict[str, Any]
    comparison: list[MethodOut] = Field(description="CP-SAT first, then every rule.")
    schedule: dict[str, Any] = Field(description="The schedule as GET …/export.json gives it.")
    bars: list[BarOut]
    downtime: list[DowntimeOut] = Field(description="Within the schedule's span.")


class SlotOut(BaseModel):
    machine: str
    start: str
    end: str
    quantity: int


class MoveOut(BaseModel):
    op: str
    lot: int
    released: bool
    shift_minutes: float
    before: SlotOut | None
    after: SlotOut | None


class OrderOut(BaseModel):
    id: str
    product: str
    quantity: int
    release: str | None
    due: str | None


class JobSummary(BaseModel):
    id: str
    name: str
    kind: Literal["solve", "pin", "reschedule"]
    parent: str | None
    status: JobStatusName
    created: str
    finished: str | None
    note: str
    makespan_end: str | None


class JobOut(JobSummary):
    started: str | None
    time_limit: float
    workers: int
    cancelled: bool = Field(description="Asked to stop; a running job ends with its best.")
    error: str | None
    reasons: list[str] = Field(description="Why there is no schedule (infeasible).")
    progress: list[PointOut] = Field(description="Each better schedule CP-SAT found.")
    origin: str
    timezone: str
    now: str
    horizon_end: str | None
    machines: list[str]
    equipment: dict[str, str]
    orders: list[OrderOut]
    modes: dict[str, list[str]] = Field(description="Operation → the machines that can do it.")
    maintenance: list[DowntimeOut] = Field(description="Windows added from work orders.")
    result: ResultOut | None
    moves: list[MoveOut] | None = Field(description="Pins and repairs: lots that moved.")


# -- rendering ---------------------------------------------------------------------------


def _iso(plan: Plan, tick: int) -> str:
    return plan.at(tick).isoformat()


def _downtime(plan: Plan, d: Downtime) -> DowntimeOut:
    return DowntimeOut(
        machine=d.machine, start=_iso(plan, d.start), end=_iso(plan, d.end), reason=d.reason
    )


def _bars(job: Job, schedule: Schedule) -> list[BarOut]:
    plan = job.plan
    setups = {
        (o.id, i, m.machine): m.setup for o, i, op in plan.problem.operations() for m in op.modes
    }
    frozen = job.frozen
    out = []
    for s in sorted(schedule.slots, key=lambda s: (s.machine, s.start)):
        order = plan.problem.order(s.order)
        last = s.index == len(order.operations) - 1
        out.append(
            BarOut(
                machine=s.machine,
                order=s.order,
                op=s.op,
                step=s.index,
                operation=plan.step_names.get((s.order, s.index), f"step {s.index + 1}"),
                lot=s.lot,
                quantity=s.quantity,
                product=order.product,
                changeover_start=_iso(plan, s.start - s.setup),
                start=_iso(plan, s.start),
                setup_end=_iso(plan, s.start + setups.get((s.order, s.index, s.machine), 0)),
                end=_iso(plan, s.end),
                due=None if order.due is None else _iso(plan, order.due),
                late=last and order.due is not None and s.end > order.due,
                pinned=(s.op, s.lot) in job.pins,
                frozen=(s.op, s.lot) in frozen,
            )
        )
    return out


def _shaded(job: Job, schedule: Schedule) -> list[DowntimeOut]:
    problem = job.plan.problem
    lo = min([problem.now, *(s.start - s.setup for s in schedule.slots)])
    hi = max(schedule.makespan, lo) + 12 * 3600
    spans = sorted(
        (d for d in problem.downtime if d.end > lo and d.start < hi),
        key=lambda d: (d.start, d.machine),
    )
    return [
        _downtime(job.plan, replace(d, start=max(d.start, lo), end=min(d.end, hi)))
        for d in spans[:MAX_DOWNTIME]
    ]


def _result(job: Job) -> ResultOut | None:
    """The finished job's result, rendered once."""
    result = job.result
    if result is None or job.status is not JobStatus.DONE:
        return None
    cached: ResultOut | None = job.cache.get("result")
    if cached is not None:
        return cached
    plan, problem, schedule = job.plan, job.plan.problem, result.schedule

    def method(name: str, s: Schedule, start: bool = False) -> MethodOut:
        value = objective_value(problem, s, problem.goal, job.released)
        return MethodOut(
            method=name,
            status=s.status.value,
            objective=[float(v) for v in value],
            start=start,
            kpis=kpi_dict(plan, s),
        )

    comparison = [method("cp-sat", schedule)]
    comparison += [method(r.value, s, r is result.best_rule) for r, s in result.rules.items()]
    rendered = ResultOut(
        status=schedule.status.value,
        method=schedule.method,
        objective=comparison[0].objective,
        bound=schedule.bound,
        seconds=round(schedule.seconds, 2),
        best_rule=result.best_rule.value,
        kpis=comparison[0].kpis,
        comparison=comparison,
        schedule=schedule_json(plan, schedule),
        bars=_bars(job, schedule),
        downtime=_shaded(job, schedule),
    )
    job.cache["result"] = rendered
    return rendered


def _slot(plan: Plan, s: Slot | None) -> SlotOut | None:
    if s is None:
        return None
    return SlotOut(
        machine=s.machine, start=_iso(plan, s.start), end=_iso(plan, s.end), quantity=s.quantity
    )


def _move(plan: Plan, m: Move) -> MoveOut:
    return MoveOut(
        op=m.op,
        lot=m.lot,
        released=m.released,
        shift_minutes=round(m.shift / 60, 2),
        before=_slot(plan, m.before),
        after=_slot(plan, m.after),
    )


def _summary_fields(job: Job) -> dict[str, Any]:
    schedule = job.schedule if job.status is JobStatus.DONE else None
    end = None
    if schedule is not None and schedule.slots:
        end = _iso(job.plan, schedule.makespan)
    return {
        "id": job.id,
        "name": job.name,
        "kind": job.kind,
        "parent": job.parent,
        "status": job.status.value,
        "created": utc(job.created) or "",
        "finished": utc(job.finished),
        "note": job.note,
        "makespan_end": end,
    }


def _out(job: Job) -> JobOut:
    plan, problem = job.plan, job.plan.problem
    orders = [
        OrderOut(
            id=o.id,
            product=o.product,
            quantity=o.quantity,
            release=_iso(plan, o.release) if o.release else None,
            due=None if o.due is None else _iso(plan, o.due),
        )
        for o in problem.orders
    ]
    moves = job.moves if job.status in FINISHED else None
    return JobOut(
        **_summary_fields(job),
        started=utc(job.started),
        time_limit=job.time_limit,
        workers=job.workers,
        cancelled=job.cancelled,
        error=job.error,
        reasons=list(job.reasons),
        progress=[
            PointOut(seconds=p.seconds, objective=p.objective, bound=p.bound)
            for p in list(job.progress)
        ],
        origin=plan.origin.isoformat(),
        timezone=str(plan.tz),
        now=_iso(plan, problem.now),
        horizon_end=None if problem.horizon is None else _iso(plan, problem.horizon),
        machines=list(problem.machines),
        equipment=dict(plan.equipment),
        orders=orders,
        modes={o.op_id(i): op.machines() for o, i, op in problem.operations()},
        maintenance=[_downtime(plan, d) for d in job.maintenance],
        result=_result(job),
        moves=None if moves is None else [_move(plan, m) for m in moves],
    )


def _problems(exc: ProblemFileError, where: str) -> list[dict[str, Any]]:
    """A problem file's problems as a 422's detail: loc (ending in the field), line, msg."""
    return [
        {
            "loc": ["body", where, p.field],
            "msg": p.message if p.line is None else f"line {p.line}: {p.message}",
            "type": "problem_file",
            "line": p.line,
        }
        for p in exc.problems
    ]


def _done(job: Job) -> Schedule:
    schedule = job.schedule
    if job.status is not JobStatus.DONE or schedule is None:
        raise HTTPException(
            status.HTTP_409_CONFLICT, f"job {job.id} has no schedule ({job.status.value})"
        )
    return schedule


# -- routes ------------------------------------------------------------------------------


async def _call(run: Callable[[], Job], where: str) -> Job:
    """``run`` in the thread pool; a request that cannot be planned as a 422 whose detail
    names each field at fault (``where``: the body field a problem file came in)."""
    try:
        return await run_in_threadpool(run)
    except ProblemFileError as exc:
        raise HTTPException(422, _problems(exc, where)) from exc
    except RequestError as exc:
        detail = [
            {"loc": ["body", *field.split(".")], "msg": message, "type": "value_error"}
            for field, message in exc.problems
        ]
        raise HTTPException(422, detail) from exc


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Solve a problem document in the background; poll the job it answers",
)
async def submit(services: ServicesDep, who: TenantCaller, body: SubmitIn) -> JobOut:
    orders = work_orders(services) if body.work_orders else None
    where = "document" if body.document is not None else "text"

    def run() -> Job:
        options: dict[str, Any] = {
            "time_limit": body.time_limit,
            "workers": body.workers,
            "name": body.name,
            "work_orders": orders,
        }
        if body.text is not None:
            data, lines = parse_yaml(body.text, "text", ProblemFileError)
            return services.scheduling.submit(
                who.tenant_id, data, source="text", lines=lines, **options
            )
        return services.scheduling.submit(who.tenant_id, body.document, **options)

    job = await _call(run, where)
    await record(services, "schedule_submit", who, job.id, _facts(job))
    return _out(job)


@router.get("", summary="The tenant's scheduling jobs, newest first")
def list_jobs(services: ServicesDep, who: TenantCaller) -> list[JobSummary]:
    return [JobSummary(**_summary_fields(j)) for j in services.scheduling.jobs(who.tenant_id)]


@router.get(
    "/{job_id}",
    summary="A job: status, search progress, KPIs, rules compared, Gantt bars, moves",
    responses={404: _ERRORS[404]},
)
def get_job(services: ServicesDep, who: TenantCaller, job_id: Annotated[str, _JOB]) -> JobOut:
    return _out(services.scheduling.get(who.tenant_id, job_id))


@router.get(
    "/{job_id}/export.csv",
    summary="The schedule as CSV: one row per lot, by machine and start",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}}, 404: _ERRORS[404], 409: _ERRORS[409]},
)
def export_csv(services: ServicesDep, who: TenantCaller, job_id: Annotated[str, _JOB]) -> Response:
    job = services.scheduling.get(who.tenant_id, job_id)
    text = schedule_csv(job.plan, _done(job))
    return Response(
        text,
        media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="schedule-{job.id}.csv"'},
    )


@router.get(
    "/{job_id}/export.json",
    summary="The schedule as JSON: status, search trace, KPIs, dispatch lists",
    responses={404: _ERRORS[404], 409: _ERRORS[409]},
)
def export_json(
    services: ServicesDep, who: TenantCaller, job_id: Annotated[str, _JOB]
) -> dict[str, Any]:
    job = services.scheduling.get(who.tenant_id, job_id)
    return {"id": job.id, "name": job.name, **schedule_json(job.plan, _done(job))}


@router.get(
    "/{job_id}/dispatch",
    summary="Each machine's dispatch list (what it runs, in order)",
    responses={404: _ERRORS[404], 409: _ERRORS[409]},
)
def dispatch(
    services: ServicesDep,
    who: TenantCaller,
    job_id: Annotated[str, _JOB],
    machine: Annotated[
        str | None, Query(max_length=80, description="Only this machine; default all.")
    ] = None,
) -> dict[str, list[dict[str, Any]]]:
    job = services.scheduling.get(who.tenant_id, job_id)
    lists = dispatch_lists(job.plan, _done(job))
    if machine is None:
        return lists
    if machine not in lists:
        known = ", ".join(lists)
        raise BadParameterError("machine", f"{machine!r} is not a machine of the plan ({known})")
    return {machine: lists[machine]}


@router.post(
    "/{job_id}/pin",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Pin a lot on a machine at a start and solve again (a new job)",
    responses=_ERRORS,
)
async def pin(
    services: ServicesDep, who: TenantCaller, job_id: Annotated[str, _JOB], body: PinIn
) -> JobOut:
    job = await _call(
        lambda: services.scheduling.pin(
            who.tenant_id, job_id, body.op, body.lot, body.machine, body.start,
            time_limit=body.time_limit, workers=body.workers, name=body.name,
        ),
        "body",
    )  # fmt: skip
    await record(services, "schedule_pin", who, job.id, _facts(job))
    return _out(job)


@router.post(
    "/{job_id}/reschedule",
    status_code=status.HTTP_202_ACCEPTED,
    summary="Repair the schedule after a breakdown, rush order or late material (a new job)",
    responses=_ERRORS,
)
async def reschedule(
    services: ServicesDep, who: TenantCaller, job_id: Annotated[str, _JOB], body: RescheduleIn
) -> JobOut:
    job = await _call(
        lambda: services.scheduling.reschedule(
            who.tenant_id, job_id, body.kind, body.params,
            time_limit=body.time_limit, workers=body.workers, name=body.name,
        ),
        "params",
    )  # fmt: skip
    await record(services, "schedule_reschedule", who, job.id, _facts(job))
    return _out(job)


@router.post(
    "/{job_id}/cancel",
    summary="Stop a job: a queued one never runs, a running one ends with its best so far",
    responses={404: _ERRORS[404]},
)
def cancel(services: ServicesDep, who: TenantCaller, job_id: Annotated[str, _JOB]) -> JobOut:
    job = services.scheduling.cancel(who.tenant_id, job_id)
    record_now(services, "schedule_cancel", who, job.id, _facts(job))
    return _out(job)


def _facts(job: Job) -> dict[str, object]:
    """What the audit log keeps of a scheduling action."""
    return {"name": job.name, "kind": str(job.kind), "parent": job.parent, "note": job.note}
