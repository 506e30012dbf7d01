"""The genealogy edge table on SQLite and the real PostgreSQL: the edges a capture stores are
reached from either end, a tenant sees only its own, the one-query walk gives what a walk level
by level gives (diamonds, cycles, depth cut), a walk past its limit is refused, and migrations
0011/0012 derive the same edges from events stored before them."""

from functools import partial

import pytest
from sqlalchemy import create_engine, inspect, text

from factoryos.apps.trace.genealogy import Direction, edges_of, trace, walk
from factoryos.store import migrate
from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.epcis_events import MAX_EDGES, Edge, EpcisEvents, NewEvent
from store.test_migrations import catalog, pg_url, sqlite_url, url
from support.genealogy import in_memory

__all__ = ["catalog", "pg_url", "sqlite_url", "url"]

PACKED = (("parent", "case:1"), ("child", "unit:1"), ("child", "unit:2"), ("child", "unit:1"))
MADE = (("input_class", "lot:a"), ("input_class", "lot:b"), ("output", "unit:1"),
        ("output", "unit:2"))  # fmt: skip
EVENTS = [  # (type, action, identifiers)
    ("TransformationEvent", None, MADE),
    ("AggregationEvent", "ADD", PACKED),
    ("AggregationEvent", "DELETE", PACKED),  # unpacking: no edge
    ("ObjectEvent", "OBSERVE", (("epc", "unit:1"),)),
]


def new_event(n: int, kind: str, action: str | None, epcs: tuple[tuple[str, str], ...]) -> NewEvent:
    return NewEvent(
        event_id=f"urn:uuid:00000000-0000-4000-8000-{n:012d}", event_type=kind,
        event_time_ns=n * 10**9, action=action, biz_step=None, disposition=None,
        read_point=None, biz_location=None, body="{}", epcs=epcs,
        edges=edges_of(kind, action, epcs),
    )  # fmt: skip


def _pairs(store: EpcisEvents, tenant: int, root: str, downstream: bool) -> list[tuple]:
    found = store.reachable(tenant, root, downstream, 1, 100)
    return [(e.source, e.target, e.event_type) for e in found]


def test_edges_are_reached_from_either_end_per_tenant(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    acme, other = catalog.ensure_tenant("acme"), catalog.ensure_tenant("other")
    store.capture(acme, [new_event(n, *e) for n, e in enumerate(EVENTS)], 0)
    assert _pairs(store, acme, "lot:a", True) == [
        ("lot:a", "unit:1", "TransformationEvent"),
        ("lot:a", "unit:2", "TransformationEvent"),
    ]
    assert _pairs(store, acme, "unit:2", True) == [("unit:2", "case:1", "AggregationEvent")]
    assert _pairs(store, acme, "case:1", False) == [
        ("unit:1", "case:1", "AggregationEvent"),
        ("unit:2", "case:1", "AggregationEvent"),
    ]
    two_back = store.reachable(acme, "case:1", False, 2, 100)
    assert sorted((e.source, e.target) for e in two_back) == [
        ("lot:a", "unit:1"), ("lot:a", "unit:2"), ("lot:b", "unit:1"), ("lot:b", "unit:2"),
        ("unit:1", "case:1"), ("unit:2", "case:1"),
    ]  # fmt: skip
    assert two_back == sorted(two_back)  # oldest event first
    packed = store.reachable(acme, "case:1", False, 2, 100, event_type="AggregationEvent")
    assert sorted((e.source, e.target) for e in packed) == [
        ("unit:1", "case:1"),
        ("unit:2", "case:1"),
    ]
    assert store.reachable(other, "lot:a", True, 5, 100) == []
    assert store.reachable(other, "case:1", False, 5, 100) == []


# a diamond with a shortcut and a cycle: a → b → c → d, a → d, d → a; e hangs off d
GRAPH = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("d", "a"), ("d", "e")]


@pytest.mark.parametrize("depth", [1, 2, 3, 4, 10])
@pytest.mark.parametrize("direction", list(Direction))
def test_the_one_query_walk_equals_the_walk_level_by_level(
    catalog: Catalog, depth: int, direction: Direction
) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    made = [
        new_event(n, "TransformationEvent", None, (("input", up), ("output", down)))
        for n, (up, down) in enumerate(GRAPH)
    ]
    store.capture(tenant, made, 0)
    every = [Edge(e.event_time_ns, e.event_id, *e.edges[0], e.event_type) for e in made]
    for root in "ade":
        expected = trace(in_memory(every), root, direction, depth)
        got = walk(partial(store.reachable, tenant), root, direction, depth)
        assert (got.depth, got.steps, got.truncated) == (
            expected.depth, expected.steps, expected.truncated,
        ), root  # fmt: skip


def test_a_wide_level_is_answered_whole_and_a_walk_past_its_limit_refused(
    catalog: Catalog,
) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    lots = [f"lot:{n}" for n in range(12_000)]
    made = (*(("input_class", lot) for lot in lots), ("output_class", "blend:1"))
    store.capture(tenant, [new_event(1, "TransformationEvent", None, made)], 0)
    assert len(store.reachable(tenant, "blend:1", False, 3, 12_000)) == len(lots)
    with pytest.raises(CatalogInputError, match="blend:1: more than 11999 edges within 3 steps"):
        store.reachable(tenant, "blend:1", False, 3, 11_999)


def test_an_event_with_too_many_edges_is_refused_whole(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    wide = NewEvent("urn:x:1", "TransformationEvent", 0, None, None, None, None, None, "{}",
                    (), tuple((f"a{n}", "b") for n in range(MAX_EDGES + 1)))  # fmt: skip
    with pytest.raises(CatalogInputError, match=r"eventList\[1\]: 100001 genealogy edges"):
        store.capture(tenant, [new_event(0, *EVENTS[0]), wide], 0)
    assert store.count(tenant) == 0


def test_the_migration_derives_the_edges_of_events_stored_before_it(url: str) -> None:
    migrate.upgrade(url, "0010_spc")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text("INSERT INTO tenants (id, name) VALUES (1, 'acme')"))
            for n, (kind, action, epcs) in enumerate(EVENTS, start=1):
                conn.execute(
                    text("INSERT INTO epcis_events (id, tenant_id, event_id, event_type, "
                         "event_time_ns, record_time_ns, action, body) "
                         "VALUES (:n, 1, :id, :kind, :n, 0, :action, '{}')"),
                    {"n": n, "id": f"e{n}", "kind": kind, "action": action},
                )  # fmt: skip
                for role, epc in dict.fromkeys(epcs):
                    conn.execute(
                        text("INSERT INTO epcis_event_epcs (tenant_id, event, epc, role) "
                             "VALUES (1, :n, :epc, :role)"),
                        {"n": n, "epc": epc, "role": role},
                    )  # fmt: skip
    finally:
        engine.dispose()
    migrate.upgrade(url)
    catalog = Catalog(url)
    try:
        store = EpcisEvents(catalog)
        stored = {e for root in _ALL for e in store.reachable(1, root, True, 1, 100)}
    finally:
        catalog.close()
    expected = {
        Edge(n, f"e{n}", up, down, kind)
        for n, (kind, action, epcs) in enumerate(EVENTS, start=1)
        for up, down in edges_of(kind, action, epcs)
    }
    assert stored == expected and len(expected) == 6


def test_a_catalog_made_before_the_event_columns_is_adopted_and_upgraded(url: str) -> None:
    # create_all before revision 0012: the edge table without the event columns, no version
    migrate.upgrade(url, "0011_genealogy_edges")
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TABLE {migrate.VERSION_TABLE}"))
    finally:
        engine.dispose()
    migrate.upgrade(url)
    assert migrate.current(url) == migrate.head()
    engine = create_engine(url)
    try:
        columns = {c["name"] for c in inspect(engine).get_columns("epcis_genealogy")}
    finally:
        engine.dispose()
    assert {"event_id", "event_type", "event_time_ns"} <= columns


_ALL = ["lot:a", "lot:b", "unit:1", "unit:2", "case:1"]
