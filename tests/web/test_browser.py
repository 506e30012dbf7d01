"""The web UI in a real Chromium: sign in, pick a tag, watch live points arrive.

uvicorn serves the real app on a free port from a background thread whose event loop also
publishes one sample every 100 ms to the bus. Playwright drives Debian's Chromium.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from factoryos.api import Services, create_app
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.store.catalog import Catalog, Role
from factoryos.store.duckdb_store import DuckDBStore
from support.browser import CHROMIUM_ARGS, Serve, chromium, served, uvicorn_server
from support.sites import AIR_STATION, MACHINING, POWER, site_yaml

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/factoryos-web.png")
LOGIN_SCREENSHOT = Path("/tmp/factoryos-login.png")


def power_at(t_ns: int) -> float:
    return round(12.0 + 4.0 * float(np.sin(t_ns / 6e10)), 3)


@dataclass
class Running:
    url: str
    key: str


def _publishing(app: object, bus: InProcessBus, tag_id: int) -> Serve:
    """Serve ``app`` and publish one sample every 100 ms until stopped."""

    async def serve(sock: socket.socket, stop: threading.Event) -> None:
        server = uvicorn_server(app)

        async def publish() -> None:
            while not stop.is_set():
                now = time.time_ns()
                await bus.publish(SampleBatch.build([tag_id], [now], [power_at(now)]))
                await asyncio.sleep(0.1)
            server.should_exit = True

        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(sockets=[sock]))
            tg.create_task(publish())

    return serve


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.create_all()
    text = site_yaml("acme", enterprise="acme", cells=(MACHINING, AIR_STATION))
    ids = catalog.register_site(parse_site(text))
    key = catalog.create_api_key("acme", Role.VIEWER, "browser-test")
    store = DuckDBStore(None)
    now = time.time_ns()
    past = now - np.arange(60, 0, -1) * 30 * 10**9  # the last half hour, every 30 s
    quality = np.full(len(past), Quality.GOOD, dtype=np.uint8)
    quality[-3] = Quality.UNCERTAIN
    store.write(
        SampleBatch.build(
            np.full(len(past), ids[POWER]), past, [power_at(int(t)) for t in past], quality
        )
    )
    bus = InProcessBus()
    app = create_app(Services(catalog=catalog, store=store, bus=bus))
    try:
        with served(_publishing(app, bus, ids[POWER])) as port:
            yield Running(f"http://127.0.0.1:{port}/", key)
    finally:
        store.close()
        catalog.close()


def test_sign_in_pick_a_tag_and_see_live_points(running: Running) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 760})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            # Chromium logs the expected 401 of the wrong key below as a console error.
            expected = "the server responded with a status of 401"
            page.set_default_timeout(10_000)

            page.goto(running.url)
            page.fill("#api-key", "fos_wrong")
            page.click("#login-button")
            sync_api.expect(page.locator("#login-error")).to_contain_text("rejected")
            page.screenshot(path=str(LOGIN_SCREENSHOT))

            page.fill("#api-key", running.key)
            page.click("#login-button")
            sync_api.expect(page.locator("#who-role")).to_have_text("viewer")
            page.locator("#tree summary", has_text="cnc-01").click()  # equipment starts closed
            page.locator(f'#tree .tag[data-path="{POWER}"]').click()

            sync_api.expect(page.locator("#live-status")).to_have_text("live")
            chart = page.locator("#chart")
            history = int(chart.get_attribute("data-points") or 0)
            assert history >= 60, "the last hour of history should be on the chart"
            page.wait_for_function(
                "n => Number(document.getElementById('chart').dataset.points) >= n",
                arg=history + 10,
            )
            assert page.evaluate("window.factoryos.points") >= history + 10
            sync_api.expect(page.locator("#last-quality")).to_have_class("quality good")
            sync_api.expect(page.locator("#tag-path")).to_have_text(POWER)
            page.screenshot(path=str(SCREENSHOT))
            assert [e for e in errors if expected not in e] == []

            page.click("#logout")
            sync_api.expect(page.locator("#login-view")).to_be_visible()
            assert page.evaluate("sessionStorage.length") == 0
        finally:
            browser.close()
