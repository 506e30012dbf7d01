"""Rescheduling on disruption: the problem to solve again, and what moved.

At the disruption's time ``now`` the shop floor has already started some of the plan: those
slots are frozen where they are. Slots starting within ``release_window`` after ``now`` are
**released** (material picked, operators told): the stability objective charges each tick
one of them moves, and its duration if it changes machine, so the new plan moves them only
when that pays. A breakdown interrupts the operation running on the machine: it restarts
after the repair (its work is planned again from the beginning).
"""

from collections.abc import Sequence
from dataclasses import dataclass, replace

from factoryos.apps.scheduling.errors import ProblemError
from factoryos.apps.scheduling.model import (
    Downtime,
    Fixed,
    Goal,
    Objective,
    Order,
    Problem,
    Schedule,
    Slot,
)


@dataclass(frozen=True, slots=True)
class Breakdown:
    machine: str
    start: int
    end: int  # expected end of the repair


@dataclass(frozen=True, slots=True)
class RushOrder:
    order: Order  # its release is at least the disruption's time


@dataclass(frozen=True, slots=True)
class LateMaterial:
    order: str
    release: int  # when the material now arrives


Disruption = Breakdown | RushOrder | LateMaterial


@dataclass(frozen=True, slots=True)
class Repair:
    """The problem to solve again and the released slots the stability term keeps."""

    problem: Problem
    released: tuple[Slot, ...]
    interrupted: tuple[Slot, ...]


@dataclass(frozen=True, slots=True)
class Move:
    """A lot that changed between two plans (``before`` or ``after`` None: added, dropped)."""

    op: str
    lot: int
    before: Slot | None
    after: Slot | None
    released: bool

    @property
    def shift(self) -> int:
        if self.before is None or self.after is None:
            return 0
        return self.after.start - self.before.start


def with_stability(goal: Goal, weight: int) -> Goal:
    """``goal`` with the stability term at ``weight`` (none at 0); a goal of stability
    alone also minimises the makespan, so that the rest of the plan stays tight."""
    terms = tuple(t for t in goal.terms if t[0] is not Objective.STABILITY)
    if weight > 0:
        terms = (*terms, (Objective.STABILITY, weight))
    if all(t[0] is Objective.STABILITY for t in terms):
        terms = ((Objective.MAKESPAN, 1), *terms)
    return Goal(terms, goal.lexicographic)


def _apply(problem: Problem, d: Disruption) -> Problem:
    if isinstance(d, Breakdown):
        if d.machine not in problem.machines:
            raise ProblemError(f"breakdown: unknown machine {d.machine!r}")
        if d.end <= d.start:
            raise ProblemError("breakdown: the repair must end after it starts")
        down = Downtime(d.machine, d.start, d.end, "breakdown")
        return replace(problem, downtime=(*problem.downtime, down))
    if isinstance(d, RushOrder):
        if any(o.id == d.order.id for o in problem.orders):
            raise ProblemError(f"rush order: order {d.order.id!r} already exists")
        return replace(problem, orders=(*problem.orders, d.order))
    orders = {o.id: o for o in problem.orders}
    if d.order not in orders:
        raise ProblemError(f"late material: unknown order {d.order!r}")
    late = replace(orders[d.order], release=max(orders[d.order].release, d.release))
    return replace(problem, orders=tuple(late if o.id == d.order else o for o in problem.orders))


def _interrupts(slot: Slot, d: Disruption) -> bool:
    return (
        isinstance(d, Breakdown)
        and slot.machine == d.machine
        and slot.start < d.end
        and slot.end > d.start
    )


def repair(
    problem: Problem,
    plan: Schedule,
    disruption: Disruption,
    now: int,
    *,
    release_window: int,
    stability_weight: int = 1,
) -> Repair:
    """The problem after ``disruption`` at ``now``, with the plan's started slots frozen.

    A late-material order's slots are never frozen or released: they cannot start yet."""
    changed = _apply(problem, disruption)
    late = disruption.order if isinstance(disruption, LateMaterial) else None
    # started on the machine and still running when it breaks down: restarts after repair
    interrupted = tuple(s for s in plan.slots if s.start < now and _interrupts(s, disruption))
    fixed_before = {(f.op, f.lot) for f in problem.fixed}
    frozen, released = [], []
    for s in plan.slots:
        if s.order == late or s in interrupted:
            continue
        if s.start < now or (s.op, s.lot) in fixed_before:
            frozen.append(Fixed(s.op, s.machine, s.start, s.end, s.lot, s.quantity))
        elif s.start < now + release_window and not _interrupts(s, disruption):
            released.append(s)
    goal = with_stability(changed.goal, stability_weight if released else 0)
    new = replace(changed, fixed=tuple(frozen), now=max(changed.now, now), goal=goal)
    return Repair(new, tuple(released), interrupted)


def moves(before: Schedule, after: Schedule, released: Sequence[Slot]) -> list[Move]:
    """Every lot whose machine or start differs between the plans, released ones first."""
    old = {(s.op, s.lot): s for s in before.slots}
    new = {(s.op, s.lot): s for s in after.slots}
    was_released = {(s.op, s.lot) for s in released}
    out = []
    for key in sorted(old.keys() | new.keys()):
        a, b = old.get(key), new.get(key)
        if a is not None and b is not None and (a.machine, a.start) == (b.machine, b.start):
            continue
        out.append(Move(key[0], key[1], a, b, key in was_released))
    out.sort(key=lambda m: (not m.released, m.op, m.lot))
    return out


__all__ = [
    "Breakdown",
    "Disruption",
    "LateMaterial",
    "Move",
    "Repair",
    "RushOrder",
    "moves",
    "repair",
    "with_stability",
]
