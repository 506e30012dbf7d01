"""The SPC page in a real Chromium against a real server with real data.

A lathe's turned diameter is written to the store as the drivers would (one sample a
second for the last 20 minutes, one subgroup of five shifted far off), its lot tag beside
it, and the platform's periodic evaluation runs once; inspectors post short-shot counts
through the HTTP API, the last one far too many. An operator then sees the X̄ chart with
the right number of points and the shifted one flagged with its rule, the R chart beneath,
the capability histogram and indices, switches to the p chart of the posted results, and
acknowledges an alarm; a viewer sees the same without the button.
"""

import math
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest

from factoryos.api import create_app
from factoryos.apps.trace.spc.config import SpcSection
from factoryos.apps.trace.spc.service import SpcService
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.model.timeparse import format_ns
from factoryos.store.catalog import Role
from support.browser import CHROMIUM_ARGS, app_only, chromium, served
from support.sites import Cell, Equipment, site_yaml
from support.tenants import open_services

pytestmark = pytest.mark.browser

S = 1_000_000_000
HOUR_NS = 3_600 * S
LATHE = "plant1/turning/line1/cell1/lathe-01"
SITE = site_yaml(
    "acme",
    cells=(
        Cell("turning", "line1", "cell1",
             (Equipment("lathe-01", ("{name: diameter_mm, unit: mm}", "{name: lot}")),)),
    ),
)  # fmt: skip
SPC = {
    "characteristics": {
        "diameter": {
            "description": "Turned diameter",
            "equipment": LATHE,
            "source": {"tag": "diameter_mm"},
            "chart": "xbar_r",
            "subgroup": {"size": 5},
            "spec": {"lsl": 9.95, "usl": 10.05, "target": 10.0, "unit": "mm"},
            "lot": {"tag": "lot"},
        },
        "short-shots": {
            "equipment": LATHE,
            "source": "inspection",
            "chart": "p",
            "limits": {"p": 0.02},
            "lot": "inspection",
        },
    }
}
SAMPLES = 1_200
SHIFTED = 600  # the first sample of the shifted subgroup (a whole subgroup of the hour)
SCREENSHOT = Path("/tmp/factoryos-spc.png")


@dataclass
class Running:
    url: str
    operator: str
    viewer: str
    points: int  # X̄ points the page must show
    shifted_time: int  # ns: the shifted subgroup's point
    results: int


def _diameters(ids: dict[str, int]) -> tuple[SampleBatch, SampleBatch, int, int]:
    """Twenty minutes of diameters ending now, lots, the X̄ point count and the shifted
    point's time (subgroups restart at every whole hour, as docs/spc.md says)."""
    start = time.time_ns() // S * S - SAMPLES * S
    ts = start + np.arange(SAMPLES, dtype=np.int64) * S
    values = 10.0 + np.random.default_rng(5).normal(0.0, 0.005, SAMPLES)
    hour = ts // HOUR_NS
    rank = np.arange(SAMPLES) - np.searchsorted(hour, hour)
    whole = [i for i in range(SHIFTED, SAMPLES - 4) if rank[i] % 5 == 0 and hour[i + 4] == hour[i]]
    first = whole[0]
    values[first : first + 5] += 0.05
    counts = np.unique(hour, return_counts=True)[1]
    points = int((counts // 5).sum())
    measured = SampleBatch.build(np.full(SAMPLES, ids[f"{LATHE}/diameter_mm"]), ts, values)
    lots = SampleBatch.build(np.full(2, ids[f"{LATHE}/lot"]), [start - S, ts[first]], [41, 42])
    return measured, lots, points, int(ts[first + 4])


def _post_results(url: str, key: str) -> int:
    headers = {"Authorization": f"Bearer {key}"}
    now = time.time_ns()
    counts = [2, 1, 3, 2, 2, 1, 30]
    for i, n in enumerate(counts):
        at = now - (len(counts) - i) * 60 * S
        body = {
            "time": format_ns(at),
            "lot": f"L{100 + i}",
            "defectives": n,
            "sample_size": 100,
        }
        r = httpx.post(f"{url}/api/spc/characteristics/short-shots/inspections", json=body,
                       headers=headers)  # fmt: skip
        assert r.status_code == 201, r.text
    assert r.json()["alarms"][0]["lot"] == "L106"
    return len(counts)


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        ids = services.catalog.register_site(parse_site(SITE))
        measured, lots, points, shifted = _diameters(ids)
        services.store.write(measured)
        services.store.write(lots)
        spc = SpcService(
            SpcSection.model_validate(SPC), services.catalog, services.store, ids, "acme"
        )
        assert spc.evaluate_all(time.time_ns()) > 0  # what the platform's job does
        operator = services.catalog.create_api_key("acme", Role.OPERATOR, "line-3")
        viewer = services.catalog.create_api_key("acme", Role.VIEWER, "wallboard")
        with served(app_only(create_app(replace(services, spc=spc)))) as port:
            url = f"http://127.0.0.1:{port}"
            results = _post_results(url, operator)
            yield Running(url, operator, viewer, points, shifted, results)


def _sign_in(page: Any, expect: Any, key: str, role: str) -> None:
    page.fill("#api-key", key)
    page.click("#login-button")
    expect(page.locator("#who-role")).to_have_text(role)
    page.wait_for_function("() => window.factoryosSpc.loaded === true")


def _series_lengths(page: Any, chart: str) -> dict[str, int]:
    script = f"""() => Object.fromEntries(window.factoryosSpc.chart({chart!r}).getOption()
        .series.map(s => [s.name, s.data.length]))"""
    lengths: dict[str, int] = page.evaluate(script)
    return lengths


def _tooltip(page: Any, chart: str, series: int, index: int) -> str:
    page.evaluate(
        f"""() => window.factoryosSpc.chart({chart!r}).dispatchAction(
            {{type: "showTip", seriesIndex: {series}, dataIndex: {index}}})"""
    )
    tip = page.locator(f"#{chart} div").filter(has_text="value").last
    text: str = tip.inner_text()
    return text


def _check_diameter(page: Any, expect: Any, running: Running) -> None:
    expect(page.locator("#char-select")).to_have_value("diameter")
    expect(page.locator("#location-title")).to_have_text("X̄ chart (mm)")
    expect(page.locator("#chart-location canvas")).to_have_count(1)
    assert page.evaluate("() => window.factoryosSpc.points") == running.points
    lengths = _series_lengths(page, "chart-location")
    assert lengths["X̄ chart"] == lengths["UCL"] == lengths["CL"] == running.points
    assert lengths["out of control"] >= 1
    assert _series_lengths(page, "chart-spread")["R chart"] == running.points
    expect(page.locator("#spread-title")).to_have_text("R chart")

    at = format_ns(running.shifted_time)
    shifted = page.locator(f'#violation-rows tr[data-role="location"][data-time="{at}"]')
    expect(shifted).to_have_count(1)
    expect(shifted).to_have_attribute("data-rule", "WE1")
    expect(shifted).to_contain_text("one point beyond 3σ")
    expect(shifted).to_contain_text("42")  # the lot the lot tag held then
    flagged: list[float] = page.evaluate(
        """() => window.factoryosSpc.chart("chart-location").getOption()
            .series[4].data.map(d => d.value[0])"""
    )
    assert running.shifted_time // 1_000_000 in flagged
    index = flagged.index(running.shifted_time // 1_000_000)
    tip = _tooltip(page, "chart-location", 4, index)
    assert "WE1 one point beyond 3σ" in tip and "lot 42" in tip

    expect(page.locator('#cap-rows tr[data-index="Cpk"] td').nth(2)).to_contain_text("–")
    expect(page.locator("#cap-summary")).to_contain_text(f"n = {running.points * 5}")
    bins = _series_lengths(page, "chart-capability")["histogram"]
    assert bins == math.ceil(math.sqrt(running.points * 5))  # √n bins
    marks = page.evaluate(
        """() => window.factoryosSpc.chart("chart-capability").getOption()
            .series[1].markLine.data.map(d => d.name)"""
    )
    assert marks == ["LSL", "target", "USL"]


def _check_results_and_acknowledge(page: Any, expect: Any, running: Running) -> None:
    page.select_option("#char-select", "short-shots")
    expect(page.locator("#location-title")).to_have_text("p chart")
    page.wait_for_function(f"() => window.factoryosSpc.points === {running.results}")
    expect(page.locator("#chart-spread")).to_be_hidden()
    expect(page.locator("#capability-panel")).to_be_hidden()
    out = page.locator('#violation-rows tr[data-rule="WE1"]')
    expect(out).to_have_count(1)
    expect(out).to_contain_text("L106")

    row = page.locator("#alarm-rows tr.alarm").filter(has_text="L106").filter(has_text="WE1")
    expect(row).to_have_attribute("data-state", "active")
    alarm_id = row.get_attribute("data-alarm")
    row.locator("button.ack").click()
    expect(page.locator(f'#alarm-rows tr[data-alarm="{alarm_id}"]')).to_have_count(0)
    page.select_option("#alarm-filter", "")
    acked = page.locator(f'#alarm-rows tr[data-alarm="{alarm_id}"]')
    expect(acked).to_have_attribute("data-state", "acknowledged")
    expect(page.locator("#alarm-act-error")).to_have_text("")


def test_operator_reads_the_charts_and_acknowledges_a_viewer_only_looks(
    running: Running,
) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 1600})
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(10_000)
            page.goto(f"{running.url}/spc")
            _sign_in(page, expect, running.operator, "operator")
            _check_diameter(page, expect, running)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
            _check_results_and_acknowledge(page, expect, running)

            page.click("#logout")
            _sign_in(page, expect, running.viewer, "viewer")
            page.check("#alarm-all")
            expect(page.locator("#alarm-rows tr.alarm").first).to_be_visible()
            expect(page.locator("#spc-view button.ack")).to_have_count(0)
            assert errors == []
        finally:
            browser.close()

    headers = {"Authorization": f"Bearer {running.viewer}"}
    answer = httpx.get(f"{running.url}/api/spc/alarms", params={"state": "acknowledged"},
                       headers=headers)  # fmt: skip
    (acked,) = answer.json()["alarms"]
    assert (acked["characteristic"], acked["lot"], acked["acked_by"]) == (
        "short-shots", "L106", "line-3",
    )  # fmt: skip
