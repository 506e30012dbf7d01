"""The UI's page and assets: served without a credential, nothing from a CDN."""

import re
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from factoryos import __version__
from factoryos.api import Services, create_app
from factoryos.bus.inprocess import InProcessBus
from factoryos.store.catalog import Catalog
from factoryos.store.duckdb_store import DuckDBStore
from support.asgi import asgi_client

VENDOR = Path(__file__).parents[2] / "src/factoryos/web/static/vendor"


@pytest.fixture
async def client(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'c.sqlite'}")
    catalog.create_all()
    store = DuckDBStore(None)
    app = create_app(Services(catalog=catalog, store=store, bus=InProcessBus()))
    async with asgi_client(app) as c:
        yield c
    store.close()
    catalog.close()


PAGES = ("/", "/oee", "/alarms", "/maintenance", "/scheduling", "/trace", "/spc", "/energy")


@pytest.mark.parametrize("page", PAGES)
async def test_pages_are_public_and_load_only_local_assets(
    client: httpx.AsyncClient, page: str
) -> None:
    r = await client.get(page)
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in r.headers["content-security-policy"]
    sources = re.findall(r'(?:src|href)="([^"]+)"', r.text)
    if page != "/alarms":
        assert f"/static/vendor/echarts.min.js?v={__version__}" in sources
    links = set(re.findall(r'<a href="([^"]+)"', r.text))
    assert links == set(PAGES), "every page links the others"
    for source in sources:
        if source in links:
            continue
        assert source.startswith(("/static/", "data:")), source
        if source.startswith("/static/"):
            asset = await client.get(source)
            assert asset.status_code == 200, source


def test_echarts_is_vendored_with_its_licence() -> None:
    assert "Apache License" in (VENDOR / "echarts.LICENSE").read_text()
    head = (VENDOR / "echarts.min.js").read_text()[:2000]
    assert "Apache Software Foundation" in head
