"""A stand-in for the store's genealogy edges, for walks tested without a database."""

from collections import defaultdict
from collections.abc import Collection, Sequence

from factoryos.apps.trace.genealogy import Edges, edges_of
from factoryos.store.epcis_events import Edge

EventSpec = tuple[str, str, str | None, list[tuple[str, str]]]  # name, type, action, epcs


def fake_edges(events: Sequence[EventSpec]) -> Edges:
    """The store's answer over ``events``' edges as capture derives them (event n at time n)."""
    every = [
        Edge(n, name, up, down, kind)
        for n, (name, kind, action, ids) in enumerate(events)
        for up, down in edges_of(kind, action, ids)
    ]

    def edges(epcs: Collection[str], downstream: bool, limit: int) -> list[Edge]:
        return [e for e in every if (e.source if downstream else e.target) in epcs]

    return edges


def in_memory(edges: Sequence[Edge]) -> Edges:
    """The :data:`Edges` function over ``edges``: the reference the store's must agree with."""
    by_source: defaultdict[str, list[Edge]] = defaultdict(list)
    by_target: defaultdict[str, list[Edge]] = defaultdict(list)
    for edge in edges:
        by_source[edge.source].append(edge)
        by_target[edge.target].append(edge)

    def leaving(epcs: Collection[str], downstream: bool, limit: int) -> list[Edge]:
        index = by_source if downstream else by_target
        return sorted(edge for epc in epcs for edge in index.get(epc, ()))

    return leaving
