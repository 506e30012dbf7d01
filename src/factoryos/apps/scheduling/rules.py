"""Dispatching rules: instant schedules, the baselines the solver is compared with and the
schedule it starts from.

The schedule generation is Giffler and Thompson's for active schedules, extended to
alternative machines, downtime and changeovers: among the operations whose predecessors are
done, find the one that could finish first and its machine; every ready operation that
could start on that machine before then is in conflict, and the rule picks which goes
first. An operation allowed ``max_lots`` lots runs as that many even lots, which may
go to different machines; the next operation waits for all of them.
"""

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from factoryos.apps.scheduling.errors import ProblemError
from factoryos.apps.scheduling.model import Fixed, Mode, Order, Problem, Schedule, Slot, Status
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
    lot: int
    quantity: int
    mode: Mode
    start: int
    end: int


Key = Callable[[_Option], tuple[float, ...]]


def _remaining(order: Order, index: int) -> int:
    return sum(min(m.duration(order.quantity) for m in op.modes) for op in order.operations[index:])


def _key(rule: Rule, position: dict[str, int], pinned: dict[str, int]) -> Key:
    """The rule's priority; before it, operations of an order with a later operation fixed
    (pinned by the planner) go first, so that they are done before the pinned one starts."""

    def key(c: _Option) -> tuple[float, ...]:
        duration = c.mode.duration(c.quantity)
        due = float("inf") if c.order.due is None else c.order.due
        head: tuple[float, ...] = {
            Rule.SPT: (duration,),
            Rule.LPT: (-duration,),
            Rule.MWKR: (-_remaining(c.order, c.index),),
            Rule.EDD: (due, c.order.release),
            Rule.FIFO: (c.order.release,),
        }[rule]
        urgent = 0 if pinned.get(c.order.id, -1) > c.index else 1
        return (urgent, *head, position[c.order.id], c.index)

    return key


def lot_sizes(
    order: Order, index: int, fixed: dict[tuple[str, int], Fixed]
) -> list[tuple[int, int]]:
    """(lot, quantity) of the order's operation ``index`` as the rules run it: fixed lots keep
    their quantity; the rest of the quantity is split evenly over the other lots allowed
    (``max_lots``, each at least ``min_lot``)."""
    op = order.operations[index]
    if op.max_lots == 1:
        return [(0, order.quantity)]
    share = -(-order.quantity // op.max_lots)
    kept = {
        lot: (f.quantity or share)
        for (op_id, lot), f in fixed.items()
        if op_id == order.op_id(index)
    }
    rest = order.quantity - sum(kept.values())
    free = [lot for lot in range(op.max_lots) if lot not in kept]
    n = min(len(free), max(1, rest // max(1, op.min_lot))) if rest > 0 else 0
    sizes = [rest // n + (1 if i < rest % n else 0) for i in range(n)] if n else []
    return sorted([*kept.items(), *zip(free, sizes, strict=False)])


class _State:
    def __init__(self, problem: Problem) -> None:
        self.p = problem
        down: dict[str, list[tuple[int, int]]] = {m: [] for m in problem.machines}
        for d in problem.downtime:
            down[d.machine].append((d.start, d.end))
        self.fixed = {(f.op, f.lot): f for f in problem.fixed}
        family = {o.id: o.family for o in problem.orders}
        fixed: dict[str, list[tuple[int, int, str]]] = {m: [] for m in problem.machines}
        for f in problem.fixed:
            fixed[f.machine].append((f.start, f.end, family[f.op.rpartition("/")[0]]))

        def changeover(before: str | None, after: str) -> int:
            return problem.changeover(before, after) if before else 0

        self.lines = {
            m: MachineLine(
                down[m], fixed[m], changeover, problem.now, problem.initial_family.get(m)
            )
            for m in problem.machines
        }
        self.next = {o.id: 0 for o in problem.orders}
        self.pending = {o.id: lot_sizes(o, 0, self.fixed) for o in problem.orders}
        self.ready = {o.id: max(o.release, problem.now) for o in problem.orders}
        self.op_end = {o.id: 0 for o in problem.orders}
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
        lot, quantity = self.pending[order.id][0]
        out = []
        for mode in order.operations[index].modes:
            duration = mode.duration(quantity)
            start = self.lines[mode.machine].earliest(self.ready[order.id], duration, order.family)
            out.append(_Option(order, index, lot, quantity, mode, start, start + duration))
        return out

    def place(self, order: Order, machine: str, start: int, end: int) -> None:
        index = self.next[order.id]
        lot, quantity = self.pending[order.id].pop(0)
        self.slots.append(Slot(order.id, index, lot, machine, start, end, quantity))
        if (order.op_id(index), lot) not in self.fixed:
            line = self.lines[machine]
            line.free, line.family = end, order.family
        self.op_end[order.id] = max(self.op_end[order.id], end)
        if self.pending[order.id]:
            return  # the operation's next lot may start as soon as this one could
        self.ready[order.id], self.op_end[order.id] = self.op_end[order.id], 0
        self.next[order.id] = index + 1
        if index + 1 == len(order.operations):
            self.done[order.id] = self.ready[order.id]
        else:
            self.pending[order.id] = lot_sizes(order, index + 1, self.fixed)

    def place_fixed(self, order: Order) -> bool:
        """Place the order's next lot if it is fixed; True if it was."""
        lot, _ = self.pending[order.id][0]
        f = self.fixed.get((order.op_id(self.next[order.id]), lot))
        if f is None:
            return False
        self.place(order, f.machine, f.start, f.end)
        return True


def dispatch(problem: Problem, rule: Rule) -> Schedule:
    """The active schedule ``rule`` builds (sequence-dependent setups included)."""
    state = _State(problem)
    position = {o.id: n for n, o in enumerate(problem.orders)}
    pinned: dict[str, int] = {}  # order → index of its last fixed operation
    for f in problem.fixed:
        order_id, _, index = f.op.rpartition("/")
        pinned[order_id] = max(pinned.get(order_id, -1), int(index))
    key = _key(rule, position, pinned)
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
        best: dict[str, _Option] = {}  # an order offers the machine once
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
