"""The genealogy edge table on SQLite and the real PostgreSQL: the edges a capture stores are
found from either end, a tenant sees only its own, long frontiers are split into bounded
statements, and migration 0011 derives the same edges from events stored before it."""

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, text

from factoryos.apps.trace.genealogy import edges_of
from factoryos.store import migrate
from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.epcis_events import MAX_EDGES, EpcisEvents, NewEvent
from store.test_migrations import pg_url, sqlite_url, url

__all__ = ["pg_url", "sqlite_url", "url"]

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


@pytest.fixture
def catalog(url: str) -> Iterator[Catalog]:
    catalog = Catalog(url)
    catalog.migrate()
    yield catalog
    catalog.close()


def _pairs(store: EpcisEvents, tenant: int, epcs: list[str], downstream: bool) -> list[tuple]:
    return [(e.source, e.target, e.event_type) for e in store.edges(tenant, epcs, downstream)]


def test_edges_are_found_from_either_end_per_tenant(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    acme, other = catalog.ensure_tenant("acme"), catalog.ensure_tenant("other")
    store.capture(acme, [new_event(n, *e) for n, e in enumerate(EVENTS)], 0)
    assert _pairs(store, acme, ["lot:a"], True) == [
        ("lot:a", "unit:1", "TransformationEvent"),
        ("lot:a", "unit:2", "TransformationEvent"),
    ]
    assert _pairs(store, acme, ["unit:1", "unit:2"], True) == [
        ("unit:1", "case:1", "AggregationEvent"),
        ("unit:2", "case:1", "AggregationEvent"),
    ]
    assert _pairs(store, acme, ["case:1"], False) == [
        ("unit:1", "case:1", "AggregationEvent"),
        ("unit:2", "case:1", "AggregationEvent"),
    ]
    assert [e.source for e in store.edges(acme, ["unit:2"], False)] == ["lot:a", "lot:b"]
    assert store.edges(other, ["lot:a", "case:1"], True) == []
    assert store.edges(other, ["lot:a", "case:1"], False) == []


def test_a_long_frontier_is_answered_whole(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    lots = [f"lot:{n}" for n in range(12_000)]  # past both backends' statement chunks
    made = (*(("input_class", lot) for lot in lots), ("output_class", "blend:1"))
    store.capture(tenant, [new_event(1, "TransformationEvent", None, made)], 0)
    assert len(store.edges(tenant, lots, True)) == len(lots)
    assert len(store.edges(tenant, ["blend:1"], False)) == len(lots)


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
        stored = {(e.source, e.target, e.event_id) for e in store.edges(1, _ALL, True)}
    finally:
        catalog.close()
    expected = {
        (up, down, f"e{n}")
        for n, (kind, action, epcs) in enumerate(EVENTS, start=1)
        for up, down in edges_of(kind, action, epcs)
    }
    assert stored == expected and len(expected) == 6


_ALL = ["lot:a", "lot:b", "unit:1", "unit:2", "case:1"]
