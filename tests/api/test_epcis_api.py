"""EPCIS over REST on the real app (catalog on SQLite, two tenants): capture JSON and XML,
query with the standard's parameters and follow the Link header page by page, read one
event, trace genealogy; bad documents and parameters answered 4xx naming the part, nothing
stored; roles and tenants kept apart."""

import json
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from factoryos.apps.trace.epcis.validate import validate_document
from factoryos.store.catalog import Role
from support.tenants import Tenant, acme, globex, services

__all__ = ["acme", "globex", "services"]  # fixtures, used by name

EXAMPLES = Path(__file__).resolve().parents[3] / "shared" / "datasets" / "epcis" / "examples"
OBJECT = EXAMPLES / "json" / "Example_9.6.1-ObjectEvent.jsonld"
TRANSFORMATION = EXAMPLES / "json" / "Example_9.6.4-TransformationEvent.jsonld"
AGGREGATION_XML = EXAMPLES / "xml" / "WithExtension" / "AggregationEvent.xml"  # one event
CAPTURE, EVENTS = "/api/epcis/capture", "/api/epcis/events"
DOCUMENTS = {p: p.read_bytes() for p in (OBJECT, TRANSFORMATION, AGGREGATION_XML)}


async def _capture(client: httpx.AsyncClient, t: Tenant, path: Path) -> dict[str, Any]:
    content = DOCUMENTS[path]
    xml = path.suffix == ".xml"
    headers = {
        **t.auth(Role.OPERATOR),
        "Content-Type": "application/xml" if xml else "application/ld+json",
    }
    r = await client.post(CAPTURE, content=content, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_capture_is_idempotent_and_query_pages_follow_the_link(
    client: httpx.AsyncClient, acme: Tenant, globex: Tenant
) -> None:
    for path in (OBJECT, TRANSFORMATION, AGGREGATION_XML):
        assert (await _capture(client, acme, path))["captured"] >= 1
    again = await _capture(client, acme, OBJECT)
    assert again["captured"] == 0 and len(again["duplicates"]) == 2

    events: list[dict[str, Any]] = []
    url: str | None = f"{EVENTS}?perPage=2&orderDirection=ASC"
    pages = 0
    while url is not None:
        r = await client.get(url, headers=acme.auth())
        assert r.status_code == 200, r.text
        assert r.headers["GS1-EPCIS-Version"] == "2.0.0"
        validate_document(r.json())  # an EPCISQueryDocument by the standard's schema
        events += r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
        link = r.headers.get("Link")
        url = link[1 : link.index(">")] if link else None
        pages += 1
    assert len(events) == 2 + 1 + 1 and pages == 2
    times = [e["eventTime"] for e in events]
    assert times[0].startswith("2005-04-03") and times[-1].startswith("2013-10-31")

    theirs = await client.get(EVENTS, headers=globex.auth())
    assert theirs.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []


async def test_query_parameters_and_one_event(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _capture(client, acme, OBJECT)
    await _capture(client, acme, TRANSFORMATION)
    r = await client.get(
        EVENTS,
        params={
            "eventType": "ObjectEvent|AggregationEvent",
            "MATCH_epc": "urn:epc:idpat:sgtin:0614141.107346.*",
        },
        headers=acme.auth(),
    )
    found = r.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"]
    assert [e["type"] for e in found] == ["ObjectEvent", "ObjectEvent"]
    event_id = found[0]["eventID"]
    one = await client.get(f"{EVENTS}/{quote(event_id, safe='')}", headers=acme.auth())
    assert one.status_code == 200 and one.json()["eventID"] == event_id
    missing = await client.get(
        f"{EVENTS}/{quote('urn:uuid:nothing', safe='')}", headers=acme.auth()
    )
    assert missing.status_code == 404


async def test_genealogy_through_the_api(client: httpx.AsyncClient, acme: Tenant) -> None:
    await _capture(client, acme, TRANSFORMATION)
    output = "urn:epc:id:sgtin:4012345.077889.25"
    r = await client.get("/api/trace/genealogy", params={"id": output}, headers=acme.auth())
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["root"] == output and body["direction"] == "backward"
    assert "urn:epc:class:lgtin:4012345.011111.4444" in body["levels"]  # an input lot
    assert all(s["event_type"] == "TransformationEvent" for s in body["steps"])
    forward = await client.get(
        "/api/trace/genealogy",
        params={"id": "urn:epc:class:lgtin:4012345.011111.4444", "direction": "forward"},
        headers=acme.auth(),
    )
    assert output in forward.json()["levels"]


async def test_bad_documents_and_parameters_are_named_and_store_nothing(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    document = json.loads(DOCUMENTS[OBJECT])
    document["epcisBody"]["eventList"][1]["action"] = "SHOUT"
    headers = {**acme.auth(Role.OPERATOR), "Content-Type": "application/json"}
    r = await client.post(CAPTURE, content=json.dumps(document), headers=headers)
    assert r.status_code == 400
    problems = r.json()["detail"]["problems"]
    assert any(p["path"] == "epcisBody.eventList[1].action" for p in problems)
    broken = await client.post(CAPTURE, content=b'{"type": ', headers=headers)
    assert broken.status_code == 400 and "line 1" in broken.text
    listed = await client.get(EVENTS, headers=acme.auth())
    assert listed.json()["epcisBody"]["queryResults"]["resultsBody"]["eventList"] == []

    unknown = await client.get(EVENTS, params={"EQ_colour": "red"}, headers=acme.auth())
    assert unknown.status_code == 400
    assert unknown.json()["detail"]["type"] == "epcisException:QueryParameterException"
    assert unknown.json()["detail"]["parameter"] == "EQ_colour"
    await _capture(client, acme, OBJECT)
    large = await client.get(EVENTS, params={"maxEventCount": "1"}, headers=acme.auth())
    assert large.status_code == 413


async def test_roles(client: httpx.AsyncClient, acme: Tenant) -> None:
    r = await client.post(
        CAPTURE,
        content=DOCUMENTS[OBJECT],
        headers={**acme.auth(Role.VIEWER), "Content-Type": "application/json"},
    )
    assert r.status_code == 403
    assert (await client.get(EVENTS)).status_code == 401
