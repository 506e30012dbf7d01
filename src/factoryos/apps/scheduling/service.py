"""Scheduling jobs for the API: planners' problem documents solved in background threads.

A job is one solve of one problem: queued, then running (the dispatching rules, then CP-SAT
warm-started from the best of them, its progress appended as it finds better schedules),
then done, infeasible (with the reasons), failed (with the error) or cancelled before it
started. At most :data:`MAX_RUNNING` solves run at once, the others wait in order; each
tenant keeps at most :data:`MAX_JOBS_PER_TENANT` jobs (the oldest finished go first) and
sees only its own.

A done job is the start of the next: :meth:`SchedulingService.pin` fixes one lot on a
machine at a time and solves again from the schedule; :meth:`SchedulingService.reschedule`
applies a disruption (breakdown, rush order, late material) with
:func:`~.reschedule.repair` and reports what moved.

Jobs live in memory only: a restart forgets every plan (they are what-ifs over a document
the planner keeps; send it again). Nothing here touches the event loop: call
:meth:`SchedulingService.submit` (parsing, work-order look-ups) from a worker thread.
"""

import logging
import math
import queue
import re
import secrets
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factoryos.apps.maintenance.orders import WorkOrders
from factoryos.apps.maintenance.workorders import WorkOrderError
from factoryos.apps.scheduling.cpsat import SolveOptions
from factoryos.apps.scheduling.errors import InfeasibleError, ProblemError, SchedulingError
from factoryos.apps.scheduling.model import (
    Downtime,
    Fixed,
    Objective,
    Order,
    Point,
    Schedule,
    Slot,
)
from factoryos.apps.scheduling.planner import Result, plan_schedule
from factoryos.apps.scheduling.problem_file import Plan, ProblemFileError, plan_from_data
from factoryos.apps.scheduling.reschedule import (
    Breakdown,
    Disruption,
    LateMaterial,
    Move,
    RushOrder,
    moves,
    repair,
    with_stability,
)
from factoryos.model.errors import SiteProblem

log = logging.getLogger(__name__)

MAX_RUNNING = 2
"""Solves at once (each uses ``workers`` CP-SAT threads); the others wait in the queue."""
MAX_JOBS_PER_TENANT = 50
"""Jobs kept per tenant; a new one drops the oldest finished, and is refused when all are
still queued or running."""
MAX_TIME_LIMIT = 300.0
MAX_WORKERS = 8
DEFAULT_RELEASE_MINUTES = 480.0
"""Rescheduling: slots starting within a shift after the disruption are released."""
IDLE_S = 30.0
"""A worker thread with nothing to do for this long ends (a new job starts another)."""
NS_PER_S = 1_000_000_000

JobKind = Literal["solve", "pin", "reschedule"]
DisruptionKind = Literal["breakdown", "rush_order", "late_material"]
M = TypeVar("M", bound=BaseModel)


class JobStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    INFEASIBLE = "infeasible"
    CANCELLED = "cancelled"  # before it started; a running job stopped early is done


FINISHED = frozenset({JobStatus.DONE, JobStatus.FAILED, JobStatus.INFEASIBLE, JobStatus.CANCELLED})


class JobNotFoundError(SchedulingError):
    """No such job in the caller's tenant (another tenant's job is not found either)."""


class JobStateError(SchedulingError):
    """The job cannot do that in its status (no schedule yet to pin or repair)."""


class JobLimitError(SchedulingError):
    """Every job the tenant may keep is still queued or running."""


class RequestError(SchedulingError):
    """A request that cannot be planned: ``problems`` are (field, message) pairs."""

    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{f}: {m}" for f, m in self.problems))

    @classmethod
    def one(cls, field_: str, message: str) -> "RequestError":
        return cls([(field_, message)])


@dataclass
class Job:
    """One solve and its outcome. The worker thread assigns whole fields; ``result`` is set
    before ``status`` becomes done, so a reader that sees done sees the result."""

    id: str
    tenant_id: int
    name: str
    kind: JobKind
    plan: Plan
    document: dict[str, Any]
    time_limit: float
    workers: int
    created: float = field(default_factory=time.time)
    parent: str | None = None
    note: str = ""
    hint: Schedule | None = None
    released: tuple[Slot, ...] = ()
    previous: Schedule | None = None  # the parent's schedule: moves are counted against it
    pins: frozenset[tuple[str, int]] = frozenset()  # (op, lot) pinned by a planner
    maintenance: tuple[Downtime, ...] = ()  # added from work orders' windows
    status: JobStatus = JobStatus.QUEUED
    progress: list[Point] = field(default_factory=list)
    result: Result | None = None
    reasons: list[str] = field(default_factory=list)
    error: str | None = None
    moves: list[Move] | None = None
    started: float | None = None
    finished: float | None = None
    cancelled: bool = False
    stop: threading.Event = field(default_factory=threading.Event)
    cache: dict[str, Any] = field(default_factory=dict)  # renderings of the finished job

    @property
    def schedule(self) -> Schedule | None:
        return None if self.result is None else self.result.schedule

    @property
    def frozen(self) -> set[tuple[str, int]]:
        """Lots fixed because they started (or the document froze them), not pinned."""
        return {(f.op, f.lot) for f in self.plan.problem.fixed} - self.pins


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid")

    now: datetime | None = Field(
        default=None, description="When it happens; slots started before stay where they are."
    )
    release_window_minutes: float = Field(default=DEFAULT_RELEASE_MINUTES, ge=0, le=44_640)
    stability_weight: int = Field(default=1, ge=0, le=1000)


class BreakdownParams(_Params):
    machine: str = Field(min_length=1, max_length=80)
    start: datetime
    end: datetime


class RushOrderParams(_Params):
    order: dict[str, Any] = Field(description="An order as in the document's orders.")


class LateMaterialParams(_Params):
    order: str = Field(min_length=1, max_length=80)
    release: datetime = Field(description="When the material now arrives.")


_PARAMS: dict[str, type[_Params]] = {
    "breakdown": BreakdownParams,
    "rush_order": RushOrderParams,
    "late_material": LateMaterialParams,
}


def _validated(model: type[M], data: Any, at: str) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise RequestError(
            [(".".join([at, *(str(p) for p in e["loc"])]), e["msg"]) for e in exc.errors()]
        ) from exc


class SchedulingService:
    """The jobs of every tenant, and the worker threads that solve them."""

    def __init__(
        self,
        *,
        max_running: int = MAX_RUNNING,
        max_jobs: int = MAX_JOBS_PER_TENANT,
        max_time_limit: float = MAX_TIME_LIMIT,
    ) -> None:
        self.max_running = max_running
        self.max_jobs = max_jobs
        self.max_time_limit = max_time_limit
        self._lock = threading.Lock()
        self._jobs: dict[int, dict[str, Job]] = {}  # tenant → id → job, oldest first
        self._queue: queue.Queue[Job | None] = queue.Queue()
        self._workers = 0
        self._closed = False

    # -- reading -------------------------------------------------------------------------

    def jobs(self, tenant_id: int) -> list[Job]:
        """The tenant's jobs, newest first."""
        with self._lock:
            return list(reversed(self._jobs.get(tenant_id, {}).values()))

    def get(self, tenant_id: int, job_id: str) -> Job:
        with self._lock:
            job = self._jobs.get(tenant_id, {}).get(job_id)
        if job is None:
            raise JobNotFoundError(f"no scheduling job {job_id!r}")
        return job

    def _done(self, tenant_id: int, job_id: str) -> tuple[Job, Schedule]:
        job = self.get(tenant_id, job_id)
        schedule = job.schedule
        if job.status is not JobStatus.DONE or schedule is None:
            raise JobStateError(f"job {job_id} has no schedule ({job.status.value})")
        return job, schedule

    # -- new jobs ------------------------------------------------------------------------

    def submit(
        self,
        tenant_id: int,
        document: Any,
        *,
        time_limit: float = 10.0,
        workers: int = 2,
        name: str = "",
        source: str = "document",
        lines: dict[Any, int] | None = None,
        work_orders: WorkOrders | None = None,
    ) -> Job:
        """Queue a solve of ``document`` (a problem file's data). A document that cannot be
        planned raises :class:`ProblemFileError` (every problem with its field and line)
        at once, and nothing is queued. With ``work_orders``, the maintenance windows of
        machines with an ``equipment`` path are kept free too."""
        data = dict(document) if isinstance(document, Mapping) else document
        try:
            plan = plan_from_data(data, source, lines)
        except (OverflowError, ValueError) as exc:  # dates beyond what datetime can hold
            raise RequestError.one("document", f"cannot be planned: {exc}") from exc
        if any(obj is Objective.STABILITY for obj, _ in plan.problem.goal.terms):
            raise ProblemFileError(
                source,
                [SiteProblem("objective.terms.stability", None, "only rescheduling uses it")],
            )
        added: tuple[Downtime, ...] = ()
        if work_orders is not None:
            added = self._windows(tenant_id, plan, work_orders)
            problem = plan.problem
            plan = replace(plan, problem=replace(problem, downtime=(*problem.downtime, *added)))
        job = self._new(tenant_id, plan, dict(data), "solve", name, time_limit, workers)
        job.maintenance = added
        return self._enqueue(job)

    def pin(
        self,
        tenant_id: int,
        job_id: str,
        op: str,
        lot: int,
        machine: str,
        start: datetime,
        *,
        time_limit: float | None = None,
        workers: int | None = None,
        name: str | None = None,
    ) -> Job:
        """A new job: the job's problem with lot ``lot`` of ``op`` (``order/step``, steps
        from 0) fixed on ``machine`` from ``start`` (its end: the machine's setup and run
        time for the lot's quantity in the schedule), solved from the job's schedule."""
        parent, schedule = self._done(tenant_id, job_id)
        plan, problem = parent.plan, parent.plan.problem
        order_id, _, step = op.rpartition("/")
        try:
            order = problem.order(order_id)
        except KeyError:
            raise RequestError.one(
                "op", f"unknown operation {op!r}: no order {order_id!r}"
            ) from None
        if not (step.isascii() and step.isdigit()) or int(step) >= len(order.operations):
            steps = len(order.operations)
            raise RequestError.one(
                "op", f"unknown operation {op!r}: {order_id} has steps 0 to {steps - 1}"
            )
        operation = order.operations[int(step)]
        mode = next((m for m in operation.modes if m.machine == machine), None)
        if mode is None:
            can = ", ".join(operation.machines())
            raise RequestError.one("machine", f"{machine!r} cannot do {op} ({can} can)")
        slot = next((s for s in schedule.slots if s.op == op and s.lot == lot), None)
        if slot is None:
            lots = sorted(s.lot for s in schedule.slots if s.op == op)
            raise RequestError.one("lot", f"{op} has no lot {lot} in the schedule (lots {lots})")
        if (op, lot) in parent.frozen:
            raise RequestError.one("op", f"{op} lot {lot} is frozen (started): it cannot move")
        at = plan.tick(start)
        end = at + mode.duration(slot.quantity)
        if at < 0:
            raise RequestError.one("start", f"before the plan's start {plan.at(0).isoformat()}")
        if int(step) == 0 and at < order.release:
            raise RequestError.one(
                "start", f"before {order_id}'s release {plan.at(order.release).isoformat()}"
            )
        if problem.horizon is not None and end > problem.horizon:
            raise RequestError.one(
                "start",
                f"the lot would end after the horizon {plan.at(problem.horizon).isoformat()}",
            )
        quantity = slot.quantity if operation.max_lots > 1 else None
        pinned = Fixed(op, machine, at, end, lot, quantity)
        kept = tuple(f for f in problem.fixed if (f.op, f.lot) != (op, lot))
        # the rest of the plan stays where it is unless moving it pays (as in rescheduling)
        new = replace(problem, fixed=(*kept, pinned), goal=with_stability(problem.goal, 1))
        job = self._new(
            tenant_id,
            replace(plan, problem=new),
            parent.document,
            "pin",
            parent.name if name is None else name,
            parent.time_limit if time_limit is None else time_limit,
            parent.workers if workers is None else workers,
        )
        job.parent = parent.id
        job.note = f"pinned {op} lot {lot} on {machine} at {plan.at(at).isoformat()}"
        job.hint = schedule
        job.released = tuple(
            s
            for s in schedule.slots
            if (s.op, s.lot) != (op, lot) and (s.op, s.lot) not in parent.frozen
        )
        job.previous = schedule
        job.pins = parent.pins | {(op, lot)}
        job.maintenance = parent.maintenance
        return self._enqueue(job)

    def reschedule(
        self,
        tenant_id: int,
        job_id: str,
        kind: str,
        params: Mapping[str, Any],
        *,
        time_limit: float | None = None,
        workers: int | None = None,
        name: str | None = None,
    ) -> Job:
        """A new job: the job's schedule repaired after a disruption (``kind``: breakdown
        {machine, start, end}, rush_order {order}, late_material {order, release}; each
        may give ``now``, ``release_window_minutes``, ``stability_weight``)."""
        parent, schedule = self._done(tenant_id, job_id)
        model = _PARAMS.get(kind)
        if model is None:
            raise RequestError.one("kind", f"{kind!r} is not one of {', '.join(_PARAMS)}")
        p = _validated(model, params, "params")
        plan = parent.plan
        document = parent.document
        try:
            disruption, now, note = self._disruption(parent, p)
        except OverflowError as exc:  # a time beyond what datetime can hold
            raise RequestError.one("params", f"a time out of range: {exc}") from exc
        if isinstance(p, RushOrderParams) and isinstance(disruption, RushOrder):
            document = {**document, "orders": [*document.get("orders", []), p.order]}
        window = round(p.release_window_minutes * 60)
        try:
            fixed = repair(
                plan.problem,
                schedule,
                disruption,
                now,
                release_window=window,
                stability_weight=p.stability_weight,
            )
        except ProblemError as exc:
            raise RequestError.one("params", str(exc)) from exc
        problem = fixed.problem
        names = dict(plan.step_names)
        if isinstance(disruption, RushOrder):
            o = disruption.order
            names |= {(o.id, i): op.name or f"step {i + 1}" for i, op in enumerate(o.operations)}
        job = self._new(
            tenant_id,
            replace(plan, problem=problem, step_names=names),
            document,
            "reschedule",
            parent.name if name is None else name,
            parent.time_limit if time_limit is None else time_limit,
            parent.workers if workers is None else workers,
        )
        job.parent = parent.id
        interrupted = len(fixed.interrupted)
        job.note = note + (f"; {interrupted} interrupted lot(s) start again" if interrupted else "")
        job.hint = schedule
        job.released = fixed.released
        job.previous = schedule
        job.pins = parent.pins
        job.maintenance = parent.maintenance
        return self._enqueue(job)

    def cancel(self, tenant_id: int, job_id: str) -> Job:
        """Stop a job: a queued one never runs; a running one ends its search at the next
        schedule it finds, with the best so far (CP-SAT is asked at each new solution)."""
        job = self.get(tenant_id, job_id)
        with self._lock:
            if job.status is JobStatus.QUEUED:
                job.status = JobStatus.CANCELLED
                job.finished = time.time()
            elif job.status is JobStatus.RUNNING:
                job.cancelled = True
            job.stop.set()
        return job

    def close(self) -> None:
        """Stop every job and the worker threads (queued jobs are cancelled)."""
        with self._lock:
            self._closed = True
            for jobs in self._jobs.values():
                for job in jobs.values():
                    job.stop.set()
                    if job.status is JobStatus.QUEUED:
                        job.status = JobStatus.CANCELLED
                        job.finished = time.time()
            for _ in range(self._workers):
                self._queue.put(None)

    # -- internals -----------------------------------------------------------------------

    def _new(
        self,
        tenant_id: int,
        plan: Plan,
        document: dict[str, Any],
        kind: JobKind,
        name: str,
        time_limit: float,
        workers: int,
    ) -> Job:
        limit = min(max(0.1, float(time_limit)), self.max_time_limit)
        if not math.isfinite(limit):
            limit = self.max_time_limit
        return Job(
            id=secrets.token_hex(8),
            tenant_id=tenant_id,
            name=name,
            kind=kind,
            plan=plan,
            document=document,
            time_limit=limit,
            workers=min(max(1, workers), MAX_WORKERS),
        )

    def _disruption(self, parent: Job, p: _Params) -> tuple[Disruption, int, str]:
        """The disruption in ticks, its time ``now`` and a line saying what happened."""
        plan = parent.plan
        problem = plan.problem
        now = None if p.now is None else plan.tick(p.now)
        if isinstance(p, BreakdownParams):
            if p.machine not in problem.machines:
                known = ", ".join(problem.machines)
                raise RequestError.one("params.machine", f"unknown machine {p.machine!r} ({known})")
            start, end = plan.tick(p.start), plan.tick(p.end)
            if end <= start:
                raise RequestError.one("params.end", "the repair must end after it starts")
            a, z = plan.at(start).isoformat(), plan.at(end).isoformat()
            note = f"breakdown of {p.machine} {a} to {z}"
            return Breakdown(p.machine, start, end), start if now is None else now, note
        if isinstance(p, LateMaterialParams):
            if not any(o.id == p.order for o in problem.orders):
                raise RequestError.one("params.order", f"unknown order {p.order!r}")
            release = plan.tick(p.release)
            note = f"material for {p.order} arrives {plan.at(release).isoformat()}"
            return LateMaterial(p.order, release), problem.now if now is None else now, note
        assert isinstance(p, RushOrderParams)
        order = self._rush_order(parent, p.order)
        at = max(problem.now, order.release) if now is None else now
        note = f"rush order {order.id} ({order.quantity} {order.product})"
        return RushOrder(replace(order, release=max(order.release, at))), at, note

    @staticmethod
    def _rush_order(parent: Job, spec: dict[str, Any]) -> Order:
        """The rush order as the document would build it (its product's routing)."""
        orders = list(parent.document.get("orders", []))
        at = len(orders)
        data = {**parent.document, "orders": [*orders, spec]}
        try:
            built = plan_from_data(data, "rush order")
        except ProblemFileError as exc:
            own = re.compile(rf"^orders\[{at}\]")
            raise RequestError(
                [(own.sub("params.order", p.field), p.message) for p in exc.problems]
            ) from exc
        except (OverflowError, ValueError) as exc:
            raise RequestError.one("params.order", f"cannot be planned: {exc}") from exc
        return built.problem.orders[at]

    def _windows(self, tenant_id: int, plan: Plan, orders: WorkOrders) -> tuple[Downtime, ...]:
        """Downtime from the live work orders' windows of machines with an equipment path."""
        origin = int(plan.origin.timestamp()) * NS_PER_S
        horizon = plan.problem.horizon or 28 * 86_400
        out = []
        for machine, equipment in plan.equipment.items():
            try:
                found = orders.maintenance_windows(
                    tenant_id, equipment, start_ns=origin, end_ns=origin + horizon * NS_PER_S
                )
            except WorkOrderError as exc:
                raise RequestError.one("work_orders", str(exc)) from exc
            for w in found:
                start = (w.start_ns - origin) // NS_PER_S
                end = -((origin - w.end_ns) // NS_PER_S)
                if end > 0:
                    out.append(Downtime(machine, start, end, f"{w.number} {w.title}"))
        return tuple(out)

    def _enqueue(self, job: Job) -> Job:
        with self._lock:
            if self._closed:
                raise JobStateError("the scheduling service is shut down")
            jobs = self._jobs.setdefault(job.tenant_id, {})
            while len(jobs) >= self.max_jobs:
                oldest = next((j for j in jobs.values() if j.status in FINISHED), None)
                if oldest is None:
                    raise JobLimitError(
                        f"{len(jobs)} jobs are still queued or running; wait for one to "
                        "finish or cancel one"
                    )
                del jobs[oldest.id]
            jobs[job.id] = job
            self._queue.put(job)
            if self._workers < self.max_running:
                self._workers += 1
                threading.Thread(target=self._work, name="scheduling", daemon=True).start()
        return job

    def _work(self) -> None:
        while True:
            try:
                job = self._queue.get(timeout=IDLE_S)
            except queue.Empty:
                with self._lock:
                    if self._queue.empty():
                        self._workers -= 1
                        return
                continue
            if job is None:
                with self._lock:
                    self._workers -= 1
                return
            self._run(job)

    def _run(self, job: Job) -> None:
        with self._lock:
            if job.status is not JobStatus.QUEUED:
                return  # cancelled while it waited
            job.status = JobStatus.RUNNING
            job.started = time.time()
        options = SolveOptions(
            job.time_limit, job.workers, hint=job.hint, released=job.released, stop=job.stop
        )
        try:
            result = plan_schedule(job.plan.problem, options, job.progress.append)
        except InfeasibleError as exc:
            job.reasons = [*self._pin_reason(job), *exc.reasons]
            self._finish(job, JobStatus.INFEASIBLE)
            return
        except SchedulingError as exc:
            job.error = str(exc)
            self._finish(job, JobStatus.FAILED)
            return
        except Exception as exc:  # a bug must not leave the job running for ever
            log.exception("scheduling job %s failed", job.id)
            job.error = f"internal error ({type(exc).__name__}); see the server log"
            self._finish(job, JobStatus.FAILED)
            return
        if job.hint is not None and result.schedule is job.hint:
            # CP-SAT found nothing in time and handed back the warm start, which was made
            # for the previous problem: the best rule's schedule is one of this problem
            result = replace(result, schedule=result.rules[result.best_rule])
            job.note += "; CP-SAT found no schedule in time: the best rule's is shown"
        if job.previous is not None:
            job.moves = moves(job.previous, result.schedule, job.released)
        job.result = result
        self._finish(job, JobStatus.DONE)

    @staticmethod
    def _pin_reason(job: Job) -> list[str]:
        if job.kind == "pin":
            return [f"{job.note}: no schedule keeps that; move it elsewhere or pin another"]
        return []

    def _finish(self, job: Job, status: JobStatus) -> None:
        with self._lock:
            job.finished = time.time()
            job.status = status


def utc(ts: float | None) -> str | None:
    """A job's time (Unix seconds) as ISO 8601 with Z."""
    if ts is None:
        return None
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


__all__ = [
    "MAX_JOBS_PER_TENANT",
    "MAX_RUNNING",
    "MAX_TIME_LIMIT",
    "BreakdownParams",
    "Job",
    "JobLimitError",
    "JobNotFoundError",
    "JobStateError",
    "JobStatus",
    "LateMaterialParams",
    "RequestError",
    "RushOrderParams",
    "SchedulingService",
]
