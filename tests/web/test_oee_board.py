"""The OEE board in a real Chromium over two simulated days of the demo plant."""

import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from factoryos.api import create_app
from factoryos.api.services import OeeApp
from factoryos.apps.oee.config import load_section
from factoryos.apps.oee.service import OeeService
from factoryos.model.appsfile import parse_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.store.catalog import Role
from support.browser import CHROMIUM_ARGS, app_only, chromium, served
from support.tenants import open_services

pytestmark = pytest.mark.browser

LINE = "demo/machining/line1"
APPS = f"""
oee:
  targets: {{oee: 0.6}}
  reasons: {{1: {{text: machine fault, loss: breakdowns}}}}
  calendars:
    three:
      shifts:
        - {{name: day, start: "06:00", end: "18:00"}}
        - {{name: night, start: "18:00", end: "06:00"}}
  equipment:
    {LINE}/cell1/cnc-01: &cnc
      calendar: three
      state_tag: state
      reason_tag: alarm_active
      counters: {{produced: cycle_count, good: good_count, scrap: scrap_count}}
      ideal_cycle_s: 90
    {LINE}/cell1/cnc-02: {{<<: *cnc, ideal_cycle_s: 75}}
    {LINE}/cell1/cnc-03: {{<<: *cnc, ideal_cycle_s: 120}}
"""
SCREENSHOT = Path("/tmp/factoryos-oee.png")


@dataclass
class Running:
    url: str
    key: str


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    site = load_demo_site()
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        tag_ids = services.catalog.register_site(site)
        days = 2
        # The history ends at the last 05:00 UTC, before any shift: which stops are newest
        # must not depend on the hour the test runs at.
        day_ns = 86_400 * 10**9
        now = time.time_ns()
        end = now - (now - 5 * 3_600 * 10**9) % day_ns
        start = end - days * day_ns
        factory = VirtualFactory(site, seed=2, start_ns=start, step_s=10.0)
        record_history(factory, services.store, tag_ids, days * 8640)
        section = load_section(parse_apps_file(APPS, "apps.yaml"), site)
        assert section is not None
        oee = OeeApp(site.site.tenant, OeeService(section, services.store, tag_ids))
        key = services.catalog.create_api_key(site.site.tenant, Role.OPERATOR, "shift-lead")
        app = create_app(replace(services, oee=oee))
        with served(app_only(app)) as port:
            yield Running(f"http://127.0.0.1:{port}/oee", key)


def test_board_shows_the_line_against_target_with_trend_and_pareto(running: Running) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    executable = chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(running.url)
        page.fill("#api-key", running.key)
        page.click("#login-button")
        page.wait_for_function("() => window.factoryosOee.loaded === true", timeout=30_000)
        assert page.input_value("#line") == LINE
        oee = page.evaluate("() => window.factoryosOee.oee")
        assert 0 < oee < 1
        shown = page.text_content(".tile[data-kpi=oee] .value") or ""
        assert shown == f"{oee * 100:.1f} %"
        tile_class = page.get_attribute(".tile[data-kpi=oee]", "class") or ""
        assert ("on-target" in tile_class) == (oee >= 0.6)
        assert "bottleneck: cnc-03" in (page.text_content("#bottleneck") or "")
        assert page.locator("#equipment tbody tr").count() == 3
        assert page.locator("#equipment tr.bottleneck").count() == 1
        assert page.evaluate("() => window.factoryosOee.pareto") >= 1
        assert page.locator("#trend canvas").count() == 1
        assert page.locator("#pareto canvas").count() == 1
        # the operator gives an unassigned stop its reason; the Pareto counts it at once
        row = page.locator("#stops tbody tr:has(select)").first
        start = row.locator("td").nth(1).text_content()
        row.locator("select").select_option("1")
        edited = "#stops tbody tr:has-text('1 machine fault ✎')"
        page.wait_for_selector(edited)
        saved = page.locator(edited)
        starts = [saved.nth(i).locator("td").nth(1).text_content() for i in range(saved.count())]
        assert start in starts
        # a shorter range redraws per shift
        page.select_option("#range", "1")
        page.wait_for_function(
            "() => document.getElementById('trend-unit').textContent === 'shift'"
        )
        with page.expect_download() as download:
            page.click("button.download[data-format=xlsx]")
        assert download.value.suggested_filename.endswith(".xlsx")
        page.screenshot(path=str(SCREENSHOT))
        assert errors == []
        browser.close()
