"""Where a machine is free: its downtime, what is placed on it and the family it last ran.

Pure functions shared by the dispatching rules (placing operations one by one) and the
solver's output (the changeover before each slot).
"""

import bisect
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace

from factoryos.apps.scheduling.model import Problem, Slot


def merged(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Overlapping or touching spans joined, in order."""
    out: list[tuple[int, int]] = []
    for a, b in sorted(spans):
        if out and a <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], b))
        else:
            out.append((a, b))
    return out


def changeovers_before(problem: Problem, slots: Iterable[Slot]) -> tuple[Slot, ...]:
    """``slots`` by machine and start, each with the changeover from the family the machine
    ran before it (its initial family for the first)."""
    family = {o.id: o.family for o in problem.orders}
    out: list[Slot] = []
    last: dict[str, str | None] = {}
    for s in sorted(slots, key=lambda s: (s.machine, s.start, s.end)):
        before = last.get(s.machine, problem.initial_family.get(s.machine))
        setup = problem.changeover(before, family[s.order]) if before else 0
        out.append(replace(s, setup=setup))
        last[s.machine] = family[s.order]
    return tuple(out)


@dataclass
class MachineLine:
    """One machine's time line for placing operations after the last one placed (no
    insertion), around its downtime and fixed slots, with the changeover from whatever
    ran just before."""

    down: list[tuple[int, int]]
    fixed: list[tuple[int, int, str]]  # (start, end, family) of slots fixed on the machine
    changeover: Callable[[str | None, str], int]  # (family before or None, family) → ticks
    free: int = 0
    family: str | None = None

    def __post_init__(self) -> None:
        spans = [*self.down, *((a, b) for a, b, _ in self.fixed)]
        self.blocked = merged(spans)  # disjoint, so a bisection finds the one that matters
        self._starts = [a for a, _ in self.blocked]
        self.fixed = sorted(self.fixed, key=lambda f: f[1])
        self._fixed_ends = [b for _, b, _ in self.fixed]

    def _clash(self, start: int, duration: int) -> int | None:
        """The end of the blocked span that overlaps ``[start, start + duration)``, if any."""
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        for a, b in self.blocked[i:]:
            if a >= start + duration:
                return None
            if b > start:
                return b
        return None

    def earliest(self, ready: int, duration: int, family: str) -> int:
        """The earliest start at or after ``ready`` such that ``[start, start + duration)``
        avoids every blocked span and follows the changeover from the slot before it (the
        last one placed, or a fixed slot ending after it)."""
        start = max(ready, self.free + self.changeover(self.family, family))
        while True:
            k = bisect.bisect_right(self._fixed_ends, start) - 1
            if k >= 0 and self.fixed[k][1] > self.free:
                _, end, before = self.fixed[k]
                start = max(start, end + self.changeover(before, family))
            clash = self._clash(start, duration)
            if clash is None:
                return start
            start = clash
