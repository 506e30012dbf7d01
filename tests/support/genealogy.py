"""A stand-in for the store's genealogy edges, for walks tested without a database."""

from collections.abc import Callable, Sequence

from factoryos.apps.trace.genealogy import edges_of
from factoryos.store.epcis_events import Edge

EventSpec = tuple[str, str, str | None, list[tuple[str, str]]]  # name, type, action, epcs


def fake_edges(events: Sequence[EventSpec]) -> Callable[[Sequence[str], bool], list[Edge]]:
    """The store's answer over ``events``' edges as capture derives them (event n at time n)."""
    every = [
        Edge(n, name, up, down, kind)
        for n, (name, kind, action, ids) in enumerate(events)
        for up, down in edges_of(kind, action, ids)
    ]

    def edges(epcs: Sequence[str], downstream: bool) -> list[Edge]:
        return [e for e in every if (e.source if downstream else e.target) in epcs]

    return edges
