"""KPIs of a schedule, computed by hand on a small plan: makespan, weighted tardiness, late
orders, setup (changeovers plus per-lot setups), utilisation net of downtime, moves, and the
goal's value."""

from dataclasses import replace

from factoryos.apps.scheduling.kpis import kpis, moved, objective_value
from factoryos.apps.scheduling.model import (
    Downtime,
    Goal,
    Mode,
    Objective,
    Order,
    Problem,
    Schedule,
    Slot,
    Status,
)
from factoryos.apps.scheduling.timeline import changeovers_before

from .feasibility import one, op, violations


def _problem() -> Problem:
    return Problem(
        ("M1", "M2"),
        (
            Order("A", (one("M1", 2, 1),), quantity=2, due=5, weight=2, family="a"),
            Order("B", (one("M1", 3),), due=20, family="b"),
            Order("C", (one("M2", 4), one("M1", 1)), due=5, weight=3, family="a"),
        ),
        changeovers={("a", "b"): 2, ("b", "a"): 1},
        initial_family={"M1": "b"},
        downtime=(Downtime("M2", 6, 8),),
    )


def _plan() -> Schedule:
    # M1: b -> A [1,6) (changeover 1; 1 setup + 2 x 2), B [8,11) (a->b 2), C/1 [12,13) (b->a 1)
    # M2: C/0 [0,4)
    return Schedule(
        (
            Slot("A", 0, 0, "M1", 1, 6, 2, setup=1),
            Slot("B", 0, 0, "M1", 8, 11, 1, setup=2),
            Slot("C", 1, 0, "M1", 12, 13, 1, setup=1),
            Slot("C", 0, 0, "M2", 0, 4, 1),
        ),
        Status.FEASIBLE,
        "hand",
    )


def test_the_hand_plan_is_feasible() -> None:
    assert violations(_problem(), _plan()) == []


def test_changeovers_before_match_the_hand_plan() -> None:
    # recomputed from slots with setup 0: same 1, 2, 1 on M1 and 0 on M2
    bare = [replace(s, setup=0) for s in _plan().slots]
    got = {(s.op, s.setup) for s in changeovers_before(_problem(), bare)}
    assert got == {("A/0", 1), ("B/0", 2), ("C/1", 1), ("C/0", 0)}


def test_makespan_tardiness_late_setup() -> None:
    k = kpis(_problem(), _plan())
    assert k.makespan == 13  # C/1 ends at 13
    # A ends 6, due 5: 1 x weight 2; B ends 11 <= 20; C ends 13, due 5: 8 x weight 3 = 24
    assert k.tardiness == 26
    assert k.late == 2
    # changeovers 1 + 2 + 1, plus A's per-lot setup 1
    assert k.setup == 5


def test_utilisation_net_of_downtime() -> None:
    k = kpis(_problem(), _plan())
    # M1: busy 5 + 3 + 1 = 9 of [0,13) -> 9/13; M2: busy 4 of 13 - 2 (down [6,8)) -> 4/11
    assert k.utilisation == {"M1": round(9 / 13, 4), "M2": round(4 / 11, 4)}
    assert k.utilisation["M1"] == 0.6923


def test_utilisation_counts_from_now() -> None:
    # now = 3: M1 busy [3,6) + 3 + 1 = 7 of [3,13) -> 0.7; M2 busy [3,4) = 1 of 10 - 2 -> 0.125
    k = kpis(replace(_problem(), now=3), _plan())
    assert k.utilisation == {"M1": 0.7, "M2": 0.125}


def test_utilisation_with_downtime_running_past_the_makespan() -> None:
    # M2 down [10, 20): only [10,13) falls before the makespan, available 13 - 3 = 10
    p = replace(_problem(), downtime=(Downtime("M2", 10, 20),))
    assert kpis(p, _plan()).utilisation["M2"] == 0.4


def test_utilisation_of_overlapping_downtime_is_not_double_counted() -> None:
    # M2 down [6,9) and [8,10) join to [6,10): available 13 - 4 = 9, busy 4
    p = replace(_problem(), downtime=(Downtime("M2", 6, 9), Downtime("M2", 8, 10)))
    assert kpis(p, _plan()).utilisation["M2"] == round(4 / 9, 4)


def test_machine_down_the_whole_time_has_zero_utilisation() -> None:
    p = replace(_problem(), machines=("M1", "M2", "M3"), downtime=(Downtime("M3", 0, 100),))
    assert kpis(p, _plan()).utilisation["M3"] == 0.0


def test_downtime_after_the_makespan_does_not_change_utilisation() -> None:
    # M2 down [20,30), after the makespan 13: available stays 13 - 2 = 11 -> 4/11
    p = replace(_problem(), downtime=(Downtime("M2", 6, 8), Downtime("M2", 20, 30)))
    assert kpis(p, _plan()).utilisation["M2"] == round(4 / 11, 4)


def test_empty_schedule() -> None:
    k = kpis(_problem(), Schedule((), Status.FEASIBLE, "hand"))
    assert (k.makespan, k.tardiness, k.late, k.setup) == (0, 0, 0, 0)
    assert k.utilisation == {"M1": 0.0, "M2": 0.0}


def test_setup_of_a_lot_uses_the_setup_of_its_machine() -> None:
    # two modes with different setups: the slot on M2 counts M2's setup 4, not M1's 1
    p = Problem(("M1", "M2"), (Order("A", (op(Mode("M1", 1, 1), Mode("M2", 1, 4)),)),))
    s = Schedule((Slot("A", 0, 0, "M2", 0, 5, 1),), Status.FEASIBLE, "hand")
    assert kpis(p, s).setup == 4


def test_objective_value_weighted_and_lexicographic() -> None:
    p, s = _problem(), _plan()
    weighted = Goal(((Objective.TARDINESS, 1), (Objective.MAKESPAN, 2)))
    assert objective_value(p, s, weighted) == (26 + 2 * 13,)
    lex = Goal(((Objective.LATE, 1), (Objective.SETUP, 3)), lexicographic=True)
    assert objective_value(p, s, lex) == (2, 15)


def test_moved_counts_ticks_and_machine_changes() -> None:
    s = _plan()
    released = (
        Slot("A", 0, 0, "M1", 3, 8, 2),  # now at 1 on M1: moved 2
        Slot("B", 0, 0, "M2", 8, 11, 1),  # same start, other machine: its duration 3
        Slot("D", 0, 0, "M1", 20, 24, 1),  # no longer placed: its duration 4
        Slot("C", 0, 0, "M2", 0, 4, 1),  # unchanged: 0
    )
    assert moved(released, s) == 2 + 3 + 4
    goal = Goal(((Objective.STABILITY, 1),))
    assert objective_value(_problem(), s, goal, released) == (9,)
