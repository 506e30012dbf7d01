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

The evidence of an order is a JSON list of :class:`Evidence` items (what the detector saw,
when); a second anomaly on the same equipment appends to it instead of opening a second
order. The list is bounded: the first item (the onset, where training labels start) and the
newest ones are kept.
"""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum

from factoryos.apps.maintenance.errors import MaintenanceError

MAX_TEXT = 2000
MAX_EVIDENCE = 32_000  # characters of evidence JSON per order
MAX_EVIDENCE_ITEMS = 50
MAX_SUMMARY = 500
MAX_DATA = 4_000  # characters of one item's data as JSON

# ISO 14224:2016 failure modes (table B.15): the default failure-code catalog.
DEFAULT_FAILURE_CODES: Mapping[str, str] = {
    "AIR": "abnormal instrument reading",
    "BRD": "breakdown",
    "ELP": "external leakage, process medium",
    "ELU": "external leakage, utility medium",
    "ERO": "erratic output",
    "FTF": "fail to function on demand",
    "FTS": "fail to start on demand",
    "HIO": "high output",
    "LOO": "low output",
    "NOI": "noise",
    "OHE": "overheating",
    "PDE": "parameter deviation",
    "STD": "structural deficiency",
    "VIB": "vibration",
    "OTH": "other",
    "UNK": "unknown",
}


class WorkOrderError(MaintenanceError):
    """A work order change the order's state or fields do not allow."""


class TransitionError(WorkOrderError):
    """A move (start, close …) the order's current status does not allow."""


class WorkOrderNotFoundError(WorkOrderError):
    """No such work order in the caller's tenant."""


class WorkOrderConflictError(WorkOrderError):
    """The order changed since it was read (another planner): nothing was written."""


class Status(StrEnum):
    OPEN = "open"
    ASSIGNED = "assigned"
    IN_PROGRESS = "in_progress"
    CLOSED = "closed"
    CANCELLED = "cancelled"


LIVE = frozenset({Status.OPEN, Status.ASSIGNED, Status.IN_PROGRESS})
"""Statuses of an order someone still has to act on."""


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
        if len(self.suggested_action) > MAX_TEXT:
            raise WorkOrderError(f"suggested_action: at most {MAX_TEXT} characters")
        if len(self.evidence) > MAX_EVIDENCE:
            raise WorkOrderError(f"evidence: at most {MAX_EVIDENCE} characters")
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
        raise TransitionError(
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


def close(
    order: WorkOrder,
    failure_code: str,
    cause: str,
    now_ns: int,
    codes: Mapping[str, str] | None = None,
) -> WorkOrder:
    """Done: the failure code and cause become labels for the next training run.

    With ``codes`` (the failure-code catalog) the code must be one of them."""
    if not failure_code.strip() or not cause.strip():
        raise WorkOrderError("close: a failure code and a cause are required")
    if codes is not None and failure_code not in codes:
        known = ", ".join(sorted(codes))
        raise WorkOrderError(f"failure_code: {failure_code!r} is not in the catalog ({known})")
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


# -- evidence ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Evidence:
    """One observation behind an order: when, what in a line, and the detector's numbers."""

    at_ns: int
    summary: str
    data: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.summary) > MAX_SUMMARY:
            raise WorkOrderError(f"evidence summary: at most {MAX_SUMMARY} characters")
        size = len(_dumps(self.data, "evidence data"))
        if size > MAX_DATA:
            raise WorkOrderError(f"evidence data: {size} characters of JSON, at most {MAX_DATA}")

    def as_json(self) -> dict[str, object]:
        return {"at": self.at_ns, "summary": self.summary, "data": dict(self.data)}


def _dumps(value: object, what: str) -> str:
    """Strict JSON: NaN, infinities and non-JSON types are refused, naming ``what``."""
    try:
        return json.dumps(value, allow_nan=False, separators=(",", ":"), sort_keys=True)
    except (TypeError, ValueError) as exc:
        raise WorkOrderError(f"{what}: not JSON ({exc})") from exc


def evidence_json(items: tuple[Evidence, ...]) -> str:
    return _dumps([e.as_json() for e in items], "evidence")


def parse_evidence(text: str) -> tuple[Evidence, ...]:
    """The items of stored evidence JSON (as :func:`evidence_json` wrote it)."""
    try:
        raw = json.loads(text) if text else []
        return tuple(Evidence(int(r["at"]), str(r["summary"]), dict(r["data"])) for r in raw)
    except (ValueError, TypeError, KeyError) as exc:
        raise WorkOrderError(f"evidence: not a list of evidence items ({exc})") from exc


def with_evidence(items: tuple[Evidence, ...], new: Evidence) -> tuple[Evidence, ...]:
    """``items`` and ``new``, bounded: beyond the item or character limit the oldest items
    after the first go (the first is the onset the training labels start from)."""
    out = (*items, new)
    while len(out) > 2 and (
        len(out) > MAX_EVIDENCE_ITEMS or len(evidence_json(out)) > MAX_EVIDENCE
    ):
        out = (out[0], *out[2:])
    return out


# -- labels for training ----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Label:
    """A closed order as a labelled interval: the equipment degraded from ``start_ns`` (first
    evidence, else when the order was opened) until ``end_ns`` (the maintenance window's
    start, else when it was closed), then was repaired during ``window``."""

    order_id: int | None
    equipment: str
    failure_code: str
    cause: str
    source: Source
    start_ns: int
    end_ns: int
    window: Window | None


def label_of(order: WorkOrder) -> Label | None:
    """The training label a closed order leaves; None for any other status."""
    if order.status is not Status.CLOSED or order.failure_code is None:
        return None
    items = parse_evidence(order.evidence)
    start = min((e.at_ns for e in items), default=order.opened_ns)
    end = order.window.start_ns if order.window else (order.closed_ns or order.opened_ns)
    return Label(
        order.id,
        order.equipment,
        order.failure_code,
        order.cause or "",
        order.source,
        min(start, end),
        end,
        order.window,
    )
