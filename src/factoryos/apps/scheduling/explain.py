"""Why a problem has no schedule, in the planner's words.

Checked before solving (cheap, and each names the order, step and machine): an operation no
machine can do, an order waiting for itself, an operation longer than every stretch of
available time on its machines, fixed slots that collide, and orders whose shortest path
does not fit before the horizon. When CP-SAT still proves infeasibility, the machines whose
work cannot fit in their available time are named.
"""

import itertools
from collections.abc import Iterator

from factoryos.apps.scheduling.model import Order, Problem
from factoryos.apps.scheduling.timeline import merged


def _hm(ticks: int, unit: str) -> str:
    if unit != "s":
        return f"{ticks}"
    h, m = divmod(round(ticks / 60), 60)
    return f"{h} h {m:02d} min" if h else f"{m} min"


def free_stretches(problem: Problem, machine: str, start: int, end: int) -> list[tuple[int, int]]:
    """The machine's available spans in ``[start, end)`` (its downtime and fixed slots cut)."""
    blocked = [(d.start, d.end) for d in problem.downtime if d.machine == machine]
    blocked += [(f.start, f.end) for f in problem.fixed if f.machine == machine]
    out, at = [], start
    for a, b in merged(blocked):
        if b <= at:
            continue
        if a > at:
            out.append((at, min(a, end)))
        at = max(at, b)
        if at >= end:
            break
    if at < end:
        out.append((at, end))
    return [(a, b) for a, b in out if b > a]


def find_cycles(graph: dict[str, list[str]]) -> list[list[str]]:
    """Each cycle of ``graph`` (node → nodes it waits for) once, as a list of nodes."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []
    out: list[list[str]] = []

    def visit(n: str) -> None:
        state[n] = 1
        stack.append(n)
        for m in graph.get(n, []):
            if state.get(m) == 1:
                out.append(stack[stack.index(m) :])
            elif m not in state:
                visit(m)
        stack.pop()
        state[n] = 2

    for n in graph:
        if n not in state:
            visit(n)
    return out


def _cycles(problem: Problem) -> Iterator[str]:
    graph = {o.id: list(o.after) for o in problem.orders}
    for cycle in find_cycles(graph):
        yield "orders wait for each other: " + " → ".join([*cycle, cycle[0]])


def _smallest_lot(order: Order, index: int) -> int:
    op = order.operations[index]
    return -(-order.quantity // op.max_lots)


def _too_long(problem: Problem, horizon: int, unit: str) -> Iterator[str]:
    longest: dict[str, int] = {}
    for m in problem.machines:
        spans = free_stretches(problem, m, problem.now, horizon)
        longest[m] = max((b - a for a, b in spans), default=0)
    for order, i, op in problem.operations():
        if f"{order.id}/{i}" in {f.op for f in problem.fixed}:
            continue
        if not op.modes:
            yield f"{order.id} step {i + 1}: no machine can do it"
            continue
        qty = _smallest_lot(order, i)
        if all(m.duration(qty) > longest.get(m.machine, 0) for m in op.modes):
            best = min(op.modes, key=lambda m: m.duration(qty))
            yield (
                f"{order.id} step {i + 1}{' (' + op.name + ')' if op.name else ''}: "
                f"{qty} units need {_hm(best.duration(qty), unit)} on {best.machine}, but the "
                f"longest uninterrupted time any of its machines ({', '.join(op.machines())}) "
                f"is available is {_hm(max(longest.get(m, 0) for m in op.machines()), unit)}"
                + (
                    "; allow lot splitting (max_lots) or lengthen the shifts"
                    if op.max_lots == 1
                    else ""
                )
            )


def _fixed_collisions(problem: Problem) -> Iterator[str]:
    by_machine: dict[str, list[tuple[int, int, str]]] = {}
    for f in problem.fixed:
        by_machine.setdefault(f.machine, []).append((f.start, f.end, f"{f.op}#{f.lot}"))
    for d in problem.downtime:
        by_machine.setdefault(d.machine, []).append((d.start, d.end, d.reason))
    fixed_names = {f"{f.op}#{f.lot}" for f in problem.fixed}
    for machine, spans in by_machine.items():
        spans.sort()
        for (_, b, x), (c, _, y) in itertools.pairwise(spans):
            if c < b and (x in fixed_names or y in fixed_names):
                first, other = (x, y) if x in fixed_names else (y, x)
                yield f"on {machine}, fixed {first} overlaps {other}"


def _fixed_durations(problem: Problem, unit: str) -> Iterator[str]:
    orders = {o.id: o for o in problem.orders}
    for f in problem.fixed:
        order_id, _, index = f.op.rpartition("/")
        order = orders.get(order_id)
        if order is None or not index.isdigit() or int(index) >= len(order.operations):
            yield f"fixed {f.op}: no such operation"
            continue
        op = order.operations[int(index)]
        mode = next((m for m in op.modes if m.machine == f.machine), None)
        if mode is None:
            yield f"fixed {f.op}: it cannot run on {f.machine} ({', '.join(op.machines())} can)"
            continue
        quantity = f.quantity if f.quantity is not None else order.quantity
        if op.max_lots == 1 and mode.duration(quantity) != f.end - f.start:
            yield (
                f"fixed {f.op} on {f.machine} lasts {_hm(f.end - f.start, unit)}, but "
                f"{quantity} units take {_hm(mode.duration(quantity), unit)} there"
            )


def _fixed_too_early(problem: Problem, unit: str) -> Iterator[str]:
    """A fixed lot that starts before its order's earlier steps can be done."""
    fixed: dict[str, list[tuple[int, int]]] = {}
    for f in problem.fixed:
        fixed.setdefault(f.op, []).append((f.start, f.end))
    for order in problem.orders:
        ready = order.release  # the earliest the next step can start
        for i, op in enumerate(order.operations):
            spans = fixed.get(order.op_id(i))
            if spans:
                start = min(a for a, _ in spans)
                if start < ready:
                    yield (
                        f"fixed {order.op_id(i)} starts at {_hm(start, unit)}, but the steps "
                        f"before it cannot be done before {_hm(ready, unit)} (times from the "
                        "plan's start)"
                    )
                ready = max(b for _, b in spans)
            elif op.modes:
                begin = max(ready, problem.now)
                ready = begin + min(m.duration(_smallest_lot(order, i)) for m in op.modes)


def _late_for_horizon(problem: Problem, horizon: int, unit: str) -> Iterator[str]:
    for order in problem.orders:
        path = sum(
            min(m.duration(_smallest_lot(order, i)) for m in op.modes)
            for i, op in enumerate(order.operations)
            if op.modes
        )
        start = max(order.release, problem.now)
        if start + path > horizon:
            yield (
                f"{order.id} needs at least {_hm(path, unit)} after it can start, "
                f"more than the horizon leaves ({_hm(max(0, horizon - start), unit)})"
            )


def explain(problem: Problem, horizon: int, unit: str = "s") -> list[str]:
    """Reasons the problem cannot be scheduled by ``horizon`` (empty: none found up front).

    ``unit`` "s" writes durations as hours and minutes; anything else as plain ticks."""
    return [
        *_cycles(problem),
        *_fixed_durations(problem, unit),
        *_fixed_collisions(problem),
        *_fixed_too_early(problem, unit),
        *_too_long(problem, horizon, unit),
        *_late_for_horizon(problem, horizon, unit),
    ]


def overloaded(problem: Problem, horizon: int, unit: str = "s") -> list[str]:
    """Machines whose single-choice work exceeds their available time before ``horizon``:
    the usual reason left when :func:`explain` finds nothing."""
    need: dict[str, int] = {}
    for order, _, op in problem.operations():
        if len(op.modes) == 1:
            m = op.modes[0]
            need[m.machine] = need.get(m.machine, 0) + m.duration(order.quantity)
    out = []
    for machine, work in sorted(need.items()):
        free = sum(b - a for a, b in free_stretches(problem, machine, problem.now, horizon))
        if work > free:
            out.append(
                f"{machine} has {_hm(work, unit)} of work that only it can do, "
                f"but only {_hm(free, unit)} available before the horizon"
            )
    return out or [
        "the orders do not all fit before the horizon with these calendars, fixed slots and "
        "precedences; lengthen the horizon or release frozen operations"
    ]
