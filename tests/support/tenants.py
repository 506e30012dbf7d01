"""Two tenants over a real catalog, DuckDB store and in-process bus, and the app serving them.

``acme`` and ``globex`` own sites with the very same tag paths and an API key per role, so
every test can check that neither sees the other. The fixtures are imported by the
conftest or test module that wants them (tests/api, tests/security); a module may override
``services`` (say, with a catalog on PostgreSQL) and the others follow it.
"""

from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from factoryos.api import Services, create_app
from factoryos.api.tokens import TokenIssuer
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.store.catalog import Catalog, Role, TagInfo
from factoryos.store.duckdb_store import DuckDBStore
from support.asgi import asgi_client
from support.sites import POWER, site_yaml

SECRET = "test-secret-" + "x" * 40
"""Signs the users' access tokens of the test services."""


@dataclass(frozen=True)
class Tenant:
    name: str
    ids: dict[str, int]
    admin: str
    engineer: str
    operator: str
    viewer: str

    def key(self, role: Role) -> str:
        key: str = getattr(self, role.label)
        return key

    def auth(self, role: Role = Role.VIEWER) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key(role)}"}


def make_tenant(catalog: Catalog, name: str) -> Tenant:
    ids = catalog.register_site(parse_site(site_yaml(name)))
    keys = {r.label: catalog.create_api_key(name, r, f"{r.label}-key") for r in Role}
    return Tenant(name, ids, **keys)


SECRET_TAG = "plant9/a/l/c/e/secret"
SECRET_VALUE = 987654.321
T0 = 1_714_564_800 * 10**9
"""2024-05-01T12:00:00Z, where the secret samples start (three, 1 ns apart)."""


def plant_secret(services: Services, tenant: Tenant) -> TagInfo:
    """A tag only ``tenant`` has (SECRET_TAG), and SECRET_VALUE on it and on the tenant's
    POWER: what no other tenant's answer may ever hold."""
    services.catalog.register_site(
        parse_site(
            f"site: {{name: plant9, tenant: {tenant.name}, areas: [{{name: a, lines: [{{name: l,"
            " cells: [{name: c, equipment: [{name: e, tags: [{name: secret}]}]}]}]}]}"
        )
    )
    tag = services.catalog.find_tag(services.catalog.tenant_id(tenant.name) or 0, SECRET_TAG)
    assert tag is not None
    for tag_id in (tag.id, tenant.ids[POWER]):
        batch = SampleBatch.build(np.full(3, tag_id), T0 + np.arange(3), [SECRET_VALUE] * 3)
        services.store.write(batch)
    return tag


@contextmanager
def open_services(catalog_url: str, where: Path) -> Iterator[Services]:
    """Services over the catalog at ``catalog_url`` and a DuckDB store in ``where``."""
    catalog = Catalog(catalog_url)
    catalog.create_all()
    store = DuckDBStore(where / "ts.duckdb")
    bus = InProcessBus()
    try:
        yield Services(catalog=catalog, store=store, bus=bus, tokens=TokenIssuer(SECRET))
    finally:
        bus.close()
        store.close()
        catalog.close()


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        yield services


@pytest.fixture
def acme(services: Services) -> Tenant:
    return make_tenant(services.catalog, "acme")


@pytest.fixture
def globex(services: Services, acme: Tenant) -> Tenant:
    return make_tenant(services.catalog, "globex")


@pytest.fixture
def app(services: Services) -> FastAPI:
    return create_app(services)


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(app) as c:
        yield c
