"""EPCIS capture into the catalog, on SQLite and on the real PostgreSQL: every official JSON
example is stored, a second import stores nothing new (idempotent on eventID), a broken
document stores nothing at all, identifiers are kept with their roles, tenants apart; and
``factoryos trace import`` does the same from the command line."""

import copy
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from factoryos.apps.trace.epcis.capture import capture, event_id, events_of, time_ns
from factoryos.apps.trace.epcis.validate import EpcisDocumentError
from factoryos.apps.trace.epcis.xml import parse_xml_document
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents
from store.test_migrations import pg_url, sqlite_url

__all__ = ["pg_url", "sqlite_url"]

EXAMPLES = Path(__file__).resolve().parents[5] / "shared" / "datasets" / "epcis" / "examples"
JSON_EXAMPLES = sorted((EXAMPLES / "json").rglob("*.jsonld"))
AGGREGATION = EXAMPLES / "json" / "Example_9.6.3-AggregationEvent.jsonld"
TRANSFORMATION = EXAMPLES / "json" / "Example_9.6.4-TransformationEvent.jsonld"
NOW = 1_800_000_000 * 10**9


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[Catalog, EpcisEvents]]:
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    catalog = Catalog(str(url))
    catalog.migrate()
    yield catalog, EpcisEvents(catalog)
    catalog.close()


def _load(path: Path) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(path.read_text())
    return document


def test_every_example_is_captured_once(store: tuple[Catalog, EpcisEvents]) -> None:
    catalog, events = store
    tenant = catalog.ensure_tenant("acme")
    ids = {event_id(e) for p in JSON_EXAMPLES for e in events_of(_load(p))}
    written = sum(capture(events, tenant, _load(p), NOW).written for p in JSON_EXAMPLES)
    assert written == len(ids) == events.count(tenant)
    again = [capture(events, tenant, _load(p), NOW) for p in JSON_EXAMPLES]
    assert sum(c.written for c in again) == 0  # idempotent on eventID
    assert sum(len(c.duplicates) for c in again) == sum(
        len(events_of(_load(p))) for p in JSON_EXAMPLES
    )
    assert events.count(tenant) == len(ids)


def test_identifiers_are_kept_with_their_roles(store: tuple[Catalog, EpcisEvents]) -> None:
    catalog, events = store
    tenant = catalog.ensure_tenant("acme")
    capture(events, tenant, _load(AGGREGATION), NOW)
    capture(events, tenant, _load(TRANSFORMATION), NOW)
    (packed,) = events.bodies(tenant, epc="urn:epc:id:sgtin:0614141.107346.2018")  # a child
    assert json.loads(packed)["parentID"] == "urn:epc:id:sscc:0614141.1234567890"
    (made,) = events.bodies(tenant, epc="urn:epc:id:sgtin:4012345.077889.27")  # an output
    assert json.loads(made)["type"] == "TransformationEvent"
    (lot,) = events.bodies(tenant, epc="urn:epc:class:lgtin:4012345.011111.4444")  # input class
    assert lot == made
    assert events.bodies(tenant, epc="urn:epc:id:sgtin:0614141.107346.9999") == []


def test_a_broken_document_stores_nothing(store: tuple[Catalog, EpcisEvents]) -> None:
    catalog, events = store
    tenant = catalog.ensure_tenant("acme")
    document = _load(TRANSFORMATION)
    good = copy.deepcopy(document["epcisBody"]["eventList"][0])
    good["eventID"] = "urn:uuid:7a0a8a6c-2f1e-4c6f-9a43-0c6f0c1d2e3f"
    document["epcisBody"]["eventList"] = [
        good,
        {**good, "eventID": "urn:uuid:x", "eventTime": "yesterday"},
    ]
    with pytest.raises(EpcisDocumentError) as info:
        capture(events, tenant, document, NOW, "batch.json")
    assert str(info.value.problems[0]).startswith("epcisBody.eventList[1]")
    assert events.count(tenant) == 0  # the valid first event was not stored either


def test_events_without_an_id_get_a_content_hash_and_tenants_stay_apart(
    store: tuple[Catalog, EpcisEvents],
) -> None:
    catalog, events = store
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    document = _load(AGGREGATION)
    for e in document["epcisBody"]["eventList"]:
        e.pop("eventID", None)
    first = capture(events, acme, document, NOW)
    second = capture(events, acme, copy.deepcopy(document), NOW + 1)
    assert first.written == len(events_of(document)) and second.written == 0
    assert all(
        d.startswith("ni:///sha-256;") and d.endswith("?ver=factoryos-1") for d in second.duplicates
    )
    assert events.count(globex) == 0
    assert capture(events, globex, document, NOW).written == first.written


def test_times_with_offsets() -> None:
    assert time_ns("1970-01-01T00:00:01Z") == 10**9
    assert time_ns("2005-04-03T20:33:31.116-06:00") == time_ns("2005-04-04T02:33:31.116+00:00")
    assert time_ns("1969-12-31T23:59:59.5Z") == -(10**9) // 2


def test_the_import_command(tmp_path: Path) -> None:
    command = [str(Path(sys.executable).with_name("factoryos")), "trace", "import"]
    where = ["--data-dir", str(tmp_path)]
    done = subprocess.run([*command, str(AGGREGATION), str(TRANSFORMATION), *where],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "Example_9.6.3-AggregationEvent.jsonld" in done.stdout
    broken = tmp_path / "broken.json"
    broken.write_text('{"type": "EPCISDocument", "schemaVersion": "2.0"')
    done = subprocess.run([*command, str(broken), str(AGGREGATION), *where],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "broken.json: not imported" in done.stderr and "not JSON at line 1" in done.stderr
    assert "1 of 2 documents refused" in done.stderr
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    try:
        tenant = catalog.ensure_tenant("default")
        stored = EpcisEvents(catalog).count(tenant)
    finally:
        catalog.close()
    assert stored == len(events_of(_load(AGGREGATION))) + len(events_of(_load(TRANSFORMATION)))
    xml = EXAMPLES / "xml" / "Example_9.6.1-ObjectEvent-2020_06_18a.xml"
    done = subprocess.run([*command, str(xml), "--tenant", "xml", *where],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    try:
        stored = EpcisEvents(catalog).count(catalog.ensure_tenant("xml"))
    finally:
        catalog.close()
    assert stored == len(events_of(parse_xml_document(xml.read_bytes(), xml.name))) == 2
    master = EXAMPLES / "xml" / "Mimasu" / "Example-masterData.xml"
    done = subprocess.run([*command, str(master), "--tenant", "xml", *where],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    row = next(line for line in done.stdout.splitlines() if "Example-masterData.xml" in line)
    assert [cell.strip() for cell in row.split("│")[2:6]] == ["0", "0", "0", "7"]
