"""Genealogy: what went into an item or lot (backward) and where an input went (forward),
through aggregation and transformation events, to any depth.

An event makes edges from upstream to downstream identifiers (:func:`edges_of`, stored with
the event at capture):

- a **transformation** turns its inputs (``input``, ``input_class``) into its outputs
  (``output``, ``output_class``): an edge from every input to every output;
- an **aggregation** that adds or observes children in a parent (``parent``; ``child``,
  ``child_class``): an edge from every child to the parent (a case, a pallet). A DELETE
  (unpacking) is not a genealogy edge.

The walk goes level by level, never visits an identifier twice (cycles end), and stops at
``max_depth``. The logic is pure: it takes a function that gives the edges leaving a set of
identifiers, so it is tested without a database; against the store that function is
:meth:`EpcisEvents.genealogy`, which reads a wide level's runs of consecutive serials or lots
as index ranges (one query per level).
"""

import gc
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from enum import StrEnum

from factoryos.apps.trace.errors import GenealogyError
from factoryos.store.epcis_events import Edge, EdgesLeaving, EpcisEvents

MAX_DEPTH = 100
MAX_NODES = 1_000_000  # a trace this wide is a modelling error, not a recall
MAX_EDGES = 2 * MAX_NODES  # edges one walk may fetch from the store


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


Step = Edge
"""One edge of a trace, oriented the way the walk went: ``source`` led to ``target`` through
event ``event_id`` (for a backward walk, the store's edge reversed)."""


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


Edges = EdgesLeaving
"""(identifiers, downstream, limit) → the edges leaving them downstream (``True``) or
upstream, oldest event first; when more than ``limit`` leave, at least ``limit + 1`` of them
(the store's :meth:`EpcisEvents.genealogy`, or a stand-in in tests)."""


def _steps(found: list[Edge], direction: Direction) -> list[Step]:
    if direction is Direction.FORWARD:
        return found
    return [Edge(e.event_time_ns, e.event_id, e.target, e.source, e.event_type) for e in found]


def _check_depth(max_depth: int) -> None:
    if not 1 <= max_depth <= MAX_DEPTH:
        raise GenealogyError(f"max_depth: {max_depth} is not between 1 and {MAX_DEPTH}")


def trace(edges: Edges, root: str, direction: Direction, max_depth: int = MAX_DEPTH) -> Trace:
    """Walk from ``root`` in ``direction`` over the edges ``edges`` gives."""
    _check_depth(max_depth)
    result = Trace(root, direction, {root: 0})
    frontier = {root}
    for level in range(1, max_depth + 1):
        budget = MAX_EDGES - len(result.steps)
        found = edges(frontier, direction is Direction.FORWARD, budget)
        if len(found) > budget:
            raise GenealogyError(
                f"trace of {root}: more than {MAX_EDGES} edges within {max_depth} steps"
            )
        steps = _steps(found, direction)
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


class _CollectorPause:
    """Pause the cyclic garbage collector while walks build their edges.

    A forward trace allocates tens of thousands of tuples that all stay alive until it ends;
    the collector would scan them again and again and promote them into full collections of
    the whole process heap (measured: about a third of a forward trace's time, and most of
    its p99). They form no cycles, so reference counting frees them either way. Walks in
    several threads share one pause, which ends with the last of them and restores the
    collector only if it was on."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._walks = 0
        self._was_enabled = False

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._walks == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._walks += 1
        try:
            yield
        finally:
            with self._lock:
                self._walks -= 1
                if self._walks == 0 and self._was_enabled:
                    gc.enable()


_collector_paused = _CollectorPause()


def walk(edges: Edges, root: str, direction: Direction, max_depth: int = MAX_DEPTH) -> Trace:
    """:func:`trace` with the collector paused: for the store's edges."""
    with _collector_paused():
        return trace(edges, root, direction, max_depth)


def walk_stored(
    store: EpcisEvents,
    tenant_id: int,
    root: str,
    direction: Direction,
    max_depth: int = MAX_DEPTH,
    event_type: str | None = None,
) -> Trace:
    """The trace of ``root`` over the tenant's stored edges (only ``event_type``'s, if given:
    a container's contents are its aggregations)."""
    with store.genealogy(tenant_id, event_type) as edges:
        return walk(edges, root, direction, max_depth)


__all__ = [
    "Direction",
    "Edges",
    "Step",
    "Trace",
    "edges_of",
    "trace",
    "walk",
    "walk_stored",
]
