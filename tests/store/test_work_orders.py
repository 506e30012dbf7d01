"""Work orders on a migrated catalog, on SQLite and on the real PostgreSQL: insert and log,
optimistic concurrency, one live automatic order per equipment and source, tenant scoping,
filters and keyset paging, windows, closed orders, and the migration itself."""

from dataclasses import replace

import pytest
from sqlalchemy import create_engine, inspect

from factoryos.model.site import parse_site
from factoryos.store import migrate
from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.work_orders import (
    LiveOrderExistsError,
    OrderFilter,
    OrderNotFoundError,
    OrderRecord,
    StaleOrderError,
    Transition,
    WorkOrderStore,
)
from store.test_migrations import catalog, pg_url, sqlite_url, url
from support.sites import site_yaml

__all__ = ["catalog", "pg_url", "sqlite_url", "url"]

H = 3600 * 10**9
EQ = "plant1/machining/line1/cell1/cnc-01"


def _equipment_of(catalog: Catalog, tenant: str) -> str:
    """The first equipment of the tenant's test site."""
    catalog.register_site(parse_site(site_yaml(tenant)))
    tenant_id = catalog.tenant_id(tenant)
    assert tenant_id is not None
    node = catalog.asset_tree(tenant_id)[0]
    while node.level != "equipment":
        node = node.children[0]
    return node.path


def _order(equipment: str, **kw: object) -> OrderRecord:
    fields: dict[str, object] = {
        "equipment": equipment,
        "title": "spindle vibration",
        "source": "anomaly",
        "evidence": '[{"at":0,"data":{"score":4.2},"summary":"T2 4.2x"}]',
        "suggested_action": "inspect spindle bearings",
        "due_ns": 48 * H,
        "status": "open",
        "created_ns": 0,
        "updated_ns": 0,
        "model_version": "anomaly/x@3",
    }
    return OrderRecord(**{**fields, **kw})  # type: ignore[arg-type]


def _opened(at: int = 0) -> Transition:
    return Transition(at, "detector", "open", None, "open", "")


def test_insert_keeps_every_field_and_logs_the_opening(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    stored = store.insert(tenant, _order(EQ), _opened())

    assert stored.id > 0 and stored.number == f"WO-{stored.id:06d}" and stored.version == 1
    assert store.get(tenant, stored.id) == stored
    assert (stored.model_version, stored.due_ns, stored.status) == ("anomaly/x@3", 48 * H, "open")
    assert store.transitions(tenant, stored.id) == [_opened()]


def test_a_stale_version_is_refused_and_changes_nothing(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    o = store.insert(tenant, _order(EQ), _opened())
    planner_a = replace(
        o, status="assigned", assignee="maria", window_start_ns=H, window_end_ns=2 * H
    )
    planner_b = replace(o, status="assigned", assignee="jon")
    step = Transition(5, "a", "assign", "open", "assigned", "")

    assert store.update(tenant, planner_a, o.version, step).version == 2
    with pytest.raises(StaleOrderError, match="at version 2, not 1"):
        store.update(tenant, planner_b, o.version, step)

    now = store.get(tenant, o.id)
    assert (now.assignee, now.version, now.window_start_ns) == ("maria", 2, H)
    assert len(store.transitions(tenant, o.id)) == 2


def test_one_live_automatic_order_per_equipment_and_source(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    first = store.insert(tenant, _order(EQ), _opened())

    with pytest.raises(LiveOrderExistsError, match="already has a live anomaly order"):
        store.insert(tenant, _order(EQ), _opened())
    store.insert(tenant, _order(EQ, source="rul"), _opened())  # another source: its own order
    store.insert(tenant, _order(EQ, source="manual"), _opened())  # manual: never deduped
    store.insert(tenant, _order(EQ, source="manual"), _opened())
    assert store.find_live(tenant, EQ, "anomaly") == first

    done = replace(first, status="cancelled", cause="false alarm", closed_ns=1)
    store.update(tenant, done, 1, Transition(1, "a", "cancel", "open", "cancelled", ""))
    assert store.find_live(tenant, EQ, "anomaly") is None
    again = store.insert(tenant, _order(EQ), _opened())  # the key is free once not live
    assert store.find_live(tenant, EQ, "anomaly") == again


def test_tenants_never_see_each_others_orders(catalog: Catalog) -> None:
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    store = WorkOrderStore(catalog)
    o = store.insert(acme, _order(EQ), _opened())
    store.insert(globex, _order(EQ), _opened())  # same equipment path, other tenant: allowed

    with pytest.raises(OrderNotFoundError, match=f"no work order {o.id}"):
        store.get(globex, o.id)
    with pytest.raises(OrderNotFoundError):
        store.update(globex, replace(o, title="x"), 1, _opened())
    assert store.transitions(globex, o.id) == []
    assert [r.id for r in store.query(globex).orders] != [o.id]
    assert store.get(acme, o.id).title == "spindle vibration"


def test_filters_and_keyset_paging(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    ids = [
        store.insert(tenant, _order(f"{EQ}{i % 3}", source="manual"), _opened()).id
        for i in range(25)
    ]
    seen: list[int] = []
    before = None
    while True:
        page = store.query(tenant, before=before, limit=10)
        seen += [o.id for o in page.orders]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == sorted(ids, reverse=True)
    only = store.query(tenant, OrderFilter(equipment=f"{EQ}1", statuses=("open",)))
    assert {o.equipment for o in only.orders} == {f"{EQ}1"} and len(only.orders) == 8
    assert store.count(tenant, OrderFilter(equipment=f"{EQ}1")) == 8
    assert store.query(tenant, OrderFilter(statuses=("closed",))).orders == []


def test_windows_overlap_the_range_and_only_live_orders_count(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)

    def planned(eq: str, start: int, end: int, status: str = "assigned") -> int:
        o = _order(
            eq, source="manual", status=status, window_start_ns=start * H, window_end_ns=end * H
        )
        return store.insert(tenant, o, _opened()).id

    late, early = planned(EQ, 10, 12), planned(EQ, 2, 3)
    planned(EQ, 4, 5, status="closed")
    other = planned("x/y", 2, 4)
    planned(EQ, 20, 21)  # outside the range

    assert [o.id for o in store.windows(tenant, [EQ], 0, 11 * H)] == [early, late]
    assert [o.id for o in store.windows(tenant, None, 3 * H, 11 * H)] == [other, late]
    assert store.windows(tenant, [EQ], 12 * H, 20 * H) == []  # [start, end): touching is free


def test_closed_lists_closed_orders_of_one_equipment(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    a = store.insert(
        tenant, _order(EQ, source="manual", status="closed", failure_code="VIB"), _opened()
    )
    store.insert(tenant, _order(EQ, source="manual", status="cancelled"), _opened())
    store.insert(tenant, _order("x/y", source="manual", status="closed"), _opened())
    assert store.closed(tenant, EQ) == [a]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"equipment": ""}, "equipment: empty"),
        ({"equipment": "e" * 401}, "equipment: at most 400"),
        ({"title": "t" * 201}, "title: at most 200"),
        ({"evidence": "[" * 32_001}, "evidence: at most 32000"),
        ({"source": "oracle"}, "source: 'oracle' is not one of"),
        ({"status": "done"}, "status: 'done' is not one of"),
        ({"window_start_ns": 5}, "window: give both"),
    ],
)
def test_bad_records_are_refused_naming_the_field(
    catalog: Catalog, change: dict[str, object], message: str
) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    with pytest.raises(CatalogInputError, match=message):
        store.insert(tenant, replace(_order(EQ), **change), _opened())  # type: ignore[arg-type]
    assert store.query(tenant).orders == []


def test_a_nul_in_text_is_a_clear_refusal_on_every_database(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    store = WorkOrderStore(catalog)
    o = store.insert(tenant, _order(EQ), _opened())
    try:
        store.update(tenant, replace(o, cause="a\x00b"), 1, _opened())
    except CatalogInputError:
        assert store.get(tenant, o.id).version == 1  # PostgreSQL refuses NUL: nothing written
    else:
        assert store.get(tenant, o.id).cause == "a\x00b"  # SQLite keeps it as data


def test_equipment_exists_only_in_the_tenants_site(catalog: Catalog) -> None:
    path = _equipment_of(catalog, "acme")
    catalog.ensure_tenant("globex")
    store = WorkOrderStore(catalog)
    acme, globex = catalog.tenant_id("acme"), catalog.tenant_id("globex")
    assert acme is not None and globex is not None
    assert store.equipment_exists(acme, path)
    assert not store.equipment_exists(globex, path)
    assert not store.equipment_exists(acme, path.rsplit("/", 1)[0])  # a cell, not equipment


def test_migration_0006_adds_and_drops_the_tables(url: str) -> None:
    migrate.upgrade(url, "0006_work_orders")
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert {"work_orders", "work_order_log"} <= tables
        migrate.downgrade(url, "0005_downtime_reasons")
        with engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert not {"work_orders", "work_order_log"} & tables
    finally:
        engine.dispose()
