"""Work orders: the life cycle, the labels they leave, the windows scheduling keeps free."""

import pytest

from factoryos.apps.maintenance.workorders import (
    Source,
    Status,
    Window,
    WorkOrder,
    WorkOrderError,
    assign,
    cancel,
    close,
    maintenance_windows,
    start,
)

H = 3600 * 10**9
CNC = "demo/machining/line1/cell1/cnc-01"


def order(**extra: object) -> WorkOrder:
    fields: dict[str, object] = {
        "equipment": CNC,
        "source": Source.ANOMALY,
        "evidence": "vibration_mm_s 3.1 (T² 4.2× threshold)",
        "suggested_action": "inspect spindle bearings",
        "due_ns": 48 * H,
        "opened_ns": 0,
        "id": 7,
    }
    return WorkOrder(**{**fields, **extra})  # type: ignore[arg-type]


def test_the_whole_life_cycle_leaves_labels() -> None:
    o = assign(order(), "maria", Window(30 * H, 34 * H))
    o = assign(o, "jon")  # handed over, the window kept
    assert (o.status, o.assignee, o.window) == (Status.ASSIGNED, "jon", Window(30 * H, 34 * H))
    o = close(start(o), "BRG-01", "outer race spall", now_ns=33 * H)
    assert (o.status, o.failure_code, o.cause, o.closed_ns) == (
        Status.CLOSED, "BRG-01", "outer race spall", 33 * H,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("step", "message"),
    [
        (lambda o: start(o), "cannot start when open"),
        (lambda o: close(start(assign(o, "m")), "", "x", 1), "failure code and a cause"),
        (lambda o: close(assign(o, "m"), "C", "x", 1), "cannot close when assigned"),
        (lambda o: cancel(close(start(assign(o, "m")), "C", "x", 1), "dup", 2), "cannot cancel"),
        (lambda o: assign(o, "  "), "assignee"),
        (lambda o: cancel(o, "", 1), "reason"),
    ],
)
def test_moves_the_state_does_not_allow_are_refused(step: object, message: str) -> None:
    with pytest.raises(WorkOrderError, match=message):
        step(order())  # type: ignore[operator]


def test_bad_fields_are_refused() -> None:
    with pytest.raises(WorkOrderError, match="due before"):
        order(due_ns=-1)
    with pytest.raises(WorkOrderError, match="end not after start"):
        Window(5, 5)


def test_scheduling_sees_the_windows_of_live_orders_only() -> None:
    a = assign(order(id=1), "m", Window(10 * H, 12 * H))
    b = assign(order(id=2), "m", Window(2 * H, 3 * H))
    done = close(start(assign(order(id=3), "m", Window(5 * H, 6 * H))), "C", "x", 6 * H)
    other = assign(order(id=4, equipment="demo/x"), "m", Window(1 * H, 2 * H))
    assert maintenance_windows([a, b, done, other], CNC) == [
        Window(2 * H, 3 * H),
        Window(10 * H, 12 * H),
    ]
