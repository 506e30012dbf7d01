"""A real app over a real catalog (SQLite file), DuckDB store and in-process bus.

Two tenants, ``acme`` and ``globex``, own sites with the very same tag paths, so every test
can check that neither sees the other.
"""

from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from factoryos.api import Services, create_app
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.site import parse_site
from factoryos.store.catalog import Catalog, Role
from factoryos.store.duckdb_store import DuckDBStore
from support.sites import site_yaml


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


@pytest.fixture
def site_text() -> Callable[[str], str]:
    """The test site file of a tenant, as YAML text."""
    return site_yaml


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.create_all()
    store = DuckDBStore(tmp_path / "ts.duckdb")
    bus = InProcessBus()
    yield Services(catalog=catalog, store=store, bus=bus)
    bus.close()
    store.close()
    catalog.close()


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
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://factoryos.test") as c:
        yield c
