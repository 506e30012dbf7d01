"""Dispatching rules (Giffler-Thompson with a priority rule): hand-computed sequences on
tiny problems, and an independent feasibility check on rich, random and benchmark ones."""

from dataclasses import replace
from pathlib import Path

import pytest

from factoryos.apps.scheduling.errors import ProblemError
from factoryos.apps.scheduling.instances import read_instance
from factoryos.apps.scheduling.model import (
    Downtime,
    Fixed,
    Mode,
    Order,
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


def _seq(schedule: Schedule, machine: str) -> list[str]:
    return [s.order for s in sorted(schedule.slots, key=lambda s: s.start) if s.machine == machine]


def _slot(schedule: Schedule, order: str, index: int = 0, lot: int = 0) -> Slot:
    (found,) = [s for s in schedule.slots if (s.order, s.index, s.lot) == (order, index, lot)]
    return found


# --- the checker itself must be able to fail ------------------------------------------------


def _two_on_one() -> tuple[Problem, Schedule]:
    p = Problem(("M1",), (Order("A", (one("M1", 3),)), Order("B", (one("M1", 2),))))
    return p, dispatch(p, Rule.SPT)


def test_checker_accepts_a_valid_schedule() -> None:
    p, s = _two_on_one()
    assert violations(p, s) == []


def test_checker_sees_overlap() -> None:
    p, s = _two_on_one()
    b = _slot(s, "B")
    moved = replace(b, start=b.start + 1, end=b.end + 1)  # B [0,2) -> [1,3) overlaps A [2,5)
    bad = replace(s, slots=tuple(moved if x is b else x for x in s.slots))
    assert any("overlap" in v for v in violations(p, bad))


def test_checker_sees_missing_changeover_downtime_and_routing() -> None:
    p = Problem(
        ("M1", "M2"),
        (
            Order("A", (one("M1", 2), one("M2", 2)), family="a"),
            Order("B", (one("M1", 2),), family="b"),
        ),
        changeovers={("a", "b"): 3},
        downtime=(Downtime("M2", 0, 1),),
    )
    bad = Schedule(
        (
            Slot("A", 0, 0, "M1", 0, 2, 1),
            Slot("B", 0, 0, "M1", 2, 4, 1, setup=3),  # needs 3 ticks after A
            Slot("A", 1, 0, "M2", 0, 2, 1),  # before A/0 ends, and over the downtime
        ),
        Status.HEURISTIC,
        "hand",
    )
    found = violations(p, bad)
    assert any("changeover 3 missing" in v for v in found)
    assert any("downtime" in v for v in found)
    assert any("previous operation" in v for v in found)


def test_checker_sees_a_moved_fixed_slot() -> None:
    p = Problem(("M1",), (Order("A", (one("M1", 3),)),), fixed=(Fixed("A/0", "M1", 4, 7),))
    bad = Schedule((Slot("A", 0, 0, "M1", 0, 3, 1),), Status.HEURISTIC, "hand")
    assert any("fixed slot moved" in v for v in violations(p, bad))


# --- hand-computed sequences -----------------------------------------------------------------


def _single_machine() -> Problem:
    return Problem(
        ("M1",),
        (Order("A", (one("M1", 5),)), Order("B", (one("M1", 2),)), Order("C", (one("M1", 8),))),
    )


def test_spt_runs_shortest_first() -> None:
    # all start at 0 and conflict: SPT B(2) [0,2), A(5) [2,7), C(8) [7,15)
    s = dispatch(_single_machine(), Rule.SPT)
    assert _seq(s, "M1") == ["B", "A", "C"]
    assert (_slot(s, "C").start, s.makespan) == (7, 15)
    assert s.status is Status.HEURISTIC and s.method == "spt"


def test_lpt_runs_longest_first() -> None:
    # LPT: C(8) [0,8), A(5) [8,13), B(2) [13,15)
    s = dispatch(_single_machine(), Rule.LPT)
    assert _seq(s, "M1") == ["C", "A", "B"]
    assert _slot(s, "B").start == 13


def test_edd_puts_the_earlier_due_order_first() -> None:
    # A listed first and shorter, but B is due first: EDD B [0,5), A [5,8)
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 3),), due=100), Order("B", (one("M1", 5),), due=10)),
    )
    edd = dispatch(p, Rule.EDD)
    assert _seq(edd, "M1") == ["B", "A"]
    assert (_slot(edd, "B").end, _slot(edd, "A").end) == (5, 8)
    # the other rules that ignore due dates keep A (shorter, listed first) first
    assert _seq(dispatch(p, Rule.SPT), "M1") == ["A", "B"]
    assert _seq(dispatch(p, Rule.FIFO), "M1") == ["A", "B"]


def test_edd_orders_without_due_go_last() -> None:
    p = Problem(("M1",), (Order("A", (one("M1", 1),)), Order("B", (one("M1", 5),), due=50)))
    assert _seq(dispatch(p, Rule.EDD), "M1") == ["B", "A"]


def test_fifo_prefers_the_earlier_release_spt_does_not() -> None:
    # B (rel 1, 2 ticks) could finish first at 3, A (rel 0, 10 ticks) could start before 3:
    # conflict. FIFO picks A: A [0,10), B [10,12). SPT picks B: B [1,3), A [3,13).
    p = Problem(
        ("M1",),
        (Order("B", (one("M1", 2),), release=1), Order("A", (one("M1", 10),))),
    )
    fifo = dispatch(p, Rule.FIFO)
    assert [(s.order, s.start) for s in sorted(fifo.slots, key=lambda s: s.start)] == [
        ("A", 0),
        ("B", 10),
    ]
    spt = dispatch(p, Rule.SPT)
    assert [(s.order, s.start) for s in sorted(spt.slots, key=lambda s: s.start)] == [
        ("B", 1),
        ("A", 3),
    ]


def test_mwkr_prefers_the_order_with_more_work_left() -> None:
    # A: M1 3 then M2 10 (13 left); B: M1 2 (2 left). MWKR: A [0,3), B [3,5), A/1 [3,13).
    # SPT: B [0,2), A [2,5), A/1 [5,15).
    p = Problem(
        ("M1", "M2"),
        (Order("B", (one("M1", 2),)), Order("A", (one("M1", 3), one("M2", 10)))),
    )
    mwkr = dispatch(p, Rule.MWKR)
    assert _seq(mwkr, "M1") == ["A", "B"]
    assert mwkr.makespan == 13
    spt = dispatch(p, Rule.SPT)
    assert _seq(spt, "M1") == ["B", "A"]
    assert spt.makespan == 15


def test_alternative_machine_that_ends_first_is_taken() -> None:
    # M1: 2 units x 5 = 10; M2: setup 1 + 2 x 3 = 7
    p = Problem(("M1", "M2"), (Order("A", (op(Mode("M1", 5), Mode("M2", 3, 1)),), quantity=2),))
    s = dispatch(p, Rule.SPT)
    assert (_slot(s, "A").machine, _slot(s, "A").end) == ("M2", 7)


def test_downtime_pushes_an_operation_past_it() -> None:
    # 5 ticks do not fit in [0,3) before downtime [3,10): start at 10
    p = Problem(
        ("M1",), (Order("A", (one("M1", 5),)),), downtime=(Downtime("M1", 3, 10, "repair"),)
    )
    s = dispatch(p, Rule.SPT)
    assert (_slot(s, "A").start, _slot(s, "A").end) == (10, 15)


def test_short_operation_fits_before_downtime() -> None:
    # 3 ticks fit exactly in [0,3)
    p = Problem(("M1",), (Order("A", (one("M1", 3),)),), downtime=(Downtime("M1", 3, 10),))
    assert _slot(dispatch(p, Rule.SPT), "A").start == 0


def test_changeover_from_the_initial_family() -> None:
    # M1 last ran family a. X (b) needs 5 ticks of changeover so could start at 5 only;
    # Y (a) ends at 2 first and X cannot start before 2: Y [0,2), then X at 2 + 5 = 7.
    p = Problem(
        ("M1",),
        (Order("X", (one("M1", 2),), family="b"), Order("Y", (one("M1", 2),), family="a")),
        changeovers={("a", "b"): 5, ("b", "a"): 5},
        initial_family={"M1": "a"},
    )
    s = dispatch(p, Rule.SPT)
    assert _seq(s, "M1") == ["Y", "X"]
    x = _slot(s, "X")
    assert (x.start, x.setup) == (7, 5)
    assert _slot(s, "Y").setup == 0
    assert violations(p, s) == []


def test_lots_go_to_both_machines_and_the_next_operation_waits_for_all() -> None:
    # 5 units in 2 even lots: 3 and 2. Lot 0 (3 x 2 = 6) on M1 [0,6); lot 1 (2 x 2 = 4) on
    # M2 [0,4) since M1 is busy. The M3 operation waits for both: [6,7).
    p = Problem(
        ("M1", "M2", "M3"),
        (
            Order(
                "A",
                (op(Mode("M1", 2), Mode("M2", 2), max_lots=2), one("M3", 0, 1)),
                quantity=5,
            ),
        ),
    )
    s = dispatch(p, Rule.SPT)
    lots = sorted((x for x in s.slots if x.index == 0), key=lambda x: x.lot)
    assert [(x.lot, x.machine, x.quantity, x.end) for x in lots] == [
        (0, "M1", 3, 6),
        (1, "M2", 2, 4),
    ]
    assert (_slot(s, "A", 1).start, s.makespan) == (6, 7)
    assert violations(p, s) == []


def test_min_lot_limits_the_split() -> None:
    # 5 units, max 3 lots, min 2 per lot: 5 // 2 = 2 lots of 3 and 2
    p = Problem(
        ("M1", "M2", "M3"),
        (
            Order(
                "A",
                (op(Mode("M1", 1), Mode("M2", 1), Mode("M3", 1), max_lots=3, min_lot=2),),
                quantity=5,
            ),
        ),
    )
    s = dispatch(p, Rule.SPT)
    assert sorted(x.quantity for x in s.slots) == [2, 3]


def test_after_waits_for_the_other_order() -> None:
    # B needs A (M1, 4 ticks) first: B on idle M2 still starts at 4
    p = Problem(
        ("M1", "M2"),
        (Order("B", (one("M2", 1),), after=("A",)), Order("A", (one("M1", 4),))),
    )
    for rule in Rule:
        assert _slot(dispatch(p, rule), "B").start == 4


def test_nothing_starts_before_now_or_release() -> None:
    # now = 4: A (release 0) starts at 4; B (release 6) at 6
    p = Problem(
        ("M1", "M2"),
        (Order("A", (one("M1", 2),)), Order("B", (one("M2", 2),), release=6)),
        now=4,
    )
    s = dispatch(p, Rule.FIFO)
    assert (_slot(s, "A").start, _slot(s, "B").start) == (4, 6)


def test_fixed_slot_is_kept_and_blocks_its_machine() -> None:
    # A fixed on M1 [2,7). B (3 ticks) does not fit in [0,2) before it: B [7,10).
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 5),)), Order("B", (one("M1", 3),))),
        fixed=(Fixed("A/0", "M1", 2, 7),),
    )
    for rule in Rule:
        s = dispatch(p, rule)
        assert (_slot(s, "A").start, _slot(s, "A").end) == (2, 7)
        assert _slot(s, "B").start == 7
        assert violations(p, s) == []


def test_a_short_operation_fits_before_a_fixed_slot() -> None:
    # B (2 ticks) fits in [0,2) before A fixed on [2,7)
    p = Problem(
        ("M1",),
        (Order("A", (one("M1", 5),)), Order("B", (one("M1", 2),))),
        fixed=(Fixed("A/0", "M1", 2, 7),),
    )
    s = dispatch(p, Rule.SPT)
    assert (_slot(s, "B").start, _slot(s, "B").end) == (0, 2)


def test_cycle_in_after_names_the_orders() -> None:
    # A needs B, B needs A; C needs A so it is stuck too; D is free
    p = Problem(
        ("M1",),
        (
            Order("A", (one("M1", 1),), after=("B",)),
            Order("B", (one("M1", 1),), after=("A",)),
            Order("C", (one("M1", 1),), after=("A",)),
            Order("D", (one("M1", 1),)),
        ),
    )
    with pytest.raises(ProblemError, match="after") as info:
        dispatch(p, Rule.SPT)
    assert "A, B, C" in str(info.value)
    assert "D" not in str(info.value).split(":")[-1]


# --- feasibility on rich, random and benchmark problems ------------------------------------


@pytest.mark.parametrize("rule", list(Rule))
def test_every_rule_is_feasible_on_the_rich_problem(rule: Rule) -> None:
    p = rich_problem()
    s = dispatch(p, rule)
    assert violations(p, s) == []
    assert s.status is Status.HEURISTIC and s.method == rule.value


@pytest.mark.parametrize("rule", list(Rule))
def test_every_rule_is_feasible_on_random_problems(rule: Rule) -> None:
    for seed in range(25):
        p = random_problem(seed)
        assert violations(p, dispatch(p, rule)) == [], f"seed {seed}"


@pytest.mark.skipif(not FT06.exists() or not MK01.exists(), reason="shared data sets missing")
@pytest.mark.parametrize("rule", list(Rule))
def test_every_rule_is_feasible_on_ft06_and_mk01(rule: Rule) -> None:
    ft06 = read_instance(FT06, flexible=False)
    s = dispatch(ft06, rule)
    assert violations(ft06, s) == []
    assert s.makespan >= 55  # never below the proven optimum
    mk01 = read_instance(MK01, flexible=True)
    s = dispatch(mk01, rule)
    assert violations(mk01, s) == []
    assert s.makespan >= 40


# --- bugs -----------------------------------------------------------------------------------


@pytest.mark.parametrize("rule", list(Rule))
def test_changeover_after_a_fixed_slot(rule: Rule) -> None:
    # B (family b) fixed on M1 [0,5); A (family a) needs changeover b->a = 3: A at [8,13).
    p = Problem(
        ("M1",),
        (
            Order("A", (one("M1", 5),), family="a"),
            Order("B", (one("M1", 5),), family="b"),
        ),
        changeovers={("b", "a"): 3, ("a", "b"): 3},
        fixed=(Fixed("B/0", "M1", 0, 5),),
    )
    s = dispatch(p, rule)
    assert _slot(s, "A").start >= 8
    assert violations(p, s) == []


def test_pinned_second_operation_keeps_routing_order_under_lpt() -> None:
    # A: M1 5 then M2 5, with A/1 pinned on M2 [10,15). B: M1 20. LPT runs B first on M1
    # ([0,20)), so A/0 lands at [20,25), after its successor. A feasible schedule exists:
    # A/0 [0,5), B [5,25), A/1 [10,15) (CP-SAT finds it).
    p = Problem(
        ("M1", "M2"),
        (Order("A", (one("M1", 5), one("M2", 5))), Order("B", (one("M1", 20),))),
        fixed=(Fixed("A/1", "M2", 10, 15),),
    )
    assert violations(p, dispatch(p, Rule.LPT)) == []
