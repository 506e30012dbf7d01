"""Maintenance work orders: what was found, who does what by when, and how it ended.

A work order is opened by an anomaly, a remaining-useful-life forecast below a threshold,
or a person; it carries the evidence and a suggested action. Its life cycle:

.. code-block:: text

    open ──assign──▶ assigned ──start──▶ in_progress ──close──▶ closed
      │                 │                    │
      └──────────── cancel ──────────────────┘──▶ cancelled

Closing needs a failure code and a cause: they are the labels the next training run learns
from. A planned downtime window (``window``) is what production scheduling sees as a
maintenance window on the machine. Every transition is pure: it returns a new order and
refuses what the current state does not allow, naming both.
"""

from dataclasses import dataclass, replace
from enum import StrEnum

from factoryos.apps.maintenance.errors import MaintenanceError

MAX_TEXT = 2000


class WorkOrderError(MaintenanceError):
    """A work order change the order's state or fields do not allow."""


class Status(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELLED = "cancelled"


class Source(StrEnum):
    ANOMALY = "anomaly"
    RUL = "rul"
    MANUAL = "manual"


@dataclass(frozen=True, slots=True)
class Window:
    """Planned downtime ``[start_ns, end_ns)`` of the equipment for this work."""

    start_ns: int
    end_ns: int

    def __post_init__(self) -> None:
        if self.end_ns <= self.start_ns:
            raise WorkOrderError(f"maintenance window at {self.start_ns} ns: end not after start")


@dataclass(frozen=True, slots=True)
class WorkOrder:
    equipment: str
    source: Source
    evidence: str
    suggested_action: str
    due_ns: int
    opened_ns: int
    status: Status = Status.OPEN
    assignee: str | None = None
    window: Window | None = None
    failure_code: str | None = None
    cause: str | None = None
    closed_ns: int | None = None
    id: int | None = None

    def __post_init__(self) -> None:
        if not self.equipment:
            raise WorkOrderError("a work order needs an equipment")
        for name in ("evidence", "suggested_action"):
            if len(getattr(self, name)) > MAX_TEXT:
                raise WorkOrderError(f"{name}: at most {MAX_TEXT} characters")
        if self.due_ns < self.opened_ns:
            raise WorkOrderError("due before it was opened")


_NEXT: dict[str, tuple[frozenset[Status], Status]] = {
    "assign": (frozenset({Status.OPEN, Status.ASSIGNED}), Status.ASSIGNED),
    "start": (frozenset({Status.ASSIGNED}), Status.IN_PROGRESS),
    "close": (frozenset({Status.IN_PROGRESS}), Status.CLOSED),
    "cancel": (frozenset({Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS}), Status.CANCELLED),
}


def _moved(order: WorkOrder, action: str) -> Status:
    allowed, to = _NEXT[action]
    if order.status not in allowed:
        raise WorkOrderError(
            f"work order {order.id} on {order.equipment}: cannot {action} when {order.status}"
        )
    return to


def assign(order: WorkOrder, assignee: str, window: Window | None = None) -> WorkOrder:
    """Give the order to ``assignee`` (again, to hand it over), with its downtime window."""
    if not assignee.strip():
        raise WorkOrderError("assign: the assignee's name is empty")
    status = _moved(order, "assign")
    return replace(order, status=status, assignee=assignee, window=window or order.window)


def start(order: WorkOrder) -> WorkOrder:
    return replace(order, status=_moved(order, "start"))


def close(order: WorkOrder, failure_code: str, cause: str, now_ns: int) -> WorkOrder:
    """Done: the failure code and cause become labels for the next training run."""
    if not failure_code.strip() or not cause.strip():
        raise WorkOrderError("close: a failure code and a cause are required")
    status = _moved(order, "close")
    return replace(order, status=status, failure_code=failure_code, cause=cause, closed_ns=now_ns)


def cancel(order: WorkOrder, reason: str, now_ns: int) -> WorkOrder:
    if not reason.strip():
        raise WorkOrderError("cancel: give the reason")
    return replace(order, status=_moved(order, "cancel"), cause=reason, closed_ns=now_ns)


def maintenance_windows(orders: list[WorkOrder], equipment: str) -> list[Window]:
    """The downtime windows scheduling must keep free on ``equipment``: of every order not
    closed or cancelled, in time order."""
    live = (Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS)
    return sorted(
        (o.window for o in orders if o.equipment == equipment and o.status in live and o.window),
        key=lambda w: w.start_ns,
    )
