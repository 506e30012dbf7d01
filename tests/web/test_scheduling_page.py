"""The scheduling page in a real Chromium: the example plan (loaded into the page from the
static copy of docs/examples/plan.yaml) solved through the page, its Gantt chart drawn with a
bar per lot, the KPI cards, CP-SAT against the rules, the dispatch list and the CSV export;
then a lot dragged with the mouse to an hour later (pinned there and solved again), another
dragged to the other machine's row, a breakdown and a rush order repaired through the forms,
a hard problem's search drawn while it runs and stopped — and a viewer who sees the plans but
cannot change them.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from factoryos.api import create_app
from support.browser import CHROMIUM_ARGS, app_only, chromium, served
from support.plans import hard
from support.tenants import make_tenant, open_services

pytestmark = pytest.mark.browser

ROOT = Path(__file__).parents[2]
SCREENSHOT = Path("/tmp/factoryos-scheduling.png")


@dataclass
class Running:
    url: str
    engineer: str
    viewer: str

    def job(self, job_id: str) -> dict[str, Any]:
        r = httpx.get(
            f"{self.url}/api/schedules/{job_id}",
            headers={"Authorization": f"Bearer {self.viewer}"},
        )
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        acme = make_tenant(services.catalog, "acme")
        try:
            with served(app_only(create_app(services))) as port:
                yield Running(f"http://127.0.0.1:{port}", acme.engineer, acme.viewer)
        finally:
            services.scheduling.close()


def test_the_example_in_the_page_is_the_documented_one() -> None:
    static = ROOT / "src/factoryos/web/static/scheduling-example.yaml"
    assert static.read_text() == (ROOT / "docs/examples/plan.yaml").read_text()


def _sign_in(page: Any, expect: Any, key: str, role: str) -> None:
    page.fill("#api-key", key)
    page.click("#login-button")
    expect(page.locator("#who-role")).to_have_text(role)
    page.wait_for_function("() => window.factoryosSched.loaded === true")


def _wait_done(page: Any, previous: str | None = None) -> str:
    """The id of the job the page shows once it is finished (a new one after ``previous``)."""
    page.wait_for_function(
        """(previous) => {
            const s = window.factoryosSched;
            return s.job !== null && s.job !== previous && !["queued", "running"].includes(s.status);
        }""",  # noqa: E501
        arg=previous,
        timeout=30_000,
    )
    job_id: str = page.evaluate("() => window.factoryosSched.job")
    return job_id


def _bar(job: dict[str, Any], op: str, lot: int = 0) -> dict[str, Any]:
    (bar,) = [b for b in job["result"]["bars"] if b["op"] == op and b["lot"] == lot]
    return bar


def _drag(page: Any, op: str, hours: float, to_machine: str | None = None) -> dict[str, Any]:
    """Drag the lot's bar ``hours`` along the time axis (and to ``to_machine``'s row) with
    the mouse; the pin the page sent."""
    at = page.evaluate(f"() => window.factoryosSched.barPoint({op!r}, 0)")
    assert at is not None, op
    x, y = at["x"], at["y"]
    to_y = y if to_machine is None else at["rowY"][to_machine]
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 10, y, steps=3)
    page.mouse.move(x + hours * at["pxPerHour"], to_y, steps=12)
    page.mouse.up()
    page.wait_for_function("(op) => window.factoryosSched.lastPin?.op === op", arg=op)
    pin: dict[str, Any] = page.evaluate("() => window.factoryosSched.lastPin")
    expected = datetime.fromisoformat(at["start"]) + timedelta(hours=hours)
    sent = datetime.fromisoformat(pin["start"].replace("Z", "+00:00"))
    assert abs(sent - expected) <= timedelta(minutes=5), (sent, expected)  # 5-min snapping
    return pin


def _check_schedule(page: Any, expect: Any, running: Running, job_id: str) -> dict[str, Any]:
    job = running.job(job_id)
    assert job["status"] == "done"
    n = len(job["result"]["bars"])
    assert n >= 14  # every lot of the example's 5 orders
    assert page.evaluate("() => window.factoryosSched.bars") == n
    drawn = page.evaluate("() => window.factoryosSched.gantt().getOption().series[1].data.length")
    assert drawn == n
    shaded = page.evaluate("() => window.factoryosSched.gantt().getOption().series[0].data.length")
    assert shaded == len(job["result"]["downtime"]) > 0
    expect(page.locator("#kpis .kpi")).to_have_count(6)
    expect(page.locator('#kpis .kpi[data-kpi="Late orders"] .value')).to_have_text(
        str(job["result"]["kpis"]["late_orders"])
    )
    expect(page.locator("#compare-rows tr")).to_have_count(6)
    expect(page.locator('#compare-rows tr[data-method="cp-sat"]')).to_have_class("best")
    rows = job["result"]["schedule"]["machines"]["saw-1"]
    expect(page.locator("#dispatch-rows tr")).to_have_count(len(rows))
    page.select_option("#dispatch-machine", "deburr")
    deburr = job["result"]["schedule"]["machines"]["deburr"]
    expect(page.locator("#dispatch-rows tr")).to_have_count(len(deburr))
    points = page.evaluate("() => window.factoryosSched.progress().getOption().series[0].data")
    assert len(points) == len(job["progress"]) >= 1
    return job


def test_solve_drag_to_pin_and_repair_in_the_page(running: Running) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    executable = chromium()
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, headless=True, args=CHROMIUM_ARGS)
        try:
            context = browser.new_context(
                viewport={"width": 1500, "height": 1300},
                timezone_id="Europe/Berlin",
                accept_downloads=True,
            )
            page = context.new_page()
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(15_000)
            page.goto(f"{running.url}/scheduling")
            _sign_in(page, expect, running.engineer, "engineer")
            expect(page.locator("#doc")).to_have_value(
                (ROOT / "docs/examples/plan.yaml").read_text()
            )

            # a broken document: the problems with their lines, nothing queued
            page.fill("#doc", "start: 2026-11-30T06:00\nmachines: []\norders: []\n")
            page.click("#solve")
            expect(page.locator("#submit-error li").first).to_contain_text("line 2")
            expect(page.locator("#job-rows tr")).to_have_count(0)

            page.click("#load-example")
            page.fill("#solve-limit", "2")
            page.fill("#solve-name", "week 49")
            page.click("#solve")
            first = _wait_done(page)
            expect(page.locator("#job-panel")).to_have_attribute("data-status", "done")
            expect(page.locator("#job-title")).to_have_text("week 49")
            job = _check_schedule(page, expect, running, first)
            page.screenshot(path=str(SCREENSHOT), full_page=True)

            with page.expect_download() as download:
                page.click("#export-csv")
            text = Path(download.value.path()).read_text()
            assert text.startswith("machine,position,order,product,step,operation,lot,")
            assert len(text.strip().splitlines()) == len(job["result"]["bars"]) + 1

            # a real mouse drag: the frame's saw lot an hour later
            pin = _drag(page, "SO-1002/0", 1.0)
            assert (pin["machine"], pin["from"]) == ("saw-1", first)
            second = _wait_done(page, first)
            pinned = running.job(second)
            assert (pinned["kind"], pinned["parent"], pinned["status"]) == ("pin", first, "done")
            bar = _bar(pinned, "SO-1002/0")
            assert (bar["machine"], bar["pinned"]) == ("saw-1", True)
            assert datetime.fromisoformat(bar["start"]) == datetime.fromisoformat(
                pin["start"].replace("Z", "+00:00")
            )
            expect(page.locator("#moves-box")).to_be_visible()
            expect(page.locator('#move-rows tr[data-op="SO-1002/0"]')).to_have_count(1)
            assert page.evaluate("() => window.factoryosSched.bars") == len(
                pinned["result"]["bars"]
            )

            # and the housing's mill to the other machine's row, on Tuesday where it fits
            # between breaks (and, on cnc-1, after the maintenance window WO-17)
            housing = _bar(pinned, "SO-1003/0")
            other = "cnc-2" if housing["machine"] == "cnc-1" else "cnc-1"
            at = {"cnc-2": timedelta(hours=4, minutes=45), "cnc-1": timedelta(hours=8, seconds=150)}
            target = datetime.fromisoformat(pinned["origin"]) + timedelta(days=1) + at[other]
            hours = (target - datetime.fromisoformat(housing["start"])).total_seconds() / 3600
            pin = _drag(page, "SO-1003/0", hours, to_machine=other)
            third = _wait_done(page, second)
            moved = _bar(running.job(third), "SO-1003/0")
            assert (moved["machine"], moved["pinned"]) == (other, True)
            assert _bar(running.job(third), "SO-1002/0")["pinned"]  # the first pin holds

            # a breakdown of cnc-2 through the form
            page.select_option("#bd-machine", "cnc-2")
            page.fill("#bd-start", "2026-11-30T07:00")
            page.fill("#bd-end", "2026-11-30T12:00")
            page.click("#breakdown-form button")
            fourth = _wait_done(page, third)
            repaired = running.job(fourth)
            assert (repaired["kind"], repaired["status"]) == ("reschedule", "done")
            assert "breakdown of cnc-2" in repaired["note"]
            expect(page.locator("#job-note")).to_contain_text("breakdown of cnc-2")
            expect(page.locator("#moves-box")).to_be_visible()
            expect(page.locator("#job-rows tr")).to_have_count(4)

            # a rush order through the form: its two steps are planned into the repaired plan
            page.fill("#rush-id", "RUSH-7")
            page.select_option("#rush-product", "frame")
            page.fill("#rush-qty", "5")
            page.fill("#rush-due", "2026-12-01T12:00")
            page.click("#rush-form button")
            rush_id = _wait_done(page, fourth)
            rushed = running.job(rush_id)
            assert (rushed["kind"], rushed["status"], rushed["parent"]) == (
                "reschedule", "done", fourth,
            )  # fmt: skip
            steps = {b["op"] for b in rushed["result"]["bars"] if b["order"] == "RUSH-7"}
            assert steps == {"RUSH-7/0", "RUSH-7/1"}
            expect(page.locator("#job-rows tr")).to_have_count(5)

            # a hard problem: the search drawn while it runs, then stopped with its best
            page.fill("#doc", json.dumps(hard()))
            page.fill("#solve-limit", "30")
            page.fill("#solve-name", "hard")
            page.click("#solve")
            page.wait_for_function(
                """() => window.factoryosSched.status === "running"
                    && window.factoryosSched.progress().getOption().series[0].data.length >= 3"""
            )
            expect(page.locator("#job-status")).to_have_text("running")
            page.click("#cancel")
            fifth = _wait_done(page, rush_id)
            stopped = running.job(fifth)
            assert (stopped["status"], stopped["cancelled"]) == ("done", True)
            expect(page.locator("#job-status")).to_have_text("done (stopped)")
            assert page.evaluate("() => window.factoryosSched.bars") == len(
                stopped["result"]["bars"]
            )
            assert errors == []

            page.click("#logout")
            _sign_in(page, expect, running.viewer, "viewer")
            expect(page.locator("#solve")).to_be_disabled()
            expect(page.locator("#job-rows tr")).to_have_count(6)
            page.locator(f'#job-rows tr[data-job="{first}"] button.link').click()
            page.wait_for_function(
                f"() => window.factoryosSched.job === {first!r} && window.factoryosSched.bars > 0"
            )
            expect(page.locator("#reschedule-panel")).to_be_hidden()
            at = page.evaluate("() => window.factoryosSched.barPoint('SO-1002/0', 0)")
            page.mouse.move(at["x"], at["y"])
            page.mouse.down()
            page.mouse.move(at["x"] + at["pxPerHour"], at["y"], steps=8)
            page.mouse.up()
            page.wait_for_timeout(500)
            assert page.evaluate("() => window.factoryosSched.job") == first  # no pin
            expect(page.locator("#job-rows tr")).to_have_count(6)
            assert errors == []
        finally:
            browser.close()
