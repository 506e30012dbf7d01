"""The alarm console in a real Chromium: alarms appear live, an operator acknowledges one,
shelves another, and finds both actions in the history.

uvicorn serves the real app from a background thread whose event loop also runs the alarm
processor and publishes a sample of two tags every 200 ms to the bus, each beyond its limit.
"""

import asyncio
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from factoryos.api import Services, create_app
from factoryos.apps.alarms import LimitRule, Priority, StateRule
from factoryos.apps.alarms.config import AlarmConfig, AlarmInfo
from factoryos.apps.alarms.processor import AlarmProcessor
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.store.alarm_log import AlarmLog
from factoryos.store.catalog import Catalog, Role
from factoryos.store.duckdb_store import DuckDBStore
from support.browser import CHROMIUM_ARGS, Serve, chromium, served, uvicorn_server
from support.sites import MACHINING, POWER, TEMP, site_yaml

pytestmark = pytest.mark.browser

SCREENSHOT = Path("/tmp/factoryos-alarms.png")
HOT, STUCK = "Spindle power H", "CNC-02 temp stuck"


@dataclass
class Running:
    url: str
    operator: str
    viewer: str


def _config(ids: dict[str, int]) -> AlarmConfig:
    rules = [
        LimitRule(name=HOT, tag_id=ids[POWER], level="H", setpoint=40.0, priority=Priority.HIGH),
        StateRule(name=STUCK, tag_id=ids[TEMP], value=0.0, priority=Priority.MEDIUM),
    ]
    info = {
        HOT: AlarmInfo(HOT, POWER, POWER.rpartition("/")[0], True, "Spindle overload"),
        STUCK: AlarmInfo(STUCK, TEMP, TEMP.rpartition("/")[0], True, ""),
    }
    return AlarmConfig(rules, info)


def _with_alarms(catalog: Catalog, store: DuckDBStore, ids: dict[str, int]) -> Serve:
    async def serve(sock: socket.socket, stop: threading.Event) -> None:
        bus = InProcessBus()
        tenant = catalog.tenant_id("acme")
        assert tenant is not None
        alarms = AlarmProcessor(_config(ids), bus, AlarmLog(catalog), tenant)
        server = uvicorn_server(
            create_app(Services(catalog=catalog, store=store, bus=bus, alarms=alarms))
        )
        halt = asyncio.Event()

        async def publish() -> None:
            while not stop.is_set():
                now = time.time_ns()
                batch = SampleBatch.build([ids[POWER], ids[TEMP]], [now, now], [45.0, 0.0])
                await bus.publish(batch)
                await asyncio.sleep(0.2)
            halt.set()
            server.should_exit = True

        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(sockets=[sock]))
            tg.create_task(alarms.run(halt))
            tg.create_task(publish())

    return serve


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    ids = catalog.register_site(parse_site(site_yaml("acme", cells=(MACHINING,))))
    operator = catalog.create_api_key("acme", Role.OPERATOR, "night-shift")
    viewer = catalog.create_api_key("acme", Role.VIEWER, "wallboard")
    store = DuckDBStore(None)
    try:
        with served(_with_alarms(catalog, store, ids)) as port:
            yield Running(f"http://127.0.0.1:{port}/alarms", operator, viewer)
    finally:
        store.close()
        catalog.close()


def test_operator_acknowledges_and_shelves_and_sees_both_in_history(running: Running) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    executable = chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.set_default_timeout(10_000)

            page.goto(running.url)
            page.fill("#api-key", running.operator)
            page.click("#login-button")
            expect(page.locator("#who-role")).to_have_text("operator")

            hot = page.locator(f'#alarm-rows tr[data-alarm="{HOT}"]')
            stuck = page.locator(f'#alarm-rows tr[data-alarm="{STUCK}"]')
            expect(hot).to_have_attribute("data-state", "active_unacked")
            expect(stuck).to_have_attribute("data-state", "active_unacked")
            expect(hot.locator(".prio")).to_have_class("prio high")
            expect(hot.locator("td.num")).to_have_text("45")

            hot.locator("button.ack").click()
            expect(hot).to_have_attribute("data-state", "active_acked")
            expect(hot.locator("button.ack")).to_have_count(0)

            stuck.locator("button.shelve").click()  # no reason yet: refused in the page
            expect(page.locator("#console-error")).to_contain_text("reason")
            page.select_option("#shelve-duration", "900")
            page.fill("#shelve-reason", "sensor being replaced")
            stuck.locator("button.shelve").click()
            expect(stuck).to_have_attribute("data-state", "shelved")
            expect(stuck.locator("button.unshelve")).to_have_count(1)

            history = page.locator("#history-rows")
            acked = history.locator(f'tr[data-alarm="{HOT}"][data-kind="acknowledged"]')
            shelved = history.locator(f'tr[data-alarm="{STUCK}"][data-kind="shelved"]')
            expect(acked).to_contain_text("night-shift")
            expect(shelved).to_contain_text("sensor being replaced")

            page.select_option("#filter-kind", "shelved")
            page.click("#history-filter button")
            expect(history.locator("tr")).to_have_count(1)
            expect(history.locator("tr")).to_have_attribute("data-alarm", STUCK)
            page.screenshot(path=str(SCREENSHOT))
            assert errors == []

            page.click("#logout")
            page.fill("#api-key", running.viewer)
            page.click("#login-button")
            expect(page.locator("#who-role")).to_have_text("viewer")
            expect(hot).to_have_attribute("data-state", "active_acked")
            expect(page.locator("#alarm-rows button")).to_have_count(0)
            expect(page.locator("#operator-tools")).to_be_hidden()
        finally:
            browser.close()
