"""The registry's rules over the real catalog, on SQLite and on the real PostgreSQL:
allocation, claims, ownership, last-write-wins versions, bulk loads, paging, concurrency."""

import re
import threading
from collections.abc import Iterator

import pytest

from factoryos.store.catalog import Catalog, CatalogInputError
from factoryos.store.identifier_registry import IdentifierStore
from factoryos.twin.errors import HandleError, PrefixNotOwnedError, PrefixTakenError, RecordError
from factoryos.twin.handles import parse_handle
from factoryos.twin.records import load_record
from factoryos.twin.registry import IdentifierRegistry
from store.test_migrations import pg_url, sqlite_url

__all__ = ["pg_url", "sqlite_url"]  # fixtures, used by name

PUMP = {"type": "product", "name": "pump", "data": {"gtin": "09506000134352"}}


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest) -> Iterator[Catalog]:
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    catalog = Catalog(url)
    catalog.migrate()  # the 0009 migration makes the tables, as in production
    try:
        yield catalog
    finally:
        catalog.close()


@pytest.fixture
def registry(catalog: Catalog) -> IdentifierRegistry:
    return IdentifierRegistry(IdentifierStore(catalog))


@pytest.fixture
def tenants(catalog: Catalog) -> tuple[int, int]:
    return catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")


def test_allocation_gives_a_tenant_a_prefix_and_its_subtree(
    registry: IdentifierRegistry, tenants: tuple[int, int]
) -> None:
    acme, globex = tenants
    prefix, new = registry.allocate("88.123", acme, "user olga", "acme's enterprise prefix")

    assert new and (prefix.prefix, prefix.tenant_id, prefix.created_by) == (
        "88.123",
        acme,
        "user olga",
    )
    assert registry.allocate("88.123", acme, "user olga") == (prefix, False)  # again: no-op
    for overlapping in ("88.123", "88.123.4567", "88"):
        with pytest.raises(PrefixTakenError, match=re.escape("'88.123'")):
            registry.allocate(overlapping, globex, "user olga")
    globex_prefix, _ = registry.allocate("88.124", globex, "user olga")  # a sibling is free
    assert registry.prefixes(globex) == [globex_prefix]


def test_claims_go_below_an_owned_prefix_only(
    registry: IdentifierRegistry, tenants: tuple[int, int]
) -> None:
    acme, globex = tenants
    registry.allocate("88.123", acme, "op")

    line, new = registry.claim("88.123.4567", acme, "engineer-key", "pump line")
    assert new and line.description == "pump line"
    assert registry.claim("88.123.4567", acme, "engineer-key")[1] is False
    with pytest.raises(PrefixTakenError):
        registry.claim("88.123.4567", globex, "x")
    with pytest.raises(PrefixNotOwnedError, match="not below a prefix your tenant owns"):
        registry.claim("88.123.9", globex, "x")
    with pytest.raises(PrefixNotOwnedError):
        registry.claim("77.1", acme, "x")  # nothing allocated there
    with pytest.raises(HandleError, match=re.escape("prefix: '88..1': segment 2 is empty")):
        registry.claim("88..1", acme, "x")
    assert [p.prefix for p in registry.prefixes(acme)] == ["88.123", "88.123.4567"]


def test_identifiers_register_under_owned_prefixes_with_versions(
    registry: IdentifierRegistry, tenants: tuple[int, int]
) -> None:
    acme, globex = tenants
    registry.allocate("88.123", acme, "op")

    first = registry.register("88.123.4567/SN-1", PUMP, acme)  # below 88.123, unclaimed: fine
    again = registry.register("88.123.4567/SN-1", {**PUMP, "name": "pump v2"}, acme)

    assert (first.created, first.identifier.version) == (True, 1)
    assert (again.created, again.identifier.version) == (False, 2)
    assert again.identifier.created_ns == first.identifier.created_ns
    assert again.identifier.updated_ns >= first.identifier.updated_ns
    assert load_record(again.identifier.record).name == "pump v2"
    with pytest.raises(PrefixNotOwnedError, match="belongs to another tenant"):
        registry.register("88.123.4567/SN-1", PUMP, globex)
    with pytest.raises(PrefixNotOwnedError, match="not allocated on this node"):
        registry.register("77.1/x", PUMP, acme)
    with pytest.raises(RecordError, match=re.escape("record.type")):
        registry.register("88.123/x", {"type": "Bad Type"}, acme)
    found = registry.lookup(parse_handle("88.123.4567/SN-1")).found
    assert found is not None and found.version == 2


def test_lookup_tells_served_prefixes_from_foreign_ones(
    registry: IdentifierRegistry, tenants: tuple[int, int]
) -> None:
    registry.allocate("88.123", tenants[0], "op")
    registry.register("88.123/a", PUMP, tenants[0])

    assert registry.lookup(parse_handle("88.123/a")).found is not None
    missing = registry.lookup(parse_handle("88.123.7/none"))
    foreign = registry.lookup(parse_handle("88.1234/none"))  # not under 88.123 by segment

    assert (missing.found, missing.served) == (None, True)
    assert (foreign.found, foreign.served) == (None, False)


def test_bulk_registration_is_all_or_nothing(
    registry: IdentifierRegistry, catalog: Catalog, tenants: tuple[int, int]
) -> None:
    acme, globex = tenants
    registry.allocate("88.123", acme, "op")
    registry.allocate("88.124", globex, "op")
    store = registry.store

    handles = registry.register_many(acme, [(f"88.123.1/S{n}", PUMP) for n in range(1200)])
    assert len(handles) == 1200 and store.count(acme) == 1200

    with pytest.raises(CatalogInputError, match=re.escape("'88.123.1/S5' is registered already")):
        registry.register_many(acme, [("88.123.2/new", PUMP), ("88.123.1/S5", PUMP)])
    with pytest.raises(
        CatalogInputError, match=re.escape("'88.123.3/twice' is registered already")
    ):
        registry.register_many(acme, [("88.123.3/twice", PUMP), ("88.123.3/twice", PUMP)])
    with pytest.raises(PrefixNotOwnedError):
        registry.register_many(acme, [("88.123.2/a", PUMP), ("88.124/b", PUMP)])
    assert store.count(acme) == 1200 and store.count(globex) == 0


def test_pages_are_the_tenants_own_in_order_and_filter_by_prefix(
    registry: IdentifierRegistry, tenants: tuple[int, int]
) -> None:
    acme, globex = tenants
    registry.allocate("88.123", acme, "op")
    registry.allocate("88.124", globex, "op")
    for n in range(5):
        registry.register(f"88.123.{n % 2}/S{n}", PUMP, acme)
    registry.register("88.124/G", PUMP, globex)

    everything = registry.page(acme, None, None, 100)
    first = registry.page(acme, None, None, 2)
    rest = registry.page(acme, None, first[-1].id, 100)
    line_1 = registry.page(acme, "88.123.1", None, 100)

    assert [i.handle for i in everything] == [f"88.123.{n % 2}/S{n}" for n in range(5)]
    assert first + rest == everything
    assert [i.handle for i in line_1] == ["88.123.1/S1", "88.123.1/S3"]
    assert registry.page(acme, "88.124", None, 100) == []  # globex's are not acme's
    assert [i.handle for i in registry.page(acme, "88", None, 100)] == [
        i.handle for i in everything
    ]
    with pytest.raises(HandleError):
        registry.page(acme, "%", None, 100)


def test_concurrent_first_registrations_of_one_handle_make_one_identifier(
    registry: IdentifierRegistry, tenants: tuple[int, int]
) -> None:
    acme = tenants[0]
    registry.allocate("88.123", acme, "op")
    created: list[bool] = []
    errors: list[BaseException] = []
    start = threading.Barrier(10)

    def register(n: int) -> None:
        start.wait(timeout=10)
        try:
            created.append(
                registry.register("88.123/race", {**PUMP, "name": f"w{n}"}, acme).created
            )
        except BaseException as exc:  # any exception is the failure this test looks for
            errors.append(exc)

    threads = [threading.Thread(target=register, args=(n,)) for n in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    assert created.count(True) == 1 and len(created) == 10
    found = registry.lookup(parse_handle("88.123/race")).found
    assert found is not None and found.version == 10  # every write counted


def test_hostile_text_is_data(registry: IdentifierRegistry, tenants: tuple[int, int]) -> None:
    acme = tenants[0]
    registry.allocate("88.123", acme, "op")
    hostile = "x'); DROP TABLE identifiers; --"
    registry.register("88.123/a", {**PUMP, "name": hostile, "data": {"n": "\x00\u202e"}}, acme)

    found = registry.lookup(parse_handle("88.123/a")).found
    assert found is not None
    record = load_record(found.record)
    assert record.name == hostile and record.data["n"] == "\x00\u202e"
