"""Maintenance work orders (docs/maintenance.md, "Work orders"): the list, one order with its
transition log, opening by hand, assign / start / close / cancel, the failure-code catalog
and the maintenance windows production scheduling keeps free.

Every change names the ``version`` of the order it was based on (from the list or the
order): an order changed since is refused with 409 and nothing is written, so two planners
never overwrite each other silently. Every change is audit-logged. The service is
synchronous (catalog): handlers call it in the thread pool.
"""

from collections.abc import Callable
from typing import Annotated, Any, Literal, Self, TypeVar

from fastapi import APIRouter, Depends, HTTPException, Path, Query, status
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.params import TIME_TEXT, IsoTime, iso_time, now_ns, parse_time
from factoryos.apps.maintenance.orders import MaintenanceWindow, WorkOrders
from factoryos.apps.maintenance.workorders import (
    TransitionError,
    Window,
    WorkOrderConflictError,
    WorkOrderError,
    WorkOrderNotFoundError,
    parse_evidence,
)
from factoryos.model.timeparse import parse_time_ns
from factoryos.store.catalog import Principal
from factoryos.store.work_orders import OrderFilter, OrderRecord, Transition, WorkOrderStore

router = APIRouter(prefix="/api/maintenance", tags=["maintenance"])

T = TypeVar("T")
NS_PER_S = 1_000_000_000
DAY_NS = 86_400 * NS_PER_S
MAX_WINDOW_NS = 31 * DAY_NS  # one planned downtime: a month at most
MAX_RANGE_NS = 366 * DAY_NS  # one windows query: a year at most
DEFAULT_RANGE_NS = 7 * DAY_NS
_TIME = TIME_TEXT
_ID = Path(description="The work order's id.", ge=1, le=2**53)
StatusName = Literal["open", "assigned", "in_progress", "closed", "cancelled"]
SourceName = Literal["anomaly", "rul", "manual"]
_ERRORS: dict[int | str, dict[str, str]] = {
    404: {"description": "no such work order in the caller's tenant"},
    409: {"description": "changed since (version) or not allowed in its status"},
}
# Most specific first, as in api/errors.py.
_STATUS: tuple[tuple[type[WorkOrderError], int], ...] = (
    (WorkOrderNotFoundError, status.HTTP_404_NOT_FOUND),
    (WorkOrderConflictError, status.HTTP_409_CONFLICT),
    (TransitionError, status.HTTP_409_CONFLICT),
    (WorkOrderError, status.HTTP_400_BAD_REQUEST),
)


class WindowOut(BaseModel):
    start: str
    end: str


class WorkOrderOut(BaseModel):
    id: int
    number: str = Field(description="WO-000042: the id, for people.")
    version: int = Field(description="Send it back with a change (optimistic concurrency).")
    equipment: str
    title: str
    source: SourceName
    status: StatusName
    suggested_action: str
    due: str
    overdue: bool = Field(description="Still live and past its due time.")
    assignee: str | None
    window: WindowOut | None = Field(description="Planned downtime of the equipment.")
    failure_code: str | None
    cause: str | None = Field(description="Closed: the cause; cancelled: the reason.")
    created: str
    updated: str
    closed: str | None
    model_version: str | None = Field(description="The model that raised it (name@version).")
    evidence_count: int

    @classmethod
    def of(cls, r: OrderRecord, now: int) -> "WorkOrderOut":
        window = None
        if r.window_start_ns is not None and r.window_end_ns is not None:
            window = WindowOut(start=iso_time(r.window_start_ns), end=iso_time(r.window_end_ns))
        live = r.status in ("open", "assigned", "in_progress")
        return cls(
            id=r.id,
            number=r.number,
            version=r.version,
            equipment=r.equipment,
            title=r.title,
            source=r.source,  # the store holds only these
            status=r.status,
            suggested_action=r.suggested_action,
            due=iso_time(r.due_ns),
            overdue=live and r.due_ns < now,
            assignee=r.assignee,
            window=window,
            failure_code=r.failure_code,
            cause=r.cause,
            created=iso_time(r.created_ns),
            updated=iso_time(r.updated_ns),
            closed=None if r.closed_ns is None else iso_time(r.closed_ns),
            model_version=r.model_version,
            evidence_count=len(parse_evidence(r.evidence)),
        )


class WorkOrderList(BaseModel):
    orders: list[WorkOrderOut] = Field(description="Newest first.")
    next_before: int | None = Field(description="Pass as `before` for the next, older page.")


class EvidenceOut(BaseModel):
    time: str
    summary: str
    data: dict[str, Any]


class TransitionOut(BaseModel):
    time: str
    user: str
    action: str = Field(description="open, evidence, assign, start, close or cancel.")
    from_status: StatusName | None
    to_status: StatusName
    comment: str

    @classmethod
    def of(cls, t: Transition) -> "TransitionOut":
        return cls(
            time=iso_time(t.at_ns),
            user=t.actor,
            action=t.action,
            from_status=t.from_status,
            to_status=t.to_status,
            comment=t.comment,
        )


class WorkOrderDetail(WorkOrderOut):
    evidence: list[EvidenceOut] = Field(description="What raised it, oldest first (bounded).")
    log: list[TransitionOut] = Field(description="Every change, oldest first.")


def _ns(value: str) -> int:
    return parse_time_ns(value, now_ns=None)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class WorkOrderIn(_Body):
    """A work order opened by hand."""

    equipment: str = Field(min_length=1, max_length=400, description="UNS path of the equipment.")
    title: str = Field(min_length=1, max_length=200)
    suggested_action: str = Field(default="", max_length=2000)
    due: IsoTime = Field(description=f"When it must be done ({_TIME}).")
    evidence: str = Field(default="", max_length=500, description="What was seen, in a line.")

    @model_validator(mode="after")
    def _due_ahead(self) -> Self:
        if _ns(self.due) < now_ns():
            raise ValueError("due: is in the past")
        return self


class _Change(_Body):
    version: int = Field(ge=1, le=2**31, description="The version the change is based on.")
    comment: str = Field(default="", max_length=2000)


class AssignIn(_Change):
    """Give the order to someone (again: hand it over), with the planned downtime."""

    assignee: str = Field(min_length=1, max_length=128)
    window_start: IsoTime | None = None
    window_end: IsoTime | None = None

    @model_validator(mode="after")
    def _window_order(self) -> Self:
        if self.window_start is None and self.window_end is None:
            return self
        if self.window_start is None or self.window_end is None:
            raise ValueError("window_end: give window_start and window_end, or neither")
        start, end = _ns(self.window_start), _ns(self.window_end)
        if not start < end <= start + MAX_WINDOW_NS:
            raise ValueError("window_end: must be after window_start, at most 31 days after it")
        return self

    def window(self) -> Window | None:
        if self.window_start is None or self.window_end is None:
            return None
        return Window(_ns(self.window_start), _ns(self.window_end))


class StartIn(_Change):
    pass


class CloseIn(_Change):
    failure_code: str = Field(min_length=1, max_length=32, description="From the catalog.")
    cause: str = Field(min_length=1, max_length=2000)


class CancelIn(_Body):
    version: int = Field(ge=1, le=2**31)
    reason: str = Field(min_length=1, max_length=2000, description="Why: it is recorded.")


class FailureCodeOut(BaseModel):
    code: str
    text: str


class WindowItem(BaseModel):
    equipment: str
    start: str
    end: str
    order_id: int
    number: str
    status: StatusName
    title: str

    @classmethod
    def of(cls, w: MaintenanceWindow) -> "WindowItem":
        return cls(
            equipment=w.equipment,
            start=iso_time(w.start_ns),
            end=iso_time(w.end_ns),
            order_id=w.order_id,
            number=w.number,
            status=w.status,
            title=w.title,
        )


def work_orders(services: ServicesDep) -> WorkOrders:
    """The platform's work-order service (the ``maintenance:`` section's failure codes and
    due times); without that section, one over the catalog with the defaults. The service
    takes the tenant on every call, so one serves every tenant."""
    if services.maintenance is not None:
        return services.maintenance.orders
    return WorkOrders(WorkOrderStore(services.catalog))


Orders = Annotated[WorkOrders, Depends(work_orders)]


async def _call(run: Callable[[], T]) -> T:
    """``run`` in the thread pool; the service's refusals as 400, 404 or 409."""
    try:
        return await run_in_threadpool(run)
    except WorkOrderError as exc:
        code = next(c for cls, c in _STATUS if isinstance(exc, cls))
        raise HTTPException(code, str(exc)) from exc


async def _changed(
    services: ServicesDep, who: Principal, action: str, order: OrderRecord, detail: dict[str, Any]
) -> WorkOrderOut:
    facts = {"id": order.id, "equipment": order.equipment, "status": order.status, **detail}
    await record(services, f"work_order_{action}", who, order.number, facts)
    return WorkOrderOut.of(order, now_ns())


@router.get("/workorders", summary="Work orders, newest first, with filters and paging")
async def list_orders(
    orders: Orders,
    who: TenantCaller,
    status_: Annotated[
        list[StatusName] | None, Query(alias="status", description="Only these statuses.")
    ] = None,
    equipment: Annotated[str | None, Query(description="UNS path.", max_length=400)] = None,
    source: Annotated[SourceName | None, Query(description="Only this source.")] = None,
    before: Annotated[int | None, Query(ge=1, le=2**53, description="Older than this id.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> WorkOrderList:
    where = OrderFilter(tuple(status_) if status_ else None, equipment, source)
    page = await _call(lambda: orders.orders(who.tenant_id, where, before=before, limit=limit))
    now = now_ns()
    return WorkOrderList(
        orders=[WorkOrderOut.of(o, now) for o in page.orders], next_before=page.next_before
    )


@router.get("/workorders/{order_id}", summary="One work order, its evidence and its log")
async def get_order(
    orders: Orders, who: TenantCaller, order_id: Annotated[int, _ID]
) -> WorkOrderDetail:
    order = await _call(lambda: orders.get(who.tenant_id, order_id))
    log = await _call(lambda: orders.history(who.tenant_id, order_id))
    out = WorkOrderOut.of(order, now_ns())
    return WorkOrderDetail(
        **out.model_dump(),
        evidence=[
            EvidenceOut(time=iso_time(e.at_ns), summary=e.summary, data=dict(e.data))
            for e in parse_evidence(order.evidence)
        ],
        log=[TransitionOut.of(t) for t in log],
    )


@router.post(
    "/workorders",
    status_code=status.HTTP_201_CREATED,
    summary="Open a work order by hand",
)
async def create_order(
    services: ServicesDep, orders: Orders, who: TenantCaller, body: WorkOrderIn
) -> WorkOrderOut:
    due = _ns(body.due)
    order = await _call(
        lambda: orders.open_manual(
            who.tenant_id, body.equipment, title=body.title,
            suggested_action=body.suggested_action, due_ns=due, actor=who.key_name,
            summary=body.evidence,
        )
    )  # fmt: skip
    return await _changed(services, who, "open", order, {"due": body.due, "title": body.title})


@router.post("/workorders/{order_id}/assign", summary="Assign, with its downtime window",
             responses=_ERRORS)  # fmt: skip
async def assign(
    services: ServicesDep,
    orders: Orders,
    who: TenantCaller,
    order_id: Annotated[int, _ID],
    body: AssignIn,
) -> WorkOrderOut:
    window = body.window()
    order = await _call(
        lambda: orders.assign(
            who.tenant_id, order_id, body.version, assignee=body.assignee, window=window,
            actor=who.key_name, comment=body.comment,
        )
    )  # fmt: skip
    detail = {"assignee": body.assignee, "window": [body.window_start, body.window_end]}
    return await _changed(services, who, "assign", order, detail)


@router.post("/workorders/{order_id}/start", summary="Work has started", responses=_ERRORS)
async def start(
    services: ServicesDep,
    orders: Orders,
    who: TenantCaller,
    order_id: Annotated[int, _ID],
    body: StartIn,
) -> WorkOrderOut:
    order = await _call(
        lambda: orders.start(
            who.tenant_id, order_id, body.version, actor=who.key_name, comment=body.comment
        )
    )
    return await _changed(services, who, "start", order, {"comment": body.comment})


@router.post("/workorders/{order_id}/close", summary="Done: failure code and cause",
             responses=_ERRORS)  # fmt: skip
async def close(
    services: ServicesDep,
    orders: Orders,
    who: TenantCaller,
    order_id: Annotated[int, _ID],
    body: CloseIn,
) -> WorkOrderOut:
    order = await _call(
        lambda: orders.close(
            who.tenant_id, order_id, body.version, failure_code=body.failure_code,
            cause=body.cause, actor=who.key_name, comment=body.comment,
        )
    )  # fmt: skip
    detail = {"failure_code": body.failure_code, "cause": body.cause}
    return await _changed(services, who, "close", order, detail)


@router.post("/workorders/{order_id}/cancel", summary="Cancel, with the reason",
             responses=_ERRORS)  # fmt: skip
async def cancel(
    services: ServicesDep,
    orders: Orders,
    who: TenantCaller,
    order_id: Annotated[int, _ID],
    body: CancelIn,
) -> WorkOrderOut:
    order = await _call(
        lambda: orders.cancel(
            who.tenant_id, order_id, body.version, reason=body.reason, actor=who.key_name
        )
    )
    return await _changed(services, who, "cancel", order, {"reason": body.reason})


@router.get("/failure-codes", summary="The failure codes a work order may be closed with")
def failure_codes(orders: Orders) -> list[FailureCodeOut]:
    return [FailureCodeOut(code=c, text=t) for c, t in orders.config.failure_codes.items()]


@router.get("/windows", summary="Planned maintenance downtime, for production scheduling")
async def windows(
    orders: Orders,
    who: TenantCaller,
    equipment: Annotated[
        str | None, Query(description="UNS path; default all.", max_length=400)
    ] = None,
    start: Annotated[str | None, Query(description=f"{_TIME} Default: now.", max_length=64)] = None,
    end: Annotated[
        str | None, Query(description=f"{_TIME} Default: start + 7 d.", max_length=64)
    ] = None,
) -> list[WindowItem]:
    lo = parse_time(start, "start") if start is not None else now_ns()
    hi = parse_time(end, "end") if end is not None else lo + DEFAULT_RANGE_NS
    if not lo < hi <= lo + MAX_RANGE_NS:
        raise BadParameterError("end", "must be after start, and at most 366 days after it")
    found = await _call(
        lambda: orders.maintenance_windows(who.tenant_id, equipment, start_ns=lo, end_ns=hi)
    )
    return [WindowItem.of(w) for w in found]
