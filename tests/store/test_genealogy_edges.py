"""The genealogy edge table on SQLite and the real PostgreSQL: the edges a capture stores are
reached from either end, a tenant sees only its own, a walk over the store gives what a walk
over the same edges in memory gives (diamonds, cycles, depth cut; runs of consecutive
identifiers read as index ranges, with identifiers inside a range that were not asked for and
runs that read their cap), a wide level is answered whole and a limit is kept, and migrations
0011/0012 derive the same edges from events stored before them."""

import random

import pytest
from sqlalchemy import create_engine, inspect, text

from factoryos.apps.trace.genealogy import Direction, edges_of, trace, walk_stored
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
    with store.genealogy(tenant) as edges:
        found = edges([root], downstream, 100)
    return [(e.source, e.target, e.event_type) for e in found]


def _walked(store: EpcisEvents, tenant: int, root: str, direction: Direction, depth: int,
            event_type: str | None = None) -> list[tuple[str, str]]:  # fmt: skip
    found = walk_stored(store, tenant, root, direction, depth, event_type).steps
    return sorted((s.target, s.source) if direction is Direction.BACKWARD else s[2:4]
                  for s in found)  # fmt: skip


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
    assert _walked(store, acme, "case:1", Direction.BACKWARD, 2) == [
        ("lot:a", "unit:1"), ("lot:a", "unit:2"), ("lot:b", "unit:1"), ("lot:b", "unit:2"),
        ("unit:1", "case:1"), ("unit:2", "case:1"),
    ]  # fmt: skip
    with store.genealogy(acme) as edges:
        both = edges(["unit:2", "unit:1"], True, 100)
    assert both == sorted(both) and len(both) == 2  # each once, oldest event first
    packed = _walked(store, acme, "case:1", Direction.BACKWARD, 2, "AggregationEvent")
    assert packed == [("unit:1", "case:1"), ("unit:2", "case:1")]
    assert _walked(store, other, "lot:a", Direction.FORWARD, 5) == []
    assert _walked(store, other, "case:1", Direction.BACKWARD, 5) == []


def _made(tenant: int, store: EpcisEvents, pairs: list[tuple[str, str]]) -> list[Edge]:
    """One transformation per (input, output) pair, stored; their edges."""
    made = [
        new_event(n, "TransformationEvent", None, (("input", up), ("output", down)))
        for n, (up, down) in enumerate(pairs)
    ]
    for at in range(0, len(made), 5000):
        store.capture(tenant, made[at : at + 5000], 0)
    return [Edge(e.event_time_ns, e.event_id, *e.edges[0], e.event_type) for e in made]


def _same_walks(store: EpcisEvents, tenant: int, every: list[Edge], roots: list[str],
                depths: tuple[int, ...]) -> None:  # fmt: skip
    for root in roots:
        for direction in Direction:
            for depth in depths:
                expected = trace(in_memory(every), root, direction, depth)
                got = walk_stored(store, tenant, root, direction, depth)
                assert (got.depth, got.steps, got.truncated) == (
                    expected.depth, expected.steps, expected.truncated,
                ), (root, direction, depth)  # fmt: skip


# a diamond with a shortcut and a cycle: a → b → c → d, a → d, d → a; e hangs off d
GRAPH = [("a", "b"), ("b", "c"), ("c", "d"), ("a", "d"), ("d", "a"), ("d", "e")]


def test_a_walk_over_the_store_equals_the_walk_in_memory(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    _same_walks(store, tenant, _made(tenant, store, GRAPH), list("ade"), (1, 2, 3, 4, 10))


def _serial(stem: str, n: int, width: int) -> str:
    return f"{stem}{n:0{width}d}"


def _sequential_graph(rng: random.Random) -> list[tuple[str, str]]:
    """Edges among serials and lots numbered in sequence, as a plant makes them: runs long
    enough to be read as ranges, unpadded serials that sort inside another's range (``u:1000``
    between ``u:100`` and ``u:101``), lots with more outputs than a run may read, gaps,
    shortcuts and cycles."""
    lots = [_serial("lot:", n, 4) for n in range(rng.randrange(8, 12))]
    units = [f"u:{n}" for n in range(90, 130)] + [f"u:{n}" for n in range(1000, 1040)]
    cases = [_serial("case:", n, 3) for n in range(0, 30, rng.choice((1, 2, 3)))]
    pairs = {(rng.choice(lots), u) for u in units}
    pairs |= {(lot, u) for lot in rng.sample(lots, 2) for u in rng.sample(units, 30)}
    pairs |= {(u, rng.choice(cases)) for u in units}
    pairs |= {(rng.choice(cases), rng.choice(lots)) for _ in range(3)}  # rework: cycles
    pairs |= {(a, b) for a, b in (rng.sample(units, 2) for _ in range(10))}
    return sorted(pairs)


@pytest.mark.parametrize("seed", range(6))
def test_runs_read_as_ranges_give_what_identifiers_one_by_one_give(
    catalog: Catalog, seed: int
) -> None:
    rng = random.Random(seed)
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    every = _made(tenant, store, _sequential_graph(rng))
    roots = sorted({e.source for e in every} | {e.target for e in every})
    _same_walks(store, tenant, every, rng.sample(roots, 6), (1, 2, 10))
    units = [f"u:{n}" for n in range(95, 125)]  # one run; u:1000… sort inside it
    by_source = sorted(e for e in every if e.source in units)
    with store.genealogy(tenant) as edges:
        assert edges(units, True, 10_000) == by_source
        lots = sorted({e.source for e in every if e.source.startswith("lot:")})
        assert edges(lots, True, 10_000) == sorted(e for e in every if e.source in lots)


def test_a_wide_level_is_answered_whole_and_its_limit_kept(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    lots = [f"lot:{n}" for n in range(12_000)]
    made = (*(("input_class", lot) for lot in lots), ("output_class", "blend:1"))
    store.capture(tenant, [new_event(1, "TransformationEvent", None, made)], 0)
    with store.genealogy(tenant) as edges:
        assert len(edges(["blend:1"], False, 12_000)) == len(lots)
        assert len(edges(["blend:1"], False, 100)) == 101  # more than asked: not all
        outputs = edges(lots, True, 12_000)  # unpadded: lot:1000 … lot:1999 sort among others
        assert len(outputs) == 12_000 and {e.target for e in outputs} == {"blend:1"}
    back = walk_stored(store, tenant, "blend:1", Direction.BACKWARD, 3)
    assert sorted(back.found(1)) == sorted(lots) and not back.truncated


def test_an_identifier_the_database_cannot_hold_is_the_callers_mistake(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    store.capture(tenant, [new_event(n, *e) for n, e in enumerate(EVENTS)], 0)
    with store.genealogy(tenant) as edges:
        if catalog.url.startswith("postgresql"):
            with pytest.raises(CatalogInputError, match="cannot contain NUL"):
                edges(["lot:a", "lot\x00b"], True, 10)
        else:  # SQLite holds a NUL: no edge leaves it
            assert edges(["lot\x00b"], True, 10) == []
    assert len(_pairs(store, tenant, "lot:a", True)) == 2  # nothing changed, the store answers


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
        with store.genealogy(1) as edges:
            stored = set(edges(_ALL, True, 100))
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
