"""The traceability page in a real Chromium, over a real server with events captured through
the API: a finished unit traced backward to its lots (graph nodes and table rows as the API
answers), the same lot traced forward, the event list of an identifier paged with "More"
through the query API's Link header, an event opened as JSON, and a bad identifier refused.
"""

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from factoryos.api import create_app
from support.browser import CHROMIUM_ARGS, app_only, chromium, served
from support.tenants import make_tenant, open_services

pytestmark = pytest.mark.browser

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "epcis" / "examples"
TRANSFORMATION = EXAMPLES / "json" / "Example_9.6.4-TransformationEvent.jsonld"
UNIT = "urn:epc:id:sgtin:4012345.077889.25"  # an output of the transformation
LOT = "urn:epc:class:lgtin:4012345.011111.4444"  # one of its input lots
CASE = "urn:epc:id:sscc:4012345.0000000042"
CUSTOMER = "urn:epc:id:pgln:4012345.00099"
SCREENSHOT = Path("/tmp/factoryos-trace.png")


@dataclass
class Running:
    url: str
    viewer: str
    operator: str

    def get(self, path: str, **params: str) -> Any:
        headers = {"Authorization": f"Bearer {self.viewer}"}
        r = httpx.get(f"{self.url}{path}", params=params, headers=headers)
        assert r.status_code == 200, r.text
        return r.json()


def _observations(n: int) -> dict[str, Any]:
    """``n`` observations of the case at a dock door, then the packing of the unit into it."""
    events: list[dict[str, Any]] = [
        {
            "type": "ObjectEvent",
            "eventTime": f"2024-05-01T{6 + i // 60:02d}:{i % 60:02d}:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [CASE],
            "action": "OBSERVE",
            "bizStep": "inspecting",
            "readPoint": {"id": "urn:epc:id:sgln:4012345.00001.0"},
        }
        for i in range(n)
    ]
    events.append(
        {
            "type": "AggregationEvent",
            "eventTime": "2024-05-02T06:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "parentID": CASE,
            "childEPCs": [UNIT],
            "action": "ADD",
            "bizStep": "packing",
        }
    )
    events.append(
        {
            "type": "ObjectEvent",
            "eventTime": "2024-05-03T06:00:00Z",
            "eventTimeZoneOffset": "+00:00",
            "epcList": [CASE],
            "action": "OBSERVE",
            "bizStep": "shipping",
            "disposition": "in_transit",
            "bizLocation": {"id": "urn:epc:id:sgln:4012345.00001.0"},
            "destinationList": [{"type": "owning_party", "destination": CUSTOMER}],
        }
    )
    return {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-05-02T06:00:00Z",
        "epcisBody": {"eventList": events},
    }


@pytest.fixture
def running(tmp_path: Path) -> Iterator[Running]:
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        acme = make_tenant(services.catalog, "acme")
        with served(app_only(create_app(services))) as port:
            run = Running(f"http://127.0.0.1:{port}", acme.viewer, acme.operator)
            headers = {"Authorization": f"Bearer {acme.operator}"}
            for body in (TRANSFORMATION.read_text(), json.dumps(_observations(70))):
                r = httpx.post(f"{run.url}/api/epcis/capture", content=body, headers=headers)
                assert r.status_code == 201, r.text
            yield run


def test_trace_graph_events_and_paging(running: Running) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    expect = sync_api.expect
    backward = running.get("/api/trace/genealogy", id=CASE, direction="backward")
    assert LOT in backward["levels"] and backward["levels"][UNIT] == 1
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=chromium(), headless=True, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1200})
            errors: list[str] = []
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.set_default_timeout(15_000)
            page.goto(f"{running.url}/trace?id={CASE}")
            page.fill("#api-key", running.viewer)
            page.click("#login-button")
            page.wait_for_function("() => window.factoryosTrace.traces === 1")

            # the graph and the table hold what the API answered
            state = page.evaluate("() => window.factoryosTrace")
            assert state["nodes"] == len(backward["levels"])
            assert state["edges"] == len(backward["steps"])
            expect(page.locator("#level-rows tr")).to_have_count(len(backward["levels"]))
            expect(page.locator("#level-rows")).to_contain_text(LOT)
            assert page.locator("#trace-graph canvas").count() == 1

            # events naming the case: 70 observations, the packing and the shipping, 50 a page
            page.wait_for_function("() => window.factoryosTrace.events === 50")
            expect(page.locator("#event-rows tr")).to_have_count(50)
            page.click("#events-more")
            page.wait_for_function("() => window.factoryosTrace.events === 72")
            expect(page.locator("#events-more")).to_be_hidden()
            page.locator("#event-rows tr").first.click()  # the newest: the shipping
            expect(page.locator("#event-json")).to_contain_text('"bizStep": "shipping"')
            page.screenshot(path=str(SCREENSHOT))

            # forward from the lot: the unit, then the case it was packed in
            page.fill("#trace-id", LOT)
            page.select_option("#trace-direction", "forward")
            page.click("#trace-form button")
            page.wait_for_function("() => window.factoryosTrace.traces === 2")
            expect(page.locator("#level-rows")).to_contain_text(UNIT)
            expect(page.locator("#level-rows")).to_contain_text(CASE)

            # the recall scope of the lot: the unit, the case, the customer it was shipped to
            recall = running.get("/api/trace/recall", id=LOT)
            assert [c["party"] for c in recall["customers"]] == [CUSTOMER]
            page.click("#recall-button")
            page.wait_for_function("() => window.factoryosTrace.recalls === 1")
            expect(page.locator("#customer-rows tr")).to_have_count(1)
            expect(page.locator("#customer-rows")).to_contain_text(CUSTOMER)
            expect(page.locator("#location-rows tr")).to_have_count(len(recall["locations"]))
            expect(page.locator("#recall-summary")).to_contain_text("1 customers")
            page.screenshot(path=str(SCREENSHOT))

            # a depth out of range is refused with the parameter named
            page.fill("#trace-depth", "500")
            page.click("#trace-form button")
            expect(page.locator("#trace-error")).to_contain_text("depth")
            assert errors == []
        finally:
            browser.close()
