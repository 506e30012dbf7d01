"""The latest event naming each identifier, on SQLite and on the real PostgreSQL: the newest
event time wins whatever the role, capture order breaks ties, unknown identifiers are left
out, long lists are asked in bounded chunks, tenants stay apart."""

import json
from collections.abc import Iterator
from typing import Any

import pytest

from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents, NewEvent
from store.test_migrations import pg_url, sqlite_url

__all__ = ["pg_url", "sqlite_url"]

CASE = "urn:epc:id:sscc:4012345.0000000001"


def unit(n: int) -> str:
    return f"urn:epc:id:sgtin:4012345.012345.{n}"


def event(event_id: str, minute: int, epcs: list[tuple[str, str]], **fields: Any) -> NewEvent:
    body = {"eventID": event_id, **fields}
    return NewEvent(
        event_id=event_id,
        event_type=fields.get("type", "ObjectEvent"),
        event_time_ns=minute * 60 * 10**9,
        action=fields.get("action"),
        biz_step=fields.get("bizStep"),
        disposition=fields.get("disposition"),
        read_point=fields.get("readPoint"),
        biz_location=fields.get("bizLocation"),
        body=json.dumps(body),
        epcs=tuple(epcs),
        edges=(),  # sightings do not follow genealogy
    )


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[Catalog, EpcisEvents]]:
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    catalog = Catalog(str(url))
    catalog.migrate()
    yield catalog, EpcisEvents(catalog)
    catalog.close()


def test_the_newest_event_naming_each_identifier(store: tuple[Catalog, EpcisEvents]) -> None:
    catalog, events = store
    acme = catalog.ensure_tenant("acme")
    made = event("made", 1, [("output", unit(1)), ("output", unit(2))], type="TransformationEvent",
                 bizStep="commissioning", disposition="active", bizLocation="plant")  # fmt: skip
    packed = event("packed", 2, [("parent", CASE), ("child", unit(1)), ("child", unit(2))],
                   type="AggregationEvent", action="ADD", bizStep="packing",
                   readPoint="packer", bizLocation="plant")  # fmt: skip
    shipped = event("shipped", 5, [("epc", CASE)], action="OBSERVE", bizStep="shipping",
                    disposition="in_transit", readPoint="dock")  # fmt: skip
    # captured out of time order: the event time decides, not when it arrived
    events.capture(acme, [shipped, packed, made], 0)
    seen = events.latest(acme, [unit(1), unit(2), CASE, unit(3)])
    assert set(seen) == {unit(1), unit(2), CASE}  # unit 3: no event names it
    assert seen[CASE].event_id == "shipped" and seen[CASE].read_point == "dock"
    assert seen[CASE].disposition == "in_transit" and seen[CASE].biz_location is None
    assert json.loads(seen[CASE].body)["eventID"] == "shipped"
    assert seen[unit(1)].event_id == "packed" and seen[unit(1)].event_type == "AggregationEvent"
    assert seen[unit(1)] is seen[unit(2)]  # one event, one sighting
    assert seen[unit(1)].action == "ADD" and seen[unit(1)].event_time_ns == 120 * 10**9


def test_ties_go_to_the_later_capture_and_tenants_stay_apart(
    store: tuple[Catalog, EpcisEvents],
) -> None:
    catalog, events = store
    acme, globex = catalog.ensure_tenant("acme"), catalog.ensure_tenant("globex")
    events.capture(acme, [event("first", 3, [("epc", CASE)], bizStep="storing")], 0)
    events.capture(acme, [event("second", 3, [("epc", CASE)], bizStep="shipping")], 0)
    events.capture(globex, [event("elsewhere", 9, [("epc", CASE)])], 0)
    assert events.latest(acme, [CASE])[CASE].event_id == "second"
    assert events.latest(globex, [CASE, CASE])[CASE].event_id == "elsewhere"
    assert events.latest(catalog.ensure_tenant("initech"), [CASE]) == {}
    assert events.latest(acme, []) == {}


def test_more_identifiers_than_one_query_takes(store: tuple[Catalog, EpcisEvents]) -> None:
    catalog, events = store
    acme = catalog.ensure_tenant("acme")
    batch = [
        event(f"e{n}", n % 7, [("epc", unit(n)), ("epc", unit(n + 1))], bizStep=f"s{n}")
        for n in range(1200)
    ]
    events.capture(acme, batch, 0)
    seen = events.latest(acme, [unit(n) for n in range(1300)])
    assert len(seen) == 1201
    for n in (0, 499, 500, 501, 1000, 1200):
        candidates = [e for e in batch if ("epc", unit(n)) in e.epcs]
        newest = max(candidates, key=lambda e: (e.event_time_ns, batch.index(e)))
        assert seen[unit(n)].event_id == newest.event_id
