"""Dispatching rules: instant schedules, the baselines the solver is compared with and the
schedule it starts from.

The schedule generation is Giffler and Thompson's for active schedules, extended to
alternative machines, downtime and changeovers: among the operations whose predecessors are
done, find the one that could finish first and its machine; every ready operation that
could start on that machine before then is in conflict, and the rule picks which goes
first. Rules do not split lots: each operation runs its whole quantity at once.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from factoryos.apps.scheduling.errors import ProblemError
from factoryos.apps.scheduling.model import Mode, Order, Problem, Schedule, Slot, Status
from factoryos.apps.scheduling.timeline import MachineLine, changeovers_before


class Rule(StrEnum):
    SPT = "spt"  # shortest processing time first
    LPT = "lpt"  # longest processing time first
    MWKR = "mwkr"  # most work remaining in the order first
    EDD = "edd"  # earliest due date first
    FIFO = "fifo"  # earliest released order first


@dataclass(frozen=True, slots=True)
class _Option:
    """A ready operation on one of its machines: when it would start and end."""

    order: Order
    index: int
    mode: Mode
    start: int
    end: int


Key = Callable[[_Option], tuple[float, ...]]


def _remaining(order: Order, index: int) -> int:
    return sum(min(m.duration(order.quantity) for m in op.modes) for op in order.operations[index:])


def _key(rule: Rule, position: dict[str, int]) -> Key:
    def key(c: _Option) -> tuple[float, ...]:
        duration = c.mode.duration(c.order.quantity)
        due = float("inf") if c.order.due is None else c.order.due
        head: tuple[float, ...] = {
            Rule.SPT: (duration,),
            Rule.LPT: (-duration,),
            Rule.MWKR: (-_remaining(c.order, c.index),),
            Rule.EDD: (due, c.order.release),
            Rule.FIFO: (c.order.release,),
        }[rule]
        return (*head, position[c.order.id], c.index)

    return key


class _State:
    def __init__(self, problem: Problem) -> None:
        self.p = problem
        blocked: dict[str, list[tuple[int, int]]] = {m: [] for m in problem.machines}
        for d in problem.downtime:
            blocked[d.machine].append((d.start, d.end))
        self.fixed = {(f.op, f.lot): f for f in problem.fixed}
        for f in problem.fixed:
            blocked[f.machine].append((f.start, f.end))
        self.lines = {
            m: MachineLine(b, problem.now, problem.initial_family.get(m))
            for m, b in blocked.items()
        }
        self.next = {o.id: 0 for o in problem.orders}
        self.ready = {o.id: max(o.release, problem.now) for o in problem.orders}
        self.done: dict[str, int] = {}
        self.slots: list[Slot] = []

    def eligible(self) -> list[Order]:
        out = []
        for o in self.p.orders:
            if o.id in self.done or not all(a in self.done for a in o.after):
                continue
            if self.next[o.id] == 0:
                self.ready[o.id] = max([self.ready[o.id], *(self.done[a] for a in o.after)])
            out.append(o)
        return out

    def options(self, order: Order) -> list[_Option]:
        index = self.next[order.id]
        out = []
        for mode in order.operations[index].modes:
            line = self.lines[mode.machine]
            gap = self.p.changeover(line.family, order.family) if line.family else 0
            duration = mode.duration(order.quantity)
            start = line.earliest(self.ready[order.id], duration, gap)
            out.append(_Option(order, index, mode, start, start + duration))
        return out

    def place(self, order: Order, machine: str, start: int, end: int) -> None:
        index = self.next[order.id]
        self.slots.append(Slot(order.id, index, 0, machine, start, end, order.quantity))
        if (order.op_id(index), 0) not in self.fixed:
            line = self.lines[machine]
            line.free, line.family = end, order.family
        self.ready[order.id] = end
        self.next[order.id] = index + 1
        if index + 1 == len(order.operations):
            self.done[order.id] = end

    def place_fixed(self, order: Order) -> bool:
        """Place the order's next operation if it is fixed; True if it was."""
        f = self.fixed.get((order.op_id(self.next[order.id]), 0))
        if f is None:
            return False
        self.place(order, f.machine, f.start, f.end)
        return True


def dispatch(problem: Problem, rule: Rule) -> Schedule:
    """The active schedule ``rule`` builds (sequence-dependent setups included)."""
    if any(f.lot > 0 for f in problem.fixed):
        raise ProblemError("dispatching rules do not split lots: a fixed lot > 0 needs the solver")
    state = _State(problem)
    position = {o.id: n for n, o in enumerate(problem.orders)}
    key = _key(rule, position)
    while True:
        orders = state.eligible()
        if not orders:
            break
        if any(state.place_fixed(o) for o in orders):
            continue
        options = [opt for o in orders for opt in state.options(o)]
        first = min(options, key=lambda c: (c.end, c.start, position[c.order.id]))
        machine = first.mode.machine
        conflict = [c for c in options if c.mode.machine == machine and c.start < first.end]
        best: dict[str, _Option] = {}  # an order may offer the machine once
        for c in conflict:
            best.setdefault(c.order.id, c)
        chosen = min(best.values(), key=key)
        state.place(chosen.order, machine, chosen.start, chosen.end)
    if len(state.done) < len(problem.orders):
        stuck = sorted(o.id for o in problem.orders if o.id not in state.done)
        raise ProblemError(f"orders never become ready (a cycle in 'after'?): {', '.join(stuck)}")
    slots = changeovers_before(problem, state.slots)
    return Schedule(slots, Status.HEURISTIC, rule.value)


__all__ = ["Rule", "dispatch"]
