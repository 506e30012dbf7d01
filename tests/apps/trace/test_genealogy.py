"""Genealogy walks: backward (what went into it) and forward (where it went) through
transformations and aggregations, cycles and unpacking, the depth limit — on a hand-made
graph without a database, then over events captured in SQLite and the real PostgreSQL."""

import gc
from collections.abc import Collection, Iterator
from typing import Any

import pytest

from factoryos.apps.trace import genealogy
from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.errors import GenealogyError
from factoryos.apps.trace.genealogy import Direction, edges_of, trace, walk, walk_stored
from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.epcis_events import Edge, EpcisEvents
from store.test_migrations import pg_url, sqlite_url
from support.genealogy import EventSpec, fake_edges

__all__ = ["pg_url", "sqlite_url"]

# flour lot + sugar lot → (mix) dough lot → (bake) 2 cakes → packed in a case → case on a pallet
EVENTS: list[EventSpec] = [
    ("mix", "TransformationEvent", None,
     [("input_class", "lot:flour"), ("input_class", "lot:sugar"), ("output_class", "lot:dough")]),
    ("bake", "TransformationEvent", None,
     [("input_class", "lot:dough"), ("output", "cake:1"), ("output", "cake:2")]),
    ("pack", "AggregationEvent", "ADD",
     [("parent", "case:A"), ("child", "cake:1"), ("child", "cake:2")]),
    ("load", "AggregationEvent", "ADD", [("parent", "pallet:P"), ("child", "case:A")]),
    ("unpack", "AggregationEvent", "DELETE", [("parent", "pallet:Q"), ("child", "case:A")]),
]  # fmt: skip


def test_transformations_and_packing_make_edges_and_unpacking_none() -> None:
    assert edges_of("TransformationEvent", None, EVENTS[1][3]) == (
        ("lot:dough", "cake:1"),
        ("lot:dough", "cake:2"),
    )
    assert edges_of("AggregationEvent", "OBSERVE", EVENTS[2][3]) == (
        ("cake:1", "case:A"),
        ("cake:2", "case:A"),
    )
    assert edges_of("AggregationEvent", "DELETE", EVENTS[4][3]) == ()
    assert edges_of("ObjectEvent", "ADD", [("epc", "cake:1")]) == ()
    repeated = [("input", "x"), ("input", "x"), ("output", "x"), ("output", "y")]
    assert edges_of("TransformationEvent", None, repeated) == (("x", "y"),)  # no self-loop


def test_backward_from_the_pallet_reaches_the_raw_lots_level_by_level() -> None:
    t = trace(fake_edges(EVENTS), "pallet:P", Direction.BACKWARD)
    assert t.found(1) == ["case:A"]
    assert sorted(t.found(2)) == ["cake:1", "cake:2"]
    assert t.found(3) == ["lot:dough"]
    assert sorted(t.found(4)) == ["lot:flour", "lot:sugar"]
    assert not t.truncated
    assert {(s.source, s.target, s.event_id) for s in t.steps if s.target == "lot:dough"} == {
        ("cake:1", "lot:dough", "bake"),
        ("cake:2", "lot:dough", "bake"),
    }


def test_forward_from_a_raw_lot_reaches_the_pallet_but_not_through_unpacking() -> None:
    t = trace(fake_edges(EVENTS), "lot:sugar", Direction.FORWARD)
    assert sorted(t.found()) == ["cake:1", "cake:2", "case:A", "lot:dough", "pallet:P"]
    assert "pallet:Q" not in t.depth  # a DELETE takes the case off that pallet


def test_cycles_end_and_the_depth_limit_is_reported() -> None:
    loop = [
        ("a", "TransformationEvent", None, [("input", "x"), ("output", "y")]),
        ("b", "TransformationEvent", None, [("input", "y"), ("output", "x")]),
    ]
    t = trace(fake_edges(loop), "x", Direction.FORWARD)
    assert t.depth == {"x": 0, "y": 1} and not t.truncated
    short = trace(fake_edges(EVENTS), "lot:flour", Direction.FORWARD, max_depth=2)
    assert sorted(short.found()) == ["cake:1", "cake:2", "lot:dough"] and short.truncated
    with pytest.raises(GenealogyError, match="max_depth: 0"):
        trace(fake_edges(EVENTS), "x", Direction.FORWARD, max_depth=0)


def test_a_trace_past_its_edge_limit_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    asked: list[int] = []

    def edges(epcs: Collection[str], downstream: bool, limit: int) -> list[Edge]:
        asked.append(limit)
        return fake_edges(EVENTS)(epcs, downstream, limit)

    monkeypatch.setattr(genealogy, "MAX_EDGES", 3)
    with pytest.raises(GenealogyError, match="lot:flour: more than 3 edges within 10 steps"):
        trace(edges, "lot:flour", Direction.FORWARD, max_depth=10)
    assert asked == [3, 2, 0]  # each level may bring what the walk has left: 1 + 2 + 2 > 3
    assert len(trace(edges, "cake:1", Direction.BACKWARD).steps) == 3  # at the limit: whole


def test_a_walk_pauses_the_collector_and_restores_it() -> None:
    seen: list[bool] = []

    def edges(epcs: Collection[str], downstream: bool, limit: int) -> list[Edge]:
        seen.append(gc.isenabled())
        if "bad" in epcs:
            raise CatalogInputError("too wide")
        return [Edge(1, "e", "a", "b", "TransformationEvent")] if "a" in epcs else []

    assert gc.isenabled()
    assert walk(edges, "a", Direction.FORWARD).found() == ["b"]
    with pytest.raises(CatalogInputError, match="too wide"):
        walk(edges, "bad", Direction.FORWARD)
    assert seen == [False, False, False] and gc.isenabled()  # off inside, on after, even on error
    gc.disable()
    try:
        walk(edges, "a", Direction.FORWARD)
        assert not gc.isenabled()  # whoever turned it off keeps it off
    finally:
        gc.enable()


def _document(events: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "@context": ["https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2026-11-24T08:00:00Z",
        "epcisBody": {"eventList": events},
    }


def _step(n: int) -> dict[str, Any]:
    """Transformation n: lot n in, lot n+1 out (a chain of lots, one per level)."""
    return {
        "type": "TransformationEvent",
        "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "eventTime": f"2026-11-24T08:{n:02d}:00Z",
        "eventTimeZoneOffset": "+00:00",
        "inputQuantityList": [
            {"epcClass": f"urn:epc:class:lgtin:4012345.012345.L{n}", "quantity": 1}
        ],
        "outputQuantityList": [
            {"epcClass": f"urn:epc:class:lgtin:4012345.012345.L{n + 1}", "quantity": 1}
        ],
        "bizStep": "commissioning",
    }


@pytest.fixture(params=["sqlite", "postgresql"])
def events(request: pytest.FixtureRequest) -> Iterator[tuple[int, EpcisEvents]]:
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    catalog = Catalog(str(url))
    catalog.migrate()
    yield catalog.ensure_tenant("acme"), EpcisEvents(catalog)
    catalog.close()


def test_a_depth_ten_chain_over_stored_events(events: tuple[int, EpcisEvents]) -> None:
    tenant, store = events
    capture(store, tenant, _document([_step(n) for n in range(12)]), 0)

    last = "urn:epc:class:lgtin:4012345.012345.L12"
    back = walk_stored(store, tenant, last, Direction.BACKWARD, max_depth=10)
    assert back.found(10) == ["urn:epc:class:lgtin:4012345.012345.L2"] and back.truncated
    whole = walk_stored(store, tenant, last, Direction.BACKWARD)
    assert len(whole.found()) == 12 and not whole.truncated
    first = "urn:epc:class:lgtin:4012345.012345.L0"
    forward = walk_stored(store, tenant, first, Direction.FORWARD)
    assert forward.found(12) == [last]
    assert [s.event_id for s in forward.steps] == [_step(n)["eventID"] for n in range(12)]
