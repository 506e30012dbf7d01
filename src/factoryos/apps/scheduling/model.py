"""The scheduling problem and its solution, as plain data.

Times are integer **ticks** from the problem's origin: minutes for a plant's problem (the
problem file converts dates), plain units for benchmark instances. Every duration is a whole
number of ticks (the problem file rounds run times up).

An order runs its routing's operations in sequence; each operation is done on one of its
**modes** (a machine with its own setup and run time per unit); with ``max_lots > 1`` its
quantity may be split into up to that many lots, each on any of the modes, the next
operation starting once every lot is done. Machines are unavailable during their
**downtime** (no shift, holidays, maintenance windows); an operation is not interrupted, so
it must fit between two downtimes. **Changeovers** are sequence-dependent setups between
product families on the same machine. An order may need other orders first (a
sub-assembly feeding an assembly). **Frozen** operations are already started or pinned:
their machine and times are fixed.
"""

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum


@dataclass(frozen=True, slots=True)
class Mode:
    """One way to do an operation: on ``machine``, ``setup`` ticks once per lot, then
    ``run`` ticks per unit."""

    machine: str
    run: int
    setup: int = 0

    def duration(self, quantity: int) -> int:
        return self.setup + self.run * quantity


@dataclass(frozen=True, slots=True)
class Operation:
    """Step ``index`` (0-based) of an order's routing."""

    modes: tuple[Mode, ...]
    max_lots: int = 1
    min_lot: int = 1
    name: str = ""

    def machines(self) -> list[str]:
        return [m.machine for m in self.modes]


@dataclass(frozen=True, slots=True)
class Order:
    """A quantity of ``product`` to make between ``release`` and ``due``."""

    id: str
    operations: tuple[Operation, ...]
    quantity: int = 1
    release: int = 0
    due: int | None = None
    weight: int = 1
    product: str = ""
    family: str = ""
    after: tuple[str, ...] = ()  # orders that must be finished before this one starts

    def op_id(self, index: int) -> str:
        return f"{self.id}/{index}"


@dataclass(frozen=True, slots=True)
class Downtime:
    """``machine`` cannot work in ``[start, end)``."""

    machine: str
    start: int
    end: int
    reason: str = "unavailable"


@dataclass(frozen=True, slots=True)
class Fixed:
    """Operation ``op`` (``order/index``) fixed on ``machine`` in ``[start, end)``: started
    on the shop floor, or pinned by the planner. ``lot`` numbers the lots of a split one."""

    op: str
    machine: str
    start: int
    end: int
    lot: int = 0
    quantity: int | None = None


class Objective(StrEnum):
    MAKESPAN = "makespan"
    TARDINESS = "tardiness"  # total weighted tardiness
    LATE = "late"  # number of late orders
    SETUP = "setup"  # total setup and changeover time
    STABILITY = "stability"  # moves of released operations (rescheduling)


@dataclass(frozen=True, slots=True)
class Goal:
    """What to minimise: ``terms`` (objective, weight) summed, or — ``lexicographic`` —
    one after the other, each keeping the best value of those before it."""

    terms: tuple[tuple[Objective, int], ...] = ((Objective.MAKESPAN, 1),)
    lexicographic: bool = False


@dataclass(frozen=True)
class Problem:
    machines: tuple[str, ...]
    orders: tuple[Order, ...]
    changeovers: Mapping[tuple[str, str], int] = field(default_factory=dict)
    initial_family: Mapping[str, str] = field(default_factory=dict)  # machine → last family
    downtime: tuple[Downtime, ...] = ()
    fixed: tuple[Fixed, ...] = ()
    now: int = 0  # nothing that is not fixed starts before now
    horizon: int | None = None  # every order must end by then (None: no limit)
    goal: Goal = Goal()

    def order(self, order_id: str) -> Order:
        for o in self.orders:
            if o.id == order_id:
                return o
        raise KeyError(order_id)

    def operations(self) -> Iterator[tuple[Order, int, Operation]]:
        for o in self.orders:
            for i, op in enumerate(o.operations):
                yield o, i, op

    def changeover(self, before: str, after: str) -> int:
        return 0 if before == after else self.changeovers.get((before, after), 0)

    def has_changeovers(self) -> bool:
        return any(v > 0 for v in self.changeovers.values())


@dataclass(frozen=True, slots=True)
class Slot:
    """A lot of an operation placed on a machine in ``[start, end)``; ``setup`` ticks of
    changeover from the machine's previous family end at ``start``."""

    order: str
    index: int
    lot: int
    machine: str
    start: int
    end: int
    quantity: int
    setup: int = 0

    @property
    def op(self) -> str:
        return f"{self.order}/{self.index}"


class Status(StrEnum):
    OPTIMAL = "optimal"
    FEASIBLE = "feasible"
    HEURISTIC = "heuristic"  # a dispatching rule's schedule


@dataclass(frozen=True, slots=True)
class Point:
    """Search progress: after ``seconds``, the best ``objective`` found and the ``bound``."""

    seconds: float
    objective: float
    bound: float


@dataclass(frozen=True)
class Schedule:
    slots: tuple[Slot, ...]
    status: Status
    method: str  # "cp-sat", or the dispatching rule
    objective: float | None = None
    bound: float | None = None
    seconds: float = 0.0
    trace: tuple[Point, ...] = ()

    def by_op(self) -> dict[str, list[Slot]]:
        out: dict[str, list[Slot]] = {}
        for s in self.slots:
            out.setdefault(s.op, []).append(s)
        return out

    def completion(self) -> dict[str, int]:
        """Each order's completion time."""
        out: dict[str, int] = {}
        for s in self.slots:
            out[s.order] = max(out.get(s.order, s.end), s.end)
        return out

    @property
    def makespan(self) -> int:
        return max((s.end for s in self.slots), default=0)


__all__ = [
    "Downtime",
    "Fixed",
    "Goal",
    "Mode",
    "Objective",
    "Operation",
    "Order",
    "Point",
    "Problem",
    "Schedule",
    "Slot",
    "Status",
]
