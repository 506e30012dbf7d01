"""The metadata catalog on a real SQLite file."""

import threading
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from factoryos.model.site import SiteFile, parse_site
from factoryos.store.catalog import Catalog, CatalogInputError, Role, UnknownTagError, hash_key
from support.sites import CNC_01, MACHINING, POWER, RPM, site_yaml


def site(tenant: str = "acme", name: str = "plant1", extra_tag: str = "") -> SiteFile:
    """cnc-01 of the shared plant alone, with one more tag if ``extra_tag``."""
    extra = (f"{{name: {extra_tag}, unit: bar}}",) if extra_tag else ()
    cnc = replace(CNC_01, tags=CNC_01.tags + extra)
    cell = replace(MACHINING, equipment=(cnc,))
    return parse_site(site_yaml(tenant, name=name, enterprise="acme-corp", cells=(cell,)))


@pytest.fixture
def catalog(tmp_path: Path) -> Catalog:
    c = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    c.create_all()
    return c


def test_register_site_returns_an_id_per_tag_and_is_idempotent(catalog: Catalog) -> None:
    first = catalog.register_site(site())
    assert set(first) == {POWER, RPM}
    assert len(set(first.values())) == 2

    again = catalog.register_site(site(extra_tag="pressure"))
    assert again[POWER] == first[POWER]
    assert again[RPM] == first[RPM]
    assert again["plant1/machining/line1/cell1/cnc-01/pressure"] not in first.values()
    tenant = catalog.tenant_id("acme")
    assert tenant is not None
    assert len(catalog.tags(tenant)) == 3


def test_tag_metadata_and_lookup(catalog: Catalog) -> None:
    ids = catalog.register_site(site())
    tenant = catalog.ensure_tenant("acme")
    info = catalog.find_tag(tenant, POWER)
    assert info is not None
    assert (info.id, info.name, info.unit, info.data_type) == (
        ids[POWER],
        "power_kw",
        "kW",
        "float32",
    )
    assert (info.range_low, info.range_high) == (0.0, 50.0)
    assert catalog.find_tag(tenant, "plant1/nope") is None
    assert [t.path for t in catalog.tags(tenant, "plant1/machining/line1/cell1/cnc-01/sp")] == [RPM]
    assert set(catalog.tags_by_id(tenant, [ids[RPM], 999_999])) == {ids[RPM]}
    assert [t.path for t in catalog.resolve_tags(tenant, [RPM, POWER])] == [RPM, POWER]
    with pytest.raises(UnknownTagError, match="plant1/nope"):
        catalog.resolve_tags(tenant, [RPM, "plant1/nope"])


def test_prefix_treats_like_wildcards_literally(catalog: Catalog) -> None:
    catalog.register_site(site())
    tenant = catalog.ensure_tenant("acme")
    # '_' is a LIKE wildcard; 'power_' must not match 'powerX'.
    assert catalog.tags(tenant, "plant1/machining/line1/cell1/cnc-01/spindle_") != []
    assert catalog.tags(tenant, "plant1/machining/line1/cell1/cnc-01/spindle%") == []


def test_two_tenants_with_the_same_site_get_different_ids(catalog: Catalog) -> None:
    a = catalog.register_site(site(tenant="acme"))
    b = catalog.register_site(site(tenant="globex"))
    assert set(a) == set(b)
    assert set(a.values()).isdisjoint(b.values())
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    found = catalog.find_tag(globex, POWER)
    assert found is not None
    assert found.id == b[POWER]
    assert catalog.tags_by_id(globex, a.values()) == {}
    assert catalog.tags_by_id(acme, b.values()) == {}


def test_asset_tree_nests_isa95_levels_with_tags(catalog: Catalog) -> None:
    catalog.register_site(site())
    catalog.register_site(site(tenant="globex", name="plant9"))
    tree = catalog.asset_tree(catalog.ensure_tenant("acme"))
    assert [n.path for n in tree] == ["plant1"]
    levels = []
    node = tree[0]
    while node.children:
        levels.append(node.level)
        node = node.children[0]
    assert [*levels, node.level] == ["site", "area", "line", "cell", "equipment"]
    assert node.description == CNC_01.description
    assert [t.path for t in node.tags] == [POWER, RPM]


def test_api_key_plaintext_is_never_stored(tmp_path: Path) -> None:
    path = tmp_path / "c.sqlite"
    catalog = Catalog(f"sqlite:///{path}")
    catalog.create_all()
    key = catalog.create_api_key("acme", Role.ENGINEER, "ci")
    assert key.startswith("fos_")
    assert len(key) >= 40
    catalog.close()
    assert key.encode() not in path.read_bytes()
    with create_engine(f"sqlite:///{path}").connect() as conn:
        stored = conn.execute(text("select key_hash from api_keys")).scalar_one()
    assert stored == hash_key(key)
    assert stored != key


def test_authenticate_returns_the_principal(catalog: Catalog) -> None:
    key = catalog.create_api_key("acme", Role.OPERATOR, "line-terminal")
    p = catalog.authenticate(key)
    assert p is not None
    assert (p.tenant, p.role, p.key_name) == ("acme", Role.OPERATOR, "line-terminal")
    assert p.tenant_id == catalog.tenant_id("acme")
    assert catalog.authenticate(key + "x") is None
    assert catalog.authenticate("fos_" + "A" * 43) is None
    assert catalog.authenticate(key.removeprefix("fos_")) is None
    assert catalog.authenticate("") is None


def test_expired_and_revoked_keys_are_rejected(catalog: Catalog) -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    key = catalog.create_api_key("acme", Role.VIEWER, "temp", expires_at=expires)
    assert catalog.authenticate(key) is not None
    assert catalog.authenticate(key, now=expires + timedelta(seconds=1)) is None

    other = catalog.create_api_key("acme", Role.ADMIN, "old")
    tenant = catalog.ensure_tenant("acme")
    (info,) = [k for k in catalog.api_keys(tenant) if k.name == "old"]
    assert catalog.revoke_api_key(catalog.ensure_tenant("globex"), info.id) is False
    assert catalog.authenticate(other) is not None
    assert catalog.revoke_api_key(tenant, info.id) is True
    assert catalog.authenticate(other) is None
    assert [k.revoked for k in catalog.api_keys(tenant)] == [False, True]


def test_bad_key_requests_change_nothing(catalog: Catalog) -> None:
    with pytest.raises(CatalogInputError, match="expires_at"):
        catalog.create_api_key("acme", Role.ADMIN, "x", expires_at=datetime(2030, 1, 1))
    with pytest.raises(CatalogInputError, match="in the past"):
        catalog.create_api_key("acme", Role.ADMIN, "x", expires_at=datetime(2000, 1, 1, tzinfo=UTC))
    with pytest.raises(CatalogInputError, match="name"):
        catalog.create_api_key("acme", Role.ADMIN, "")
    assert catalog.tenant_id("acme") is None


def test_roles_are_ordered() -> None:
    assert Role.VIEWER < Role.OPERATOR < Role.ENGINEER < Role.ADMIN
    assert int(Role.VIEWER) == 1
    assert int(Role.ADMIN) == 4


def test_in_memory_catalog_works_across_threads() -> None:
    catalog = Catalog("sqlite://")
    catalog.create_all()
    key = catalog.create_api_key("acme", Role.VIEWER, "k")
    seen: list[object] = []
    t = threading.Thread(target=lambda: seen.append(catalog.authenticate(key)))
    t.start()
    t.join(5)
    assert seen and seen[0] is not None


def test_role_labels_round_trip() -> None:
    assert [r.label for r in Role] == ["viewer", "operator", "engineer", "admin"]
    assert Role.parse("Engineer") is Role.ENGINEER
    with pytest.raises(CatalogInputError, match="role: 'root'"):
        Role.parse("root")
