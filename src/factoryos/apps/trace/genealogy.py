"""Genealogy: what went into an item or lot (backward) and where an input went (forward),
through aggregation and transformation events, to any depth.

The edges are the identifiers events name, with their roles:

- a **transformation** turns its inputs (``input``, ``input_class``) into its outputs
  (``output``, ``output_class``): backward from an output to the inputs, forward the other way;
- an **aggregation** that adds or observes children in a parent (``parent``; ``child``,
  ``child_class``): backward from the parent (a case, a pallet) to its contents, forward from a
  content to its parent. A DELETE (unpacking) is not a genealogy edge.

The walk goes level by level (one store query per level), never visits an identifier twice
(cycles end), and stops at ``max_depth``. The logic is pure: it takes a function that gives the
links of a set of identifiers, so it is tested without a database.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from factoryos.apps.trace.errors import GenealogyError
from factoryos.store.epcis_events import Link

MAX_DEPTH = 100
MAX_NODES = 1_000_000  # a trace this wide is a modelling error, not a recall


class Direction(StrEnum):
    BACKWARD = "backward"  # what went into it
    FORWARD = "forward"  # where it went


# role the traced identifier has in an event → roles of the identifiers it leads to
_STEPS: dict[Direction, dict[str, tuple[str, ...]]] = {
    Direction.BACKWARD: {
        "output": ("input", "input_class"),
        "output_class": ("input", "input_class"),
        "parent": ("child", "child_class"),
    },
    Direction.FORWARD: {
        "input": ("output", "output_class"),
        "input_class": ("output", "output_class"),
        "child": ("parent",),
        "child_class": ("parent",),
    },
}
_EDGE_EVENTS = {"TransformationEvent": None, "AggregationEvent": ("ADD", "OBSERVE")}


@dataclass(frozen=True, slots=True)
class Step:
    """One edge of a trace: ``source`` led to ``target`` through event ``event_id``."""

    source: str
    target: str
    event_id: str
    event_type: str
    event_time_ns: int


@dataclass
class Trace:
    root: str
    direction: Direction
    depth: dict[str, int] = field(default_factory=dict)  # identifier → levels from the root
    steps: list[Step] = field(default_factory=list)
    truncated: bool = False  # stopped at max_depth: the last level was not followed further

    def found(self, level: int | None = None) -> list[str]:
        """Identifiers reached (not the root), or those exactly ``level`` steps away."""
        return [e for e, d in self.depth.items() if d > 0 and (level is None or d == level)]


Links = Callable[[Sequence[str], Sequence[str]], list[Link]]


def _counts(link: Link) -> bool:
    if link.event_type not in _EDGE_EVENTS:
        return False
    actions = _EDGE_EVENTS[link.event_type]
    return actions is None or link.action in actions


def _next_steps(links: list[Link], frontier: set[str], direction: Direction) -> list[Step]:
    by_event: dict[int, list[Link]] = {}
    for link in links:
        if _counts(link):
            by_event.setdefault(link.event, []).append(link)
    steps = []
    for rows in by_event.values():
        for here in (r for r in rows if r.epc in frontier):
            follow = _STEPS[direction].get(here.role, ())
            for there in (r for r in rows if r.role in follow):
                steps.append(
                    Step(here.epc, there.epc, there.event_id, there.event_type, there.event_time_ns)
                )
    return steps


def trace(links: Links, root: str, direction: Direction, max_depth: int = MAX_DEPTH) -> Trace:
    """Walk from ``root`` in ``direction`` over the links ``links`` gives."""
    if not 1 <= max_depth <= MAX_DEPTH:
        raise GenealogyError(f"max_depth: {max_depth} is not between 1 and {MAX_DEPTH}")
    result = Trace(root, direction, {root: 0})
    frontier = {root}
    roles = tuple(_STEPS[direction])
    for level in range(1, max_depth + 1):
        steps = _next_steps(links(sorted(frontier), roles), frontier, direction)
        result.steps += steps
        frontier = {s.target for s in steps if s.target not in result.depth}
        for epc in frontier:
            result.depth[epc] = level
        if not frontier:
            return result
        if len(result.depth) > MAX_NODES:
            raise GenealogyError(f"trace of {root}: more than {MAX_NODES} identifiers")
    result.truncated = True
    return result


__all__ = ["Direction", "Step", "Trace", "trace"]
