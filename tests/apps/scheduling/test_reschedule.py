"""Rescheduling on disruption: started work stays frozen, released work is kept in place
unless moving it pays, the broken machine's repair window stays empty, and the report says
what moved."""

import random

import pytest

from factoryos.apps.scheduling.cpsat import SolveOptions, solve
from factoryos.apps.scheduling.errors import ProblemError
from factoryos.apps.scheduling.kpis import moved
from factoryos.apps.scheduling.model import (
    Goal,
    Mode,
    Objective,
    Operation,
    Order,
    Problem,
    Schedule,
    Slot,
    Status,
)
from factoryos.apps.scheduling.reschedule import Breakdown, LateMaterial, RushOrder, moves, repair

EITHER = (Mode("M1", 10), Mode("M2", 10))


def _order(name: str, due: int | None = None) -> Order:
    return Order(name, (Operation(EITHER),), due=due)


def _plan(problem: Problem, slots: list[tuple[str, str, int]]) -> Schedule:
    return Schedule(
        tuple(Slot(o, 0, 0, m, s, s + 10, 1) for o, m, s in slots), Status.FEASIBLE, "given"
    )


def _solve(problem: Problem, released: tuple[Slot, ...] = ()) -> Schedule:
    found = solve(problem, SolveOptions(time_limit=10, released=released))
    assert found is not None and found.status is Status.OPTIMAL
    return found


def test_a_breakdown_keeps_started_and_released_work_and_empties_the_repair_window() -> None:
    problem = Problem(("M1", "M2"), tuple(_order(n) for n in "ABCD"))
    plan = _plan(problem, [("A", "M1", 0), ("B", "M1", 10), ("C", "M2", 0), ("D", "M2", 10)])
    r = repair(problem, plan, Breakdown("M2", 5, 15), now=5, release_window=100)
    assert [f.op for f in r.problem.fixed] == ["A/0"]  # started before now=5 on a working machine
    assert [s.order for s in r.interrupted] == ["C"]  # running on M2 when it broke: restarts
    assert [s.order for s in r.released] == ["B"]  # D sits in the repair window: it must move
    assert r.problem.goal.terms[-1] == (Objective.STABILITY, 1)
    new = _solve(r.problem, r.released)
    at = {s.order: (s.machine, s.start, s.end) for s in new.slots}
    assert at["A"] == ("M1", 0, 10) and at["B"] == ("M1", 10, 20)
    assert at["C"][1] >= 5 and at["C"][2] - at["C"][1] == 10  # the whole operation again
    assert not any(s.machine == "M2" and s.start < 15 and s.end > 5 for s in new.slots)
    assert {(m.op, m.released) for m in moves(plan, new, r.released)} == {
        ("C/0", False),
        ("D/0", False),
    }


def test_with_the_stability_term_released_work_moves_no_more_than_without() -> None:
    rng = random.Random(7)
    machines = ("M1", "M2", "M3")
    orders = tuple(
        Order(
            f"O{i}",
            tuple(
                Operation(tuple(Mode(m, rng.randint(3, 9)) for m in rng.sample(machines, 2)))
                for _ in range(3)
            ),
            due=rng.randint(20, 60),
        )
        for i in range(5)
    )
    goal = Goal(((Objective.TARDINESS, 1), (Objective.MAKESPAN, 1)))
    problem = Problem(machines, orders, goal=goal)
    plan = _solve(problem)
    r = repair(problem, plan, Breakdown("M1", 6, 20), now=6, release_window=30)
    assert r.released, "the test needs released slots"
    with_term = _solve(r.problem, r.released)
    without = _solve(
        Problem(
            machines,
            r.problem.orders,
            downtime=r.problem.downtime,
            fixed=r.problem.fixed,
            now=r.problem.now,
            goal=goal,
        )
    )
    # Both optimal: the joint optimum trades at most the makespan-and-tardiness it gives up.
    assert moved(r.released, with_term) <= moved(r.released, without)
    frozen = {(f.op, f.machine, f.start, f.end) for f in r.problem.fixed}
    for s in (with_term, without):
        assert frozen <= {(x.op, x.machine, x.start, x.end) for x in s.slots}


def test_a_rush_order_and_late_material() -> None:
    problem = Problem(("M1", "M2"), (_order("A", due=30), _order("B", due=30)))
    plan = _plan(problem, [("A", "M1", 0), ("B", "M2", 0)])
    rush = Order("R", (Operation(EITHER),), release=2, due=12, weight=100)
    r = repair(problem, plan, RushOrder(rush), now=2, release_window=50)
    new = _solve(r.problem, r.released)
    assert {s.order for s in new.slots} == {"A", "B", "R"}
    late = repair(problem, plan, LateMaterial("B", 25), now=0, release_window=50)
    new = _solve(late.problem, late.released)
    assert next(s for s in new.slots if s.order == "B").start >= 25
    assert "B" not in {s.order for s in late.released}


@pytest.mark.parametrize(
    ("disruption", "message"),
    [
        (Breakdown("M9", 0, 5), "unknown machine 'M9'"),
        (Breakdown("M1", 5, 5), "must end after it starts"),
        (LateMaterial("Z", 5), "unknown order 'Z'"),
        (RushOrder(_order("A")), "already exists"),
    ],
)
def test_impossible_disruptions_are_refused(disruption: object, message: str) -> None:
    problem = Problem(("M1", "M2"), (_order("A"),))
    plan = _plan(problem, [("A", "M1", 0)])
    with pytest.raises(ProblemError, match=message):
        repair(problem, plan, disruption, now=0, release_window=10)  # type: ignore[arg-type]
