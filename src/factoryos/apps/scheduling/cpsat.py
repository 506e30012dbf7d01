"""The scheduling problem as an OR-Tools CP-SAT model, and its solution.

Each lot of an operation has a start and an end shared by one optional interval per mode
(the standard alternative-resource model); a machine's intervals and its downtime do not
overlap; sequence-dependent changeovers are a circuit over the machine's intervals whose
arcs force the gap. Objectives are linear expressions over those variables, minimised as a
weighted sum or one after another (each stage keeps the previous ones' best values).
"""

import itertools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ortools.sat.python import cp_model

from factoryos.apps.scheduling.errors import SchedulingError
from factoryos.apps.scheduling.model import (
    Objective,
    Operation,
    Order,
    Point,
    Problem,
    Schedule,
    Slot,
    Status,
)
from factoryos.apps.scheduling.timeline import changeovers_before, merged

Progress = Callable[[Point], None]
LotKey = tuple[str, int, int]  # order, operation index, lot


@dataclass(frozen=True)
class SolveOptions:
    """How long and how wide to search. ``hint`` warm-starts the search (and is the answer
    when no better schedule is found in time); ``released`` are the slots of the plan
    being repaired, which the stability objective keeps in place."""

    time_limit: float = 10.0
    workers: int = 2
    seed: int = 0
    hint: Schedule | None = None
    released: tuple[Slot, ...] = ()
    stop: threading.Event | None = None  # set it to end the search early with the best so far


@dataclass
class _Lot:
    present: cp_model.IntVar | int
    quantity: cp_model.IntVar | int
    start: cp_model.IntVar
    end: cp_model.IntVar
    modes: dict[str, cp_model.IntVar | int]  # machine → literal (or 1)
    setups: list[tuple[cp_model.IntVar | int, int]]  # (literal, per-lot setup ticks)


@dataclass
class _Node:
    """An interval on a machine for the changeover circuit."""

    literal: cp_model.IntVar | int
    start: cp_model.IntVar
    end: cp_model.IntVar
    family: str
    fixed: bool


@dataclass
class _Built:
    model: cp_model.CpModel
    lots: dict[LotKey, _Lot]
    objectives: dict[Objective, cp_model.LinearExprT]
    arcs: dict[str, dict[tuple[int, int], cp_model.IntVar]] = field(default_factory=dict)
    nodes: dict[str, list[LotKey]] = field(default_factory=dict)


def upper_horizon(problem: Problem) -> int:
    """A time by which every order can surely be done: everything in a row after the last
    release, fixed slot and downtime (each operation on its slowest mode, worst changeover)."""
    worst_change = max(problem.changeovers.values(), default=0)
    work = sum(
        max(m.duration(o.quantity) for m in op.modes)
        + op.max_lots * worst_change
        + max(m.setup for m in op.modes) * (op.max_lots - 1)
        for o, _, op in problem.operations()
    )
    latest = max(
        [problem.now]
        + [o.release for o in problem.orders]
        + [f.end for f in problem.fixed]
        + [d.end for d in problem.downtime]
    )
    return latest + work + worst_change


class _Builder:
    def __init__(self, problem: Problem, horizon: int) -> None:
        self.p = problem
        self.h = horizon
        self.m = cp_model.CpModel()
        self.lots: dict[LotKey, _Lot] = {}
        self.intervals: dict[str, list[cp_model.IntervalVar]] = {m: [] for m in problem.machines}
        self.nodes: dict[str, list[tuple[LotKey, _Node]]] = {m: [] for m in problem.machines}
        self.fixed = {(f.op, f.lot): f for f in problem.fixed}

    def build(self) -> _Built:
        ends: dict[str, cp_model.IntVar] = {}
        for order in self.p.orders:
            ends[order.id] = self._order(order)
        for order in self.p.orders:
            for before in order.after:
                for lot in self._first_lots(order):
                    self.m.add(lot.start >= ends[before])
        down: dict[str, list[tuple[int, int]]] = {}
        for d in self.p.downtime:
            down.setdefault(d.machine, []).append((d.start, d.end))
        for machine, spans in down.items():  # a breakdown may overlap a break: join them
            self.intervals[machine] += [
                self.m.new_fixed_size_interval_var(a, b - a, f"down {machine}")
                for a, b in merged(spans)
            ]
        for ivs in self.intervals.values():
            if len(ivs) > 1:
                self.m.add_no_overlap(ivs)
        built = _Built(self.m, self.lots, {})
        setup_terms = self._changeovers(built) if self.p.has_changeovers() else []
        built.objectives = self._objectives(ends, setup_terms)
        return built

    def _first_lots(self, order: Order) -> list[_Lot]:
        return [lot for (o, i, _), lot in self.lots.items() if o == order.id and i == 0]

    def _order(self, order: Order) -> cp_model.IntVar:
        """Variables of the order's lots; returns its completion time."""
        previous_end: cp_model.IntVar | None = None
        for index, op in enumerate(order.operations):
            lots = [self._lot(order, index, op, lot) for lot in range(op.max_lots)]
            if op.max_lots > 1:
                qty = [lot.quantity for lot in lots]
                self.m.add(sum(qty) == order.quantity)
                if not any((order.op_id(index), n) in self.fixed for n in range(op.max_lots)):
                    for a, b in itertools.pairwise(lots):  # decreasing sizes: no symmetric twins
                        self.m.add(a.quantity >= b.quantity)
            for lot in lots:
                if previous_end is not None:
                    self.m.add(lot.start >= previous_end)
                else:
                    self.m.add(lot.start >= order.release)
            if len(lots) == 1:
                previous_end = lots[0].end
            else:
                end = self.m.new_int_var(0, self.h, f"end {order.op_id(index)}")
                for lot in lots:
                    self.m.add(end >= lot.end).only_enforce_if(lot.present)
                previous_end = end
        assert previous_end is not None
        return previous_end

    def _lot(self, order: Order, index: int, op: Operation, lot: int) -> _Lot:
        key = (order.id, index, lot)
        name = f"{order.op_id(index)}#{lot}"
        fixed = self.fixed.get((order.op_id(index), lot))
        lo = 0 if fixed else max(self.p.now, order.release)
        # a release after the horizon leaves an empty domain: infeasible, not a model error
        start = self.m.new_int_var(lo, max(lo, self.h), f"s {name}")
        end = self.m.new_int_var(lo, max(lo, self.h), f"e {name}")
        self.m.add(end <= self.h)
        present: cp_model.IntVar | int = 1
        quantity: cp_model.IntVar | int = order.quantity
        if op.max_lots > 1:
            quantity = self.m.new_int_var(0, order.quantity, f"q {name}")
            if lot > 0:
                present = self.m.new_bool_var(f"p {name}")
                self.m.add(quantity >= op.min_lot).only_enforce_if(present)
                self.m.add(quantity == 0).only_enforce_if(~present)
            else:
                self.m.add(quantity >= min(op.min_lot, order.quantity))
        modes: dict[str, cp_model.IntVar | int] = {}
        setups: list[tuple[cp_model.IntVar | int, int]] = []
        single = len(op.modes) == 1
        literals = []
        for mode in op.modes:
            lit: cp_model.IntVar | int = (
                present if single else self.m.new_bool_var(f"{name}@{mode.machine}")
            )
            if not single:
                literals.append(lit)
            size = mode.setup + mode.run * quantity
            if isinstance(lit, int):
                iv = self.m.new_interval_var(start, size, end, f"i {name}@{mode.machine}")
            else:
                iv = self.m.new_optional_interval_var(
                    start, size, end, lit, f"i {name}@{mode.machine}"
                )
            self.intervals[mode.machine].append(iv)
            modes[mode.machine] = lit
            setups.append((lit, mode.setup))
            self.nodes[mode.machine].append(
                (key, _Node(lit, start, end, order.family, fixed is not None))
            )
        if not single:
            self.m.add(sum(literals) == present)
        if fixed is not None:
            self.m.add(start == fixed.start)
            self.m.add(end == fixed.end)
            if fixed.machine in modes and not isinstance(modes[fixed.machine], int):
                self.m.add(modes[fixed.machine] == 1)
            if fixed.quantity is not None and not isinstance(quantity, int):
                self.m.add(quantity == fixed.quantity)
        made = _Lot(present, quantity, start, end, modes, setups)
        self.lots[key] = made
        return made

    def _changeovers(self, built: _Built) -> list[cp_model.LinearExprT]:
        """Circuits forcing the changeover gaps; returns the changeover-time terms."""
        terms: list[cp_model.LinearExprT] = []
        for machine, nodes in self.nodes.items():
            families = {n.family for _, n in nodes}
            initial = self.p.initial_family.get(machine)
            if len(families | ({initial} if initial else set())) < 2:
                continue
            arcs: list[tuple[int, int, cp_model.IntVar]] = []
            by_arc: dict[tuple[int, int], cp_model.IntVar] = {}
            empty = self.m.new_bool_var(f"empty {machine}")
            arcs.append((0, 0, empty))
            for i, (_, a) in enumerate(nodes, start=1):
                first, last = self.m.new_bool_var(""), self.m.new_bool_var("")
                arcs += [(0, i, first), (i, 0, last)]
                by_arc[(0, i)], by_arc[(i, 0)] = first, last
                if not isinstance(a.literal, int):
                    arcs.append((i, i, ~a.literal))  # type: ignore[arg-type]
                gap = self.p.changeover(initial, a.family) if initial else 0
                if gap:  # a fixed first slot had its changeover already: count it, no constraint
                    if not a.fixed:
                        self.m.add(a.start >= self.p.now + gap).only_enforce_if(first)
                    terms.append(gap * first)
                for j, (_, b) in enumerate(nodes, start=1):
                    if i == j:
                        continue
                    lit = self.m.new_bool_var("")
                    arcs.append((i, j, lit))
                    by_arc[(i, j)] = lit
                    gap = self.p.changeover(a.family, b.family)
                    self.m.add(b.start >= a.end + gap).only_enforce_if(lit)
                    if gap:
                        terms.append(gap * lit)
            self.m.add_circuit(arcs)
            built.arcs[machine] = by_arc
            built.nodes[machine] = [k for k, _ in nodes]
        return terms

    def _objectives(
        self, ends: dict[str, cp_model.IntVar], setup_terms: list[cp_model.LinearExprT]
    ) -> dict[Objective, cp_model.LinearExprT]:
        m = self.m
        out: dict[Objective, cp_model.LinearExprT] = {}
        makespan = m.new_int_var(0, self.h, "makespan")
        m.add_max_equality(makespan, list(ends.values()))
        out[Objective.MAKESPAN] = makespan
        tardy, late = [], []
        for order in self.p.orders:
            if order.due is None:
                continue
            t = m.new_int_var(0, self.h, f"tardy {order.id}")
            m.add(t >= ends[order.id] - order.due)
            tardy.append(order.weight * t)
            is_late = m.new_bool_var(f"late {order.id}")
            m.add(ends[order.id] <= order.due).only_enforce_if(~is_late)
            late.append(is_late)
        out[Objective.TARDINESS] = sum(tardy)
        out[Objective.LATE] = sum(late)
        per_lot: list[cp_model.LinearExprT] = [
            s * lit for lot in self.lots.values() for lit, s in lot.setups if s
        ]
        out[Objective.SETUP] = cp_model.LinearExpr.sum([*setup_terms, *per_lot])
        return out


def _stability(built: _Built, released: Sequence[Slot], horizon: int) -> cp_model.LinearExprT:
    """Ticks each released lot moves, plus its duration if it changes machine."""
    terms: list[cp_model.LinearExprT] = []
    for slot in released:
        lot = built.lots.get((slot.order, slot.index, slot.lot))
        if lot is None:
            continue
        moved = built.model.new_int_var(0, horizon, f"moved {slot.op}#{slot.lot}")
        built.model.add_abs_equality(moved, lot.start - slot.start)
        terms.append(moved)
        same = lot.modes.get(slot.machine, 0)
        terms.append((slot.end - slot.start) * (1 - same))
    return sum(terms)


def _hint(built: _Built, hint: Schedule) -> None:
    m = built.model
    placed = {(s.order, s.index, s.lot): s for s in hint.slots}
    for key, lot in built.lots.items():
        slot = placed.get(key)
        if not isinstance(lot.present, int):
            m.add_hint(lot.present, slot is not None)
        if slot is None:
            continue
        m.add_hint(lot.start, slot.start)
        m.add_hint(lot.end, slot.end)
        if not isinstance(lot.quantity, int):
            m.add_hint(lot.quantity, slot.quantity)
        for machine, lit in lot.modes.items():
            if not isinstance(lit, int):
                m.add_hint(lit, machine == slot.machine)
    for machine, arcs in built.arcs.items():
        keys = built.nodes[machine]
        where = {k: i for i, k in enumerate(keys, start=1)}
        on = sorted(
            (s for s in hint.slots if s.machine == machine and (s.order, s.index, s.lot) in where),
            key=lambda s: s.start,
        )
        seq = [where[(s.order, s.index, s.lot)] for s in on]
        chosen = set(zip([0, *seq], [*seq, 0], strict=True)) if seq else set()
        for arc, lit in arcs.items():
            m.add_hint(lit, arc in chosen)


class _Watcher(cp_model.CpSolverSolutionCallback):
    def __init__(self, progress: Progress | None, stop: threading.Event | None) -> None:
        super().__init__()
        self.progress, self.stop = progress, stop
        self.trace: list[Point] = []
        self.t0 = time.monotonic()

    def on_solution_callback(self) -> None:
        point = Point(time.monotonic() - self.t0, self.objective_value, self.best_objective_bound)
        self.trace.append(point)
        if self.progress is not None:
            self.progress(point)
        if self.stop is not None and self.stop.is_set():
            self.stop_search()


def _slots(problem: Problem, built: _Built, solver: cp_model.CpSolver) -> tuple[Slot, ...]:
    out = []
    for (order, index, lot_no), lot in built.lots.items():
        if not isinstance(lot.present, int) and not solver.boolean_value(lot.present):
            continue
        machine = next(
            mc for mc, lit in lot.modes.items() if isinstance(lit, int) or solver.boolean_value(lit)
        )
        qty = lot.quantity if isinstance(lot.quantity, int) else solver.value(lot.quantity)
        out.append(
            Slot(order, index, lot_no, machine, solver.value(lot.start), solver.value(lot.end), qty)
        )
    return changeovers_before(problem, out)


def _solve_stoppable(
    solver: cp_model.CpSolver,
    model: cp_model.CpModel,
    watcher: _Watcher,
    stop: threading.Event | None,
) -> Any:
    """``solver.solve``; setting ``stop`` ends the search at once (not only at the next
    solution found), keeping the best schedule so far."""
    if stop is None:
        return solver.solve(model, watcher)
    done = threading.Event()

    def watch() -> None:
        while not done.is_set():
            if stop.wait(0.1):
                solver.stop_search()
                return

    guard = threading.Thread(target=watch, daemon=True)
    guard.start()
    try:
        return solver.solve(model, watcher)
    finally:
        done.set()
        guard.join()


def solve(
    problem: Problem, options: SolveOptions = SolveOptions(), progress: Progress | None = None
) -> Schedule | None:
    """The best schedule CP-SAT finds in the time limit, or None when it proves there is none
    (:func:`~.explain.explain` says why). With no schedule found in time, the hint is returned."""
    horizon = problem.horizon if problem.horizon is not None else upper_horizon(problem)
    terms = problem.goal.terms
    built = _Builder(problem, horizon).build()
    if options.released:
        built.objectives[Objective.STABILITY] = _stability(built, options.released, horizon)
    elif any(obj is Objective.STABILITY for obj, _ in terms):
        raise SchedulingError("the stability objective needs the released plan to keep")
    if options.hint is not None:
        _hint(built, options.hint)
    stages = [[t] for t in terms] if problem.goal.lexicographic else [list(terms)]
    t0 = time.monotonic()
    watcher = _Watcher(progress, options.stop)
    result = None
    for n, stage in enumerate(stages):
        expr = sum(w * built.objectives[obj] for obj, w in stage)
        built.model.minimize(expr)
        solver = cp_model.CpSolver()
        left = options.time_limit - (time.monotonic() - t0)
        solver.parameters.max_time_in_seconds = max(0.1, left / (len(stages) - n))
        solver.parameters.num_workers = options.workers
        solver.parameters.random_seed = options.seed
        # Stronger no-overlap reasoning: on ft10 with 2 workers it proves the optimum in 2-3 s
        # instead of not within 15 s (docs/scheduling.md, "Solver settings").
        solver.parameters.use_strong_propagation_in_disjunctive = True
        status = _solve_stoppable(solver, built.model, watcher, options.stop)
        if status == cp_model.INFEASIBLE:
            return None
        if status == cp_model.MODEL_INVALID:
            raise SchedulingError(f"internal model error: {built.model.validate()}")
        if status not in (cp_model.OPTIMAL, cp_model.FEASIBLE):
            break  # no schedule in time: keep what the earlier stages (or the hint) gave
        slots = _slots(problem, built, solver)
        optimal = status == cp_model.OPTIMAL
        result = Schedule(
            slots,
            Status.OPTIMAL if optimal and n == len(stages) - 1 else Status.FEASIBLE,
            "cp-sat",
            objective=solver.objective_value,
            bound=solver.best_objective_bound,
            seconds=time.monotonic() - t0,
            trace=tuple(watcher.trace),
        )
        if n < len(stages) - 1:  # keep this stage's value; start the next from this schedule
            built.model.add(expr <= round(solver.objective_value))
            built.model.clear_hints()  # type: ignore[no-untyped-call]
            _hint(built, result)
    if result is None:
        return options.hint
    return result


__all__ = ["SolveOptions", "solve", "upper_horizon"]
