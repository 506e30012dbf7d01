"""Where a machine is free: its downtime, what is placed on it and the family it last ran.

Pure functions shared by the dispatching rules (placing operations one by one) and the
solver's output (the changeover before each slot).
"""

import bisect
from collections.abc import Iterable
from dataclasses import dataclass, field, replace

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
    """One machine's time line for placing operations at its end (no insertion)."""

    blocked: list[tuple[int, int]] = field(default_factory=list)  # downtime and fixed slots
    free: int = 0
    family: str | None = None

    def __post_init__(self) -> None:
        self.blocked = merged(self.blocked)  # disjoint, so a bisection finds the one that matters
        self._starts = [a for a, _ in self.blocked]

    def earliest(self, ready: int, duration: int, gap: int) -> int:
        """The earliest start at or after ``ready`` and ``gap`` after the machine frees up
        such that ``[start, start + duration)`` avoids every blocked interval."""
        start = max(ready, self.free + gap)
        i = max(0, bisect.bisect_right(self._starts, start) - 1)
        while i < len(self.blocked):
            a, b = self.blocked[i]
            if b <= start:
                i += 1
                continue
            if a >= start + duration:
                break
            start = max(start, b)
            i += 1
        return start
