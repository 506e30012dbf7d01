"""Genealogy: what went into an item or lot (backward) and where an input went (forward),
through aggregation and transformation events, to any depth.

An event makes edges from upstream to downstream identifiers (:func:`edges_of`, stored with
the event at capture):

- a **transformation** turns its inputs (``input``, ``input_class``) into its outputs
  (``output``, ``output_class``): an edge from every input to every output;
- an **aggregation** that adds or observes children in a parent (``parent``; ``child``,
  ``child_class``): an edge from every child to the parent (a case, a pallet). A DELETE
  (unpacking) is not a genealogy edge.

The walk goes level by level (one store query per level), never visits an identifier twice
(cycles end), and stops at ``max_depth``. The logic is pure: it takes a function that gives the
edges leaving a set of identifiers, so it is tested without a database.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from factoryos.apps.trace.errors import GenealogyError
from factoryos.store.epcis_events import Edge

MAX_DEPTH = 100
MAX_NODES = 1_000_000  # a trace this wide is a modelling error, not a recall


class Direction(StrEnum):
    BACKWARD = "backward"  # what went into it
    FORWARD = "forward"  # where it went


# event type → (upstream roles, downstream roles, actions that make edges; None: any)
_EDGES: dict[str, tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...] | None]] = {
    "TransformationEvent": (("input", "input_class"), ("output", "output_class"), None),
    "AggregationEvent": (("child", "child_class"), ("parent",), ("ADD", "OBSERVE")),
}


def edges_of(
    event_type: str, action: str | None, epcs: Sequence[tuple[str, str]]
) -> tuple[tuple[str, str], ...]:
    """The (upstream, downstream) edges of an event naming ``epcs`` as (role, identifier)."""
    if event_type not in _EDGES:
        return ()
    ups, downs, actions = _EDGES[event_type]
    if actions is not None and action not in actions:
        return ()
    sources = [epc for role, epc in epcs if role in ups]
    targets = [epc for role, epc in epcs if role in downs]
    return tuple(dict.fromkeys((u, d) for u in sources for d in targets if u != d))


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


Edges = Callable[[Sequence[str], bool], list[Edge]]
"""The edges leaving identifiers: downstream (``True``) or upstream."""


def _step(edge: Edge, direction: Direction) -> Step:
    here, there = (edge.source, edge.target)
    if direction is Direction.BACKWARD:
        here, there = there, here
    return Step(here, there, edge.event_id, edge.event_type, edge.event_time_ns)


def trace(edges: Edges, root: str, direction: Direction, max_depth: int = MAX_DEPTH) -> Trace:
    """Walk from ``root`` in ``direction`` over the edges ``edges`` gives."""
    if not 1 <= max_depth <= MAX_DEPTH:
        raise GenealogyError(f"max_depth: {max_depth} is not between 1 and {MAX_DEPTH}")
    result = Trace(root, direction, {root: 0})
    frontier = {root}
    for level in range(1, max_depth + 1):
        found = edges(sorted(frontier), direction is Direction.FORWARD)
        steps = [_step(edge, direction) for edge in found]
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


__all__ = ["Direction", "Edges", "Step", "Trace", "edges_of", "trace"]
