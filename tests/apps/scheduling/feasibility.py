"""An independent feasibility checker for scheduling results (rules and CP-SAT alike).

It re-derives every rule of the model from the problem alone, without the engine's own
helpers (no ``timeline``, no ``Schedule.completion``), so a bug there cannot hide itself.
"""

import random

from factoryos.apps.scheduling.model import (
    Downtime,
    Fixed,
    Mode,
    Operation,
    Order,
    Problem,
    Schedule,
    Slot,
)


def violations(problem: Problem, schedule: Schedule) -> list[str]:
    """Every broken constraint, one line each; an empty list means feasible."""
    out: list[str] = []
    orders = {o.id: o for o in problem.orders}
    family = {o.id: o.family for o in problem.orders}
    fixed = {(f.op, f.lot): f for f in problem.fixed}

    by_op: dict[tuple[str, int], list[Slot]] = {}
    seen: set[tuple[str, int, int]] = set()
    for s in schedule.slots:
        if s.order not in orders or not 0 <= s.index < len(orders[s.order].operations):
            out.append(f"{s.op}#{s.lot}: no such operation")
            continue
        key = (s.order, s.index, s.lot)
        if key in seen:
            out.append(f"{s.op}#{s.lot}: placed twice")
        seen.add(key)
        by_op.setdefault((s.order, s.index), []).append(s)
        if s.machine not in problem.machines:
            out.append(f"{s.op}#{s.lot}: unknown machine {s.machine}")
        if s.end < s.start:
            out.append(f"{s.op}#{s.lot}: ends before it starts")
        if problem.horizon is not None and s.end > problem.horizon:
            out.append(f"{s.op}#{s.lot}: ends at {s.end}, after the horizon {problem.horizon}")

    completion: dict[str, int] = {}
    for s in schedule.slots:
        completion[s.order] = max(completion.get(s.order, s.end), s.end)

    for o in problem.orders:
        previous_end: int | None = None
        for i, op in enumerate(o.operations):
            lots = by_op.get((o.id, i), [])
            if not lots:
                out.append(f"{o.op_id(i)}: not scheduled")
                previous_end = None
                continue
            if len(lots) > op.max_lots:
                out.append(f"{o.op_id(i)}: {len(lots)} lots, at most {op.max_lots} allowed")
            if sum(s.quantity for s in lots) != o.quantity:
                out.append(f"{o.op_id(i)}: lot quantities do not add up to {o.quantity}")
            modes = {m.machine: m for m in op.modes}
            for s in lots:
                name = f"{s.op}#{s.lot}"
                f = fixed.get((s.op, s.lot))
                if s.quantity <= 0:
                    out.append(f"{name}: quantity {s.quantity}")
                if f is not None:
                    if (s.machine, s.start, s.end) != (f.machine, f.start, f.end):
                        out.append(f"{name}: fixed slot moved")
                    if f.quantity is not None and s.quantity != f.quantity:
                        out.append(f"{name}: fixed quantity changed")
                else:
                    if s.machine not in modes:
                        out.append(f"{name}: {s.machine} is not one of its machines")
                    elif s.end - s.start != modes[s.machine].duration(s.quantity):
                        out.append(f"{name}: lasts {s.end - s.start}, not its duration")
                    if s.start < problem.now:
                        out.append(f"{name}: starts at {s.start}, before now {problem.now}")
                    if len(lots) > 1 and s.quantity < op.min_lot:
                        out.append(f"{name}: lot of {s.quantity} below min_lot {op.min_lot}")
                if i == 0 and s.start < o.release:
                    out.append(f"{name}: starts before the release {o.release}")
                if i == 0:
                    for before in o.after:
                        if before in completion and s.start < completion[before]:
                            out.append(f"{name}: starts before {before} is finished")
                if previous_end is not None and s.start < previous_end:
                    out.append(f"{name}: starts before the previous operation ends")
            previous_end = max(s.end for s in lots)

    for f in problem.fixed:
        order, index = f.op.rsplit("/", 1)
        if (order, int(index), f.lot) not in seen:
            out.append(f"{f.op}#{f.lot}: fixed slot missing")

    for machine in problem.machines:
        line = sorted((s for s in schedule.slots if s.machine == machine), key=lambda s: s.start)
        initial = problem.initial_family.get(machine)
        for n, b in enumerate(line):
            b_fixed = (b.op, b.lot) in fixed
            before = family[line[n - 1].order] if n else initial
            gap = problem.changeover(before, family[b.order]) if before else 0
            if b.setup != gap:
                out.append(f"{b.op}#{b.lot}: reports setup {b.setup}, the changeover is {gap}")
            if b_fixed:
                continue
            if n == 0:
                if b.start < problem.now + gap:
                    out.append(f"{b.op}#{b.lot}: no time for the initial changeover {gap}")
                continue
            a = line[n - 1]
            if a.end <= b.start < a.end + gap:
                out.append(f"{machine}: changeover {gap} missing before {b.op}#{b.lot}")
        for n, a in enumerate(line):  # every pair: a long slot may cover several others
            for b in line[n + 1 :]:
                if b.start < a.end and a.start < b.end:
                    out.append(f"{machine}: {a.op}#{a.lot} and {b.op}#{b.lot} overlap")

    for d in problem.downtime:
        for s in schedule.slots:
            if s.machine == d.machine and s.start < d.end and d.start < s.end:
                out.append(f"{s.op}#{s.lot} overlaps downtime [{d.start}, {d.end}) of {d.machine}")
    return out


def op(*modes: Mode, max_lots: int = 1, min_lot: int = 1) -> Operation:
    return Operation(tuple(modes), max_lots=max_lots, min_lot=min_lot)


def one(machine: str, run: int, setup: int = 0) -> Operation:
    """An operation on a single machine."""
    return Operation((Mode(machine, run, setup),))


def rich_problem() -> Problem:
    """Every feature at once: alternatives with setups, lots, changeovers with an initial
    family, downtime (two overlapping spans), release, ``after``, a fixed slot before now,
    due dates and weights."""
    return Problem(
        machines=("M1", "M2", "M3"),
        orders=(
            Order(
                "A",
                (op(Mode("M1", 2, 1), Mode("M2", 3)), one("M3", 1)),
                quantity=4,
                due=20,
                family="a",
            ),
            Order(
                "B",
                (one("M1", 3), op(Mode("M2", 2), Mode("M3", 2, 1), max_lots=2)),
                quantity=2,
                release=2,
                due=15,
                family="b",
            ),
            Order(
                "C",
                (one("M2", 4), one("M1", 2)),
                due=30,
                weight=2,
                family="a",
                after=("A",),
            ),
            Order("D", (one("M3", 2),), quantity=3, family="x"),
            Order("E", (one("M1", 1), one("M3", 2)), quantity=2, release=5, family="b"),
        ),
        changeovers={("a", "b"): 3, ("b", "a"): 2},
        initial_family={"M1": "b"},
        downtime=(Downtime("M2", 5, 9), Downtime("M2", 8, 11), Downtime("M1", 20, 22)),
        fixed=(Fixed("D/0", "M3", 0, 6),),  # D started at 0: 3 units x 2 ticks
        now=1,
    )


def random_problem(seed: int) -> Problem:
    """A small random flexible job shop with lots, families, changeovers, downtime, release
    and ``after`` (no fixed slots)."""
    rng = random.Random(seed)
    machines = ("M1", "M2", "M3")
    orders = []
    for n in range(rng.randint(3, 5)):
        ops = []
        for _ in range(rng.randint(1, 3)):
            chosen = rng.sample(machines, rng.randint(1, 2))
            modes = tuple(Mode(m, rng.randint(1, 4), rng.choice([0, 0, 2])) for m in chosen)
            ops.append(Operation(modes, max_lots=rng.choice([1, 1, 2])))
        after = (f"O{n - 1}",) if n and rng.random() < 0.3 else ()
        orders.append(
            Order(
                f"O{n}",
                tuple(ops),
                quantity=rng.randint(1, 4),
                release=rng.choice([0, 0, 3]),
                due=rng.randint(5, 40),
                weight=rng.randint(1, 3),
                family=rng.choice("ab"),
                after=after,
            )
        )
    return Problem(
        machines,
        tuple(orders),
        changeovers={("a", "b"): rng.randint(0, 3), ("b", "a"): rng.randint(0, 3)},
        initial_family={"M1": "a"},
        downtime=(Downtime(rng.choice(machines), 4, 7), Downtime("M3", 12, 14)),
    )
