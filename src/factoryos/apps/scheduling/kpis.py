"""What a schedule achieves: the objectives and the figures a planner reads.

Pure functions of the problem and a schedule, so the solver's objective value, the rules'
comparison and the page's figures are the same numbers.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from factoryos.apps.scheduling.model import Goal, Objective, Problem, Schedule, Slot


@dataclass(frozen=True, slots=True)
class Kpis:
    makespan: int
    tardiness: int  # total weighted tardiness
    late: int  # orders finished after their due date
    setup: int  # changeovers plus per-lot setups
    utilisation: dict[str, float]  # machine → busy share of its available time in [now, makespan)


def moved(released: Sequence[Slot], schedule: Schedule) -> int:
    """The stability objective: ticks each released lot moved, plus its duration when it
    changed machine (a released lot that disappeared counts as a change of machine)."""
    placed = {(s.order, s.index, s.lot): s for s in schedule.slots}
    total = 0
    for r in released:
        s = placed.get((r.order, r.index, r.lot))
        if s is None:
            total += r.end - r.start
            continue
        total += abs(s.start - r.start) + (0 if s.machine == r.machine else r.end - r.start)
    return total


def _setup(problem: Problem, schedule: Schedule) -> int:
    per_lot = {(o.id, i, m.machine): m.setup for o, i, op in problem.operations() for m in op.modes}
    return sum(s.setup + per_lot[(s.order, s.index, s.machine)] for s in schedule.slots)


def _available(problem: Problem, machine: str, start: int, end: int) -> int:
    down = sorted(
        (max(d.start, start), min(d.end, end)) for d in problem.downtime if d.machine == machine
    )
    total, at = 0, start
    for a, b in down:
        if b <= at or a >= end:  # clipped away: outside [start, end)
            continue
        total += max(0, a - at)
        at = max(at, b)
    return total + max(0, end - at)


def kpis(problem: Problem, schedule: Schedule) -> Kpis:
    done = schedule.completion()
    tardiness = late = 0
    for o in problem.orders:
        if o.due is not None and o.id in done and done[o.id] > o.due:
            tardiness += o.weight * (done[o.id] - o.due)
            late += 1
    end = schedule.makespan
    util = {}
    for m in problem.machines:
        busy = sum(
            min(s.end, end) - max(s.start, problem.now)
            for s in schedule.slots
            if s.machine == m and s.end > problem.now
        )
        available = _available(problem, m, problem.now, end)
        util[m] = round(busy / available, 4) if available > 0 else 0.0
    return Kpis(end, tardiness, late, _setup(problem, schedule), util)


def objective_value(
    problem: Problem, schedule: Schedule, goal: Goal, released: Sequence[Slot] = ()
) -> tuple[int, ...]:
    """The goal's value: one number for a weighted sum, one per stage if lexicographic."""
    k = kpis(problem, schedule)
    value = {
        Objective.MAKESPAN: k.makespan,
        Objective.TARDINESS: k.tardiness,
        Objective.LATE: k.late,
        Objective.SETUP: k.setup,
        Objective.STABILITY: moved(released, schedule),
    }
    parts = tuple(w * value[obj] for obj, w in goal.terms)
    return parts if goal.lexicographic else (sum(parts),)
