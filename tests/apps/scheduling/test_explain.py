"""An infeasible problem is explained in the planner's words, not just "infeasible"."""

import pytest

from factoryos.apps.scheduling.cpsat import SolveOptions
from factoryos.apps.scheduling.errors import InfeasibleError
from factoryos.apps.scheduling.model import Downtime, Fixed, Mode, Operation, Order, Problem
from factoryos.apps.scheduling.planner import plan_schedule

HOUR = 3600


def _reasons(problem: Problem) -> list[str]:
    with pytest.raises(InfeasibleError) as info:
        plan_schedule(problem, SolveOptions(time_limit=5))
    return info.value.reasons


def _shifts(machine: str, days: int) -> tuple[Downtime, ...]:
    """Work 06:00-14:00 each day: downtime 14:00-06:00."""
    return tuple(
        Downtime(machine, d * 24 * HOUR + 8 * HOUR, (d + 1) * 24 * HOUR, "no shift")
        for d in range(days)
    )


def test_an_operation_longer_than_any_shift() -> None:
    op = Operation((Mode("lathe", run=10 * 60),), name="turn")  # 10 min per unit
    problem = Problem(
        ("lathe",),
        (Order("SO-1", (op,), quantity=60),),
        downtime=_shifts("lathe", 5),
        horizon=5 * 24 * HOUR,
    )
    (reason,) = _reasons(problem)
    assert reason.startswith("SO-1 step 1 (turn): 60 units need 10 h 00 min on lathe")
    assert "is available is 8 h 00 min" in reason and "max_lots" in reason


def test_a_cycle_of_orders() -> None:
    op = Operation((Mode("m", 5),))
    orders = (Order("A", (op,), after=("B",)), Order("B", (op,), after=("A",)))
    assert _reasons(Problem(("m",), orders)) == ["orders wait for each other: A → B → A"]


def test_fixed_work_that_collides_with_downtime() -> None:
    op = Operation((Mode("m", 5),))
    problem = Problem(
        ("m",),
        (Order("A", (op,)),),
        downtime=(Downtime("m", 0, 10, "repair"),),
        fixed=(Fixed("A/0", "m", 8, 13),),
    )
    assert _reasons(problem) == ["on m, fixed A/0#0 overlaps repair"]


def test_an_order_longer_than_the_horizon() -> None:
    ops = (Operation((Mode("m", 2 * HOUR),)), Operation((Mode("n", 2 * HOUR),)))
    problem = Problem(("m", "n"), (Order("A", ops, release=HOUR),), horizon=4 * HOUR)
    assert _reasons(problem) == [
        "A needs at least 4 h 00 min after it can start, more than the horizon leaves (3 h 00 min)"
    ]


def test_work_that_only_fits_one_by_one_names_the_overloaded_machine() -> None:
    op = Operation((Mode("m", 3 * HOUR),))
    orders = tuple(Order(f"O{i}", (op,)) for i in range(3))  # 9 h of work in an 8 h horizon
    (reason,) = _reasons(Problem(("m",), orders, horizon=8 * HOUR))
    assert (
        reason == "m has 9 h 00 min of work that only it can do, "
        "but only 8 h 00 min available before the horizon"
    )


def test_fixed_work_that_does_not_match_its_operation() -> None:
    op = Operation((Mode("m", 300), Mode("n", 420)))
    orders = (Order("A", (op,), quantity=2),)
    assert _reasons(Problem(("m", "n", "k"), orders, fixed=(Fixed("A/0", "k", 0, 600),))) == [
        "fixed A/0: it cannot run on k (m, n can)"
    ]
    assert _reasons(Problem(("m", "n"), orders, fixed=(Fixed("A/0", "n", 0, 600),))) == [
        "fixed A/0 on n lasts 10 min, but 2 units take 14 min there"
    ]


def test_a_pinned_step_before_its_predecessor_can_finish() -> None:
    ops = (Operation((Mode("m", 2 * HOUR),)), Operation((Mode("n", HOUR),)))
    problem = Problem(("m", "n"), (Order("A", ops),), fixed=(Fixed("A/1", "n", HOUR, 2 * HOUR),))
    assert _reasons(problem) == [
        "fixed A/1 starts at 1 h 00 min, but the steps before it cannot be done before "
        "2 h 00 min (times from the plan's start)"
    ]
