"""The energy page in a real Chromium against a real server over twelve simulated hours of
the demo plant ending now, configured by the demo's own apps file.

An engineer sees the site's energy, load profile, every metered place and the compressor
station, issues this month's carbon report, reads it (the figures equal the API's), issues
it again (nothing new) and downloads its PDF, which renders; a viewer reads the report but
has no button to issue one.
"""

import calendar
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from factoryos.api import create_app
from factoryos.api.services import EnergyApp
from factoryos.apps.energy.carbon_service import CarbonService
from factoryos.apps.energy.config import load_section
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.oee.config import load_section as load_oee
from factoryos.apps.oee.service import OeeService
from factoryos.cli import DEMO_APPS
from factoryos.model.appsfile import load_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.store.carbon_reports import CarbonReports
from factoryos.store.catalog import Role
from support import pdfpixels
from support.browser import CHROMIUM_ARGS, app_only, chromium, served
from support.tenants import open_services

pytestmark = pytest.mark.browser

S = 1_000_000_000
STEP_S = 10.0
HOURS = 12
SCREENSHOT = Path("/tmp/factoryos-energy.png")


@dataclass
class Running:
    url: str
    engineer: str
    viewer: str
    places: int


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    site = load_demo_site()
    apps = load_apps_file(DEMO_APPS)
    section, oee = load_section(apps, site), load_oee(apps, site)
    assert section is not None and section.carbon is not None and oee is not None
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        ids = services.catalog.register_site(site)
        start = (time.time_ns() // S - HOURS * 3600) * S
        factory = VirtualFactory(site, seed=3, start_ns=start, step_s=STEP_S)
        record_history(factory, services.store, ids, int(HOURS * 3600 / STEP_S))
        energy = EnergyService(section, services.store, ids, OeeService(oee, services.store, ids))
        tenant = site.site.tenant
        carbon = CarbonService(
            section.carbon, apps.source, energy, CarbonReports(services.catalog),
            services.catalog.ensure_tenant(tenant), site.site.name,
        )  # fmt: skip
        engineer = services.catalog.create_api_key(tenant, Role.ENGINEER, "energy-manager")
        viewer = services.catalog.create_api_key(tenant, Role.VIEWER, "auditor")
        app = create_app(replace(services, energy=EnergyApp(tenant, energy, carbon)))
        with served(app_only(app)) as port:
            yield Running(f"http://127.0.0.1:{port}", engineer, viewer, len(energy.places))


def _sign_in(page: Any, expect: Any, key: str, role: str) -> None:
    page.fill("#api-key", key)
    page.click("#login-button")
    expect(page.locator("#who-role")).to_have_text(role)
    page.wait_for_function("() => window.factoryosEnergy.loaded === true")


def _check_energy(page: Any, expect: Any, running: Running) -> None:
    expect(page.locator("#place")).to_have_value("demo")
    expect(page.locator("#meters")).to_have_text("meters: incomer")
    facts = page.evaluate("() => window.factoryosEnergy")
    assert facts["places"] == running.places == 8  # the site and its seven metered machines
    assert facts["compressors"] == 2
    assert facts["profilePoints"] == 24 * 4 + 1  # whole 15-min intervals around the last day
    expect(page.locator("#air-rows tr")).to_have_count(2)
    expect(page.locator("#tile-kwh .target")).to_contain_text("% of the range measured")
    expect(page.locator("#chart-profile canvas")).to_have_count(1)
    measured: list[float | None] = page.evaluate(
        """() => window.factoryosEnergy.chart("chart-profile").getOption()
            .series[0].data.map(d => d[1])"""
    )
    kw = [v for v in measured if v is not None]
    assert len(kw) >= HOURS * 4 - 1 and min(kw) > 12.0  # never below the 12 kW base load


def _report_from_api(running: Running, key: str, period: str, version: int) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"}
    r = httpx.get(f"{running.url}/api/energy/carbon/reports/{period}/{version}", headers=headers)
    assert r.status_code == 200, r.text
    report: dict[str, Any] = r.json()["report"]
    return report


def _issue_and_read(page: Any, expect: Any, running: Running, period: str) -> None:
    expect(page.locator("#carbon-period")).to_have_value(period)
    page.click("#carbon-issue")
    page.wait_for_function("() => window.factoryosEnergy.report !== null")
    shown = page.evaluate("() => window.factoryosEnergy.report")
    assert (shown["period"], shown["version"]) == (period, 1)
    report = _report_from_api(running, running.engineer, period, 1)
    assert shown["location"] == report["totals"]["location"]["total"] > 0
    assert shown["market"] == report["totals"]["market"]["total"]
    expect(page.locator("#report-title")).to_have_text(f"GHG inventory {period} (version 1)")
    expect(page.locator("#report-lines tbody tr")).to_have_count(len(report["lines"]))
    expect(page.locator("#report-lines")).to_contain_text("cn.grid.national.2023 = 0.5306 t/MWh")
    expect(page.locator("#report-facts")).to_contain_text(report["factor_set"]["digest"])
    year, month = int(period[:4]), int(period[5:])
    days: list[str] = page.evaluate(
        """() => window.factoryosEnergy.chart("chart-electricity").getOption().xAxis[0].data"""
    )
    assert len(days) == calendar.monthrange(year, month)[1]
    expect(page.locator("#carbon-rows tr")).to_have_count(1)

    page.click("#carbon-issue")  # the same data and factors: nothing new
    expect(page.locator("#carbon-error")).to_have_text(
        "Unchanged since version 1: nothing new issued."
    )
    expect(page.locator("#carbon-rows tr")).to_have_count(1)


def _download_pdf(page: Any, period: str) -> None:
    with page.expect_download() as caught:
        page.locator(f'#carbon-rows tr[data-period="{period}"] button.pdf').click()
    download = caught.value
    assert download.suggested_filename == f"ghg-inventory_demo_{period}_v1.pdf"
    data = Path(download.path()).read_bytes()
    pages = pdfpixels.render(data)
    assert data.startswith(b"%PDF") and len(pages) >= 2
    assert all(pdfpixels.inked(p) > 0.01 for p in pages)


def test_an_engineer_issues_and_downloads_a_carbon_report_a_viewer_reads_it(
    running: Running,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    period = datetime.now(UTC).strftime("%Y-%m")
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1400, "height": 1800}, accept_downloads=True, timezone_id="UTC"
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(15_000)
            page.goto(f"{running.url}/energy")
            _sign_in(page, expect, running.engineer, "engineer")
            _check_energy(page, expect, running)
            _issue_and_read(page, expect, running, period)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            _download_pdf(page, period)

            page.click("#logout")
            _sign_in(page, expect, running.viewer, "viewer")
            expect(page.locator("#issue-tools")).to_be_hidden()
            page.locator(f'#carbon-rows tr[data-period="{period}"] button.view').click()
            expect(page.locator("#report-title")).to_have_text(
                f"GHG inventory {period} (version 1)"
            )
            assert errors == []
        finally:
            browser.close()
