"""CP-SAT scheduling: benchmark optima, every modelling feature on problems small enough to
solve by hand, the objectives against the KPI functions, and the independent feasibility
checker on every result."""

import itertools
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from factoryos.apps.scheduling.cpsat import SolveOptions, solve, upper_horizon
from factoryos.apps.scheduling.errors import SchedulingError
from factoryos.apps.scheduling.instances import read_instance
from factoryos.apps.scheduling.kpis import kpis, moved, objective_value
from factoryos.apps.scheduling.model import (
    Downtime,
    Fixed,
    Goal,
    Mode,
    Objective,
    Order,
    Point,
    Problem,
    Schedule,
    Slot,
    Status,
)
from factoryos.apps.scheduling.rules import Rule, dispatch

from .feasibility import one, op, random_problem, rich_problem, violations

DATASETS = Path("/work/shared/datasets")
FT06 = DATASETS / "jsplib" / "instances" / "ft06"
MK01 = DATASETS / "fjsp_brandimarte" / "instances" / "mk01.txt"

MAKESPAN = Goal(((Objective.MAKESPAN, 1),))


def _solve(problem: Problem, time_limit: float = 5.0, **options: Any) -> Schedule:
    found = solve(problem, SolveOptions(time_limit=time_limit, workers=2, **options))
    assert found is not None
    assert violations(problem, found) == []
    return found


def _optimal(problem: Problem, **options: Any) -> Schedule:
    found = _solve(problem, **options)
    assert found.status is Status.OPTIMAL
    assert found.method == "cp-sat"
    return found


def _slot(schedule: Schedule, order: str, index: int = 0, lot: int = 0) -> Slot:
    (found,) = [s for s in schedule.slots if (s.order, s.index, s.lot) == (order, index, lot)]
    return found


def _seq(schedule: Schedule, machine: str) -> list[str]:
    return [s.order for s in sorted(schedule.slots, key=lambda s: s.start) if s.machine == machine]


# --- benchmarks ------------------------------------------------------------------------------


@pytest.mark.skipif(not FT06.exists(), reason="shared JSPLIB data set missing")
def test_ft06_optimum_is_55() -> None:
    p = read_instance(FT06, flexible=False)
    s = _solve(p, time_limit=10)
    assert s.status is Status.OPTIMAL
    assert s.makespan == 55  # the known optimum (instances.json)
    assert s.objective == 55 and s.bound == 55
    assert len(s.slots) == 36


@pytest.mark.skipif(not MK01.exists(), reason="shared Brandimarte data set missing")
def test_mk01_optimum_is_40() -> None:
    p = read_instance(MK01, flexible=True)
    s = _solve(p, time_limit=10)
    assert s.status is Status.OPTIMAL
    assert s.makespan == 40  # the known optimum (SOURCE.md)


# --- features --------------------------------------------------------------------------------


def test_alternative_picks_the_faster_machine() -> None:
    # 2 units: M1 5 x 2 = 10, M2 setup 1 + 3 x 2 = 7
    p = Problem(("M1", "M2"), (Order("A", (op(Mode("M1", 5), Mode("M2", 3, 1)),), quantity=2),))
    s = _optimal(p)
    assert (_slot(s, "A").machine, _slot(s, "A").end) == ("M2", 7)


def test_alternatives_spread_work_when_that_is_faster() -> None:
    # two orders, each M1 5 or M2 3: both on M2 ends at 6, one on each machine at 5
    modes = op(Mode("M1", 5), Mode("M2", 3))
    p = Problem(("M1", "M2"), (Order("A", (modes,)), Order("B", (modes,))))
    s = _optimal(p)
    assert s.makespan == 5
    assert {_slot(s, "A").machine, _slot(s, "B").machine} == {"M1", "M2"}


def _families(initial: str | None = None, long_job: int = 0) -> Problem:
    # four 2-tick orders alternating families a, b on M1; changeover 5 either way;
    # optionally a long job on M2 that fixes the makespan whatever M1 does
    orders = [Order(f"{f}{n}", (one("M1", 2),), family=f) for n, f in enumerate("abab")]
    if long_job:
        orders.append(Order("L", (one("M2", long_job),), family="z"))
    return Problem(
        ("M1", "M2"),
        tuple(orders),
        changeovers={("a", "b"): 5, ("b", "a"): 5},
        initial_family={"M1": initial} if initial else {},
    )


def test_makespan_groups_families_and_respects_changeovers() -> None:
    # grouped: 4 x 2 + one changeover 5 = 13 (alternating would be 8 + 3 x 5 = 23)
    s = _optimal(_families())
    assert s.makespan == 13
    fams = [o[0] for o in _seq(s, "M1")]
    assert fams in (["a", "a", "b", "b"], ["b", "b", "a", "a"])
    assert sorted(x.setup for x in s.slots) == [0, 0, 0, 5]


def test_setup_objective_reduces_changeovers() -> None:
    # M2's 30-tick job sets the makespan at 30, so makespan-only is indifferent to M1's
    # order (alternating ends at 23 <= 30). Initial family b: b, b, a, a costs 5;
    # a first would cost 5 (initial) + 5. Setup objective: 5.
    base = _families(initial="b", long_job=30)
    by_makespan = _optimal(base)
    assert by_makespan.makespan == 30
    setup_goal = Goal(((Objective.SETUP, 1), (Objective.MAKESPAN, 1)))
    by_setup = _optimal(replace(base, goal=setup_goal))
    assert kpis(base, by_setup).setup == 5
    assert [o[0] for o in _seq(by_setup, "M1")] == ["b", "b", "a", "a"]
    assert kpis(base, by_setup).setup <= kpis(base, by_makespan).setup
    assert by_setup.makespan == 30
    # the solver's objective is the KPI figure: 5 x 1 + 30 x 1
    assert by_setup.objective == 35
    assert objective_value(base, by_setup, setup_goal) == (35,)


def test_initial_family_changeover_is_kept_at_now() -> None:
    # M1 last ran b; the only order is a: changeover 5 from now = 2, so [7, 9)
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 2),), family="a"),),
        changeovers={("b", "a"): 5},
        initial_family={"M1": "b"},
        now=2,
    )
    s = _optimal(p)
    assert (_slot(s, "A").start, _slot(s, "A").setup) == (7, 5)


def test_per_lot_setup_counts_in_the_setup_objective() -> None:
    # 6 units on M1 (setup 2, run 1), max 2 lots, setup-only goal: one lot (setup 2), not two
    p = Problem(
        ("M1", "M2"),
        (Order("A", (op(Mode("M1", 1, 2), Mode("M2", 1, 2), max_lots=2),), quantity=6),),
        goal=Goal(((Objective.SETUP, 1),)),
    )
    s = _optimal(p)
    assert len(s.slots) == 1
    assert s.objective == 2 == kpis(p, s).setup


def test_downtime_is_avoided_and_the_operation_not_interrupted() -> None:
    # 5 ticks: [0,3) is too short before downtime [3,6)+[5,10) (overlapping spans): [10,15)
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 5),)),),
        downtime=(Downtime("M1", 3, 6), Downtime("M1", 5, 10, "repair")),
    )
    s = _optimal(p)
    assert len(s.slots) == 1
    assert (_slot(s, "A").start, _slot(s, "A").end) == (10, 15)


def test_downtime_gap_used_when_the_operation_fits() -> None:
    # A (3 ticks) fits in [0,3) exactly; B (2) fits in the gap [6,8) between downtimes
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 3),)), Order("B", (one("M1", 2),))),
        downtime=(Downtime("M1", 3, 6), Downtime("M1", 8, 20)),
    )
    s = _optimal(p)
    assert s.makespan == 8
    assert {(x.start, x.end) for x in s.slots} == {(0, 3), (6, 8)}


def test_two_lots_split_a_long_operation_over_two_machines() -> None:
    # 10 units x 2 ticks, setup 1 per lot: one lot 21, two lots of 5 in parallel 1 + 10 = 11
    p = Problem(
        ("M1", "M2"),
        (Order("A", (op(Mode("M1", 2, 1), Mode("M2", 2, 1), max_lots=2),), quantity=10),),
    )
    s = _optimal(p)
    assert s.makespan == 11
    assert sorted(x.machine for x in s.slots) == ["M1", "M2"]
    assert sum(x.quantity for x in s.slots) == 10
    assert sorted(x.quantity for x in s.slots) == [5, 5]


def test_min_lot_forbids_a_split() -> None:
    # 5 units, lots of at least 3: two lots would need 6, so one lot of 5 x 2 = 10
    p = Problem(
        ("M1", "M2"),
        (Order("A", (op(Mode("M1", 2), Mode("M2", 2), max_lots=2, min_lot=3),), quantity=5),),
    )
    s = _optimal(p)
    assert len(s.slots) == 1
    assert s.makespan == 10


def test_next_operation_waits_for_every_lot() -> None:
    # 3 units split 2 + 1 on M1/M2 (ends 4 and 2), then M3 1 tick: starts at 4, makespan 5
    p = Problem(
        ("M1", "M2", "M3"),
        (Order("A", (op(Mode("M1", 2), Mode("M2", 2), max_lots=2), one("M3", 0, 1)), quantity=3),),
    )
    s = _optimal(p)
    assert s.makespan == 5
    assert _slot(s, "A", 1).start == 4


def test_fixed_slots_are_kept_exactly() -> None:
    # A fixed on M1 [7,12); B (5) fits before it: makespan 12
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 5),)), Order("B", (one("M1", 5),))),
        fixed=(Fixed("A/0", "M1", 7, 12),),
    )
    s = _optimal(p)
    assert (_slot(s, "A").machine, _slot(s, "A").start, _slot(s, "A").end) == ("M1", 7, 12)
    assert s.makespan == 12
    assert _slot(s, "B").end <= 7


def test_fixed_machine_of_an_alternative_is_kept() -> None:
    # A could run on the faster M2, but is fixed on M1 [0,6)
    p = Problem(
        ("M1", "M2"),
        (Order("A", (op(Mode("M1", 6), Mode("M2", 1)),)),),
        fixed=(Fixed("A/0", "M1", 0, 6),),
    )
    s = _optimal(p)
    assert (_slot(s, "A").machine, _slot(s, "A").end) == ("M1", 6)


def test_now_is_respected_for_unfixed_operations() -> None:
    # now = 4; A started at 0 (fixed [0,5)); B after it on M1 [5,8); C alone on M2 starts at
    # now: [4,6). Makespan 8.
    p = Problem(
        ("M1", "M2"),
        (
            Order("A", (one("M1", 5),)),
            Order("B", (one("M1", 3),)),
            Order("C", (one("M2", 2),)),
        ),
        fixed=(Fixed("A/0", "M1", 0, 5),),
        now=4,
    )
    s = _optimal(p)
    assert (_slot(s, "A").start, _slot(s, "B").start) == (0, 5)
    assert _slot(s, "C").start >= 4
    assert s.makespan == 8


def test_now_alone_sets_the_makespan() -> None:
    # a single 2-tick order and now = 4: [4,6)
    p = Problem(("M1",), (Order("A", (one("M1", 2),)),), now=4)
    s = _optimal(p)
    assert (_slot(s, "A").start, s.makespan) == (4, 6)


def test_after_is_respected() -> None:
    # B (on idle M2) needs A (M1, 4 ticks) finished first: B [4,5)
    p = Problem(
        ("M1", "M2"),
        (Order("B", (one("M2", 1),), after=("A",)), Order("A", (one("M1", 4),))),
    )
    s = _optimal(p)
    assert _slot(s, "B").start == 4


def test_release_is_respected() -> None:
    p = Problem(("M1",), (Order("A", (one("M1", 2),), release=7),))
    assert _slot(_optimal(p), "A").start == 7


# --- objectives ------------------------------------------------------------------------------


def _tardy_problem(goal: Goal) -> Problem:
    return Problem(
        ("M1",),
        (
            Order("A", (one("M1", 4),), due=4, weight=1),
            Order("B", (one("M1", 3),), due=3, weight=3),
            Order("C", (one("M1", 2),), due=5, weight=2),
        ),
        goal=goal,
    )


def test_weighted_tardiness_matches_the_kpis() -> None:
    # all 6 sequences by hand; best B,C,A: B ends 3 (0), C 5 (0), A 9 (5 x 1) -> 5
    goal = Goal(((Objective.TARDINESS, 1),))
    p = _tardy_problem(goal)
    s = _optimal(p)
    assert s.objective == 5
    assert objective_value(p, s, goal) == (5,)
    assert _seq(s, "M1") == ["B", "C", "A"]
    # cross-check the hand computation by brute force over the sequences
    durations = {"A": 4, "B": 3, "C": 2}
    best = min(
        sum(
            o.weight * max(0, sum(durations[x] for x in seq[: seq.index(o.id) + 1]) - o.due)
            for o in p.orders
            if o.due is not None
        )
        for seq in itertools.permutations("ABC")
    )
    assert best == 5


def test_weighted_sum_of_tardiness_and_makespan() -> None:
    # makespan is 9 whatever the order; 2 x tardiness 5 + 9 = 19
    goal = Goal(((Objective.TARDINESS, 2), (Objective.MAKESPAN, 1)))
    p = _tardy_problem(goal)
    s = _optimal(p)
    assert s.objective == 19
    assert objective_value(p, s, goal) == (19,)


def test_late_count_matches_the_kpis() -> None:
    # only one of A (due 4) and B (due 3) can be on time, C fits on time after B: 1 late
    goal = Goal(((Objective.LATE, 1),))
    p = _tardy_problem(goal)
    s = _optimal(p)
    assert s.objective == 1 == kpis(p, s).late


def _late_vs_makespan(goal: Goal) -> Problem:
    # X: M1 6, due 6. Y: M1 2 then M2 10, no due.
    # Y first: makespan 12 but X ends 8 (late). X first: nobody late, makespan 6 + 2 + 10 = 18.
    return Problem(
        ("M1", "M2"),
        (
            Order("X", (one("M1", 6),), due=6),
            Order("Y", (one("M1", 2), one("M2", 10))),
        ),
        goal=goal,
    )


def test_lexicographic_late_then_makespan() -> None:
    lex = Goal(((Objective.LATE, 1), (Objective.MAKESPAN, 1)), lexicographic=True)
    plain = Goal(((Objective.MAKESPAN, 1),))
    s_lex = _optimal(_late_vs_makespan(lex))
    s_mk = _optimal(_late_vs_makespan(plain))
    p = _late_vs_makespan(lex)
    assert kpis(p, s_lex).late <= kpis(p, s_mk).late
    assert (kpis(p, s_lex).late, s_lex.makespan) == (0, 18)
    assert (kpis(p, s_mk).late, s_mk.makespan) == (1, 12)
    assert objective_value(p, s_lex, lex) == (0, 18)
    assert s_lex.objective == 18  # the last stage's value


def test_lexicographic_order_matters() -> None:
    # makespan first: 12, then the fewest late at that makespan: 1
    goal = Goal(((Objective.MAKESPAN, 1), (Objective.LATE, 1)), lexicographic=True)
    p = _late_vs_makespan(goal)
    s = _optimal(p)
    assert objective_value(p, s, goal) == (12, 1)


def _either_machine() -> Problem:
    either = op(Mode("M1", 10), Mode("M2", 10))
    return Problem(("M1", "M2"), tuple(Order(n, (either,)) for n in "ABC"))


_PLAN = (
    Slot("A", 0, 0, "M2", 0, 10, 1),
    Slot("B", 0, 0, "M1", 0, 10, 1),
    Slot("C", 0, 0, "M1", 10, 20, 1),
)


def test_stability_keeps_released_slots_in_place() -> None:
    # any assignment of 3 ten-tick orders to 2 machines has makespan 20; only the old plan
    # has zero moves, so makespan + stability = 20
    goal = Goal(((Objective.MAKESPAN, 1), (Objective.STABILITY, 1)))
    p = replace(_either_machine(), goal=goal)
    s = _optimal(p, released=_PLAN)
    assert {(x.order, x.machine, x.start) for x in s.slots} == {
        (x.order, x.machine, x.start) for x in _PLAN
    }
    assert s.objective == 20
    assert moved(_PLAN, s) == 0


def test_stability_moves_as_little_as_possible() -> None:
    # M2 now down in [0,5): A cannot stay at M2 [0,10). Staying on M2 from 5 moves 5 ticks,
    # changing machine costs 10: A to M2 [5,15), B and C kept; objective 20 + 5.
    goal = Goal(((Objective.MAKESPAN, 1), (Objective.STABILITY, 1)))
    p = replace(_either_machine(), goal=goal, downtime=(Downtime("M2", 0, 5),))
    s = _optimal(p, released=_PLAN)
    assert (_slot(s, "A").machine, _slot(s, "A").start) == ("M2", 5)
    assert (_slot(s, "B").machine, _slot(s, "B").start) == ("M1", 0)
    assert (_slot(s, "C").machine, _slot(s, "C").start) == ("M1", 10)
    assert s.objective == 25
    assert objective_value(p, s, goal, _PLAN) == (25,)


def test_stability_objective_needs_released_slots() -> None:
    p = replace(_either_machine(), goal=Goal(((Objective.STABILITY, 1),)))
    with pytest.raises(SchedulingError, match="released"):
        solve(p, SolveOptions(time_limit=1, workers=2))


# --- infeasible, hints, progress ------------------------------------------------------------


def test_horizon_too_short_is_infeasible() -> None:
    # two 5-tick orders on one machine need 10 ticks; the horizon is 9
    p = Problem(("M1",), (Order("A", (one("M1", 5),)), Order("B", (one("M1", 5),))), horizon=9)
    assert solve(p, SolveOptions(time_limit=5, workers=2)) is None


def test_horizon_just_long_enough() -> None:
    p = Problem(("M1",), (Order("A", (one("M1", 5),)), Order("B", (one("M1", 5),))), horizon=10)
    assert _optimal(p).makespan == 10


def test_cycle_in_after_is_infeasible() -> None:
    p = Problem(
        ("M1",),
        (
            Order("A", (one("M1", 1),), after=("B",)),
            Order("B", (one("M1", 1),), after=("A",)),
        ),
    )
    assert solve(p, SolveOptions(time_limit=5, workers=2)) is None


def test_fixed_slots_that_overlap_are_infeasible() -> None:
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 5),)), Order("B", (one("M1", 5),))),
        fixed=(Fixed("A/0", "M1", 0, 5), Fixed("B/0", "M1", 3, 8)),
    )
    assert solve(p, SolveOptions(time_limit=5, workers=2)) is None


def test_feasible_hint_is_never_beaten_by_a_worse_answer() -> None:
    p = rich_problem()
    hint = dispatch(p, Rule.SPT)
    assert violations(p, hint) == []
    s = _solve(p, hint=hint)
    assert s.makespan <= hint.makespan


def test_progress_reports_improving_points() -> None:
    points: list[Point] = []
    p = rich_problem()
    s = solve(p, SolveOptions(time_limit=5, workers=2), progress=points.append)
    assert s is not None and points
    assert points[-1].objective == s.objective == s.makespan
    assert list(s.trace) == points
    assert all(a.objective >= b.objective for a, b in itertools.pairwise(points))


def test_upper_horizon_by_hand() -> None:
    # work: A 2 units on slowest mode max(1 + 2 x 2, 3 x 2) = 6, + 1 lot x worst changeover 4;
    # B 5 + 2 lots x 4 + max setup 0 x 1 = 13. Latest: downtime end 20. 20 + 6+4 + 13 + 4 = 47
    p = Problem(
        ("M1", "M2"),
        (
            Order("A", (op(Mode("M1", 2, 1), Mode("M2", 3)),), quantity=2),
            Order("B", (op(Mode("M1", 5), max_lots=2),)),
        ),
        changeovers={("a", "b"): 4, ("b", "a"): 1},
        downtime=(Downtime("M2", 10, 20),),
        now=3,
    )
    assert upper_horizon(p) == 47


# --- every feature at once -------------------------------------------------------------------


def test_rich_problem_is_optimal_and_no_worse_than_any_rule() -> None:
    p = rich_problem()
    s = _optimal(p, time_limit=10)
    assert s.makespan <= min(dispatch(p, r).makespan for r in Rule)
    assert (_slot(s, "D").start, _slot(s, "D").end) == (0, 6)  # fixed before now, kept


def test_random_problems_are_feasible_and_beat_the_rules() -> None:
    for seed in range(12):
        p = random_problem(seed)
        s = _optimal(p)
        assert s.makespan <= min(dispatch(p, r).makespan for r in Rule), f"seed {seed}"
        assert s.objective == s.makespan


def test_random_problems_tardiness_objective_is_the_kpi() -> None:
    goal = Goal(((Objective.TARDINESS, 1), (Objective.LATE, 3)))
    for seed in range(6):
        p = replace(random_problem(seed), goal=goal)
        s = _optimal(p)
        assert objective_value(p, s, goal) == (s.objective,), f"seed {seed}"


# --- bugs ------------------------------------------------------------------------------------


def test_fixed_second_lot_larger_than_the_rest() -> None:
    # 10 units, max 2 lots, lot 1 fixed on M2 [0,6) with 6 units: lot 0 = 4 units on M1 [0,4)
    p = Problem(
        ("M1", "M2"),
        (Order("A", (op(Mode("M1", 1), Mode("M2", 1), max_lots=2),), quantity=10),),
        fixed=(Fixed("A/0", "M2", 0, 6, lot=1, quantity=6),),
    )
    assert violations(p, dispatch(p, Rule.SPT)) == []  # a feasible schedule exists
    s = _optimal(p)
    assert _slot(s, "A", 0, 0).quantity == 4


def test_release_after_the_horizon_is_infeasible_not_an_internal_error() -> None:
    p = Problem(("M1",), (Order("A", (one("M1", 2),), release=10),), horizon=9)
    assert solve(p, SolveOptions(time_limit=2, workers=2)) is None


def test_setup_objective_counts_the_changeover_into_a_fixed_first_slot() -> None:
    # M1 last ran a; B (b) is fixed first [0,5): changeover a->b 5; then A (a): b->a 5
    goal = Goal(((Objective.SETUP, 1),))
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 2),), family="a"), Order("B", (one("M1", 5),), family="b")),
        changeovers={("a", "b"): 5, ("b", "a"): 5},
        initial_family={"M1": "a"},
        fixed=(Fixed("B/0", "M1", 0, 5),),
        goal=goal,
    )
    s = _optimal(p)
    assert (s.objective,) == objective_value(p, s, goal)


def test_solve_with_a_rule_hint_after_a_fixed_slot() -> None:
    p = Problem(
        ("M1",),
        (
            Order("A", (one("M1", 5),), family="a"),
            Order("B", (one("M1", 5),), family="b"),
        ),
        changeovers={("b", "a"): 3, ("a", "b"): 3},
        fixed=(Fixed("B/0", "M1", 0, 5),),
    )
    assert _optimal(p).makespan == 13  # without a hint: A at 5 + 3 = 8, ends 13
    s = solve(p, SolveOptions(time_limit=5, workers=2, hint=dispatch(p, Rule.SPT)))
    assert s is not None and s.makespan == 13
