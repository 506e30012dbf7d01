"""EPCIS master data on SQLite and the real PostgreSQL: every official document that carries
master data imports it (alone or with its events; the official JSON examples carry none, so
JSON master data is tested on documents made here), the WD_ parameters select a location and
everything below it through the vocabulary's children, HASATTR_/EQATTR_ select locations by
their attributes, per tenant, and bad master data is refused whole."""

import re
from pathlib import Path
from typing import Any

import pytest

from factoryos.apps.trace.epcis.capture import capture, master_data_of
from factoryos.apps.trace.epcis.query import run_query
from factoryos.apps.trace.epcis.query_params import QueryParameterError, parse_query
from factoryos.apps.trace.epcis.validate import EpcisDocumentError
from factoryos.apps.trace.epcis.xml import parse_xml_document
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.epcis_query import MAX_VALUES, EpcisQueries
from store.test_migrations import catalog, pg_url, sqlite_url, url

__all__ = ["catalog", "pg_url", "sqlite_url", "url"]

EXAMPLES = Path(__file__).resolve().parents[5] / "shared" / "datasets" / "epcis" / "examples"
CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
SITE = "urn:epc:id:sgln:0037000.00729.0"
DOCK, ROOM, SHELF = (f"urn:epc:id:sgln:0037000.00729.820{n}" for n in (1, 2, 3))
ELSEWHERE = "urn:epc:id:sgln:0614141.00888.0"


def _read(path: Path) -> Any:
    return parse_xml_document(path.read_bytes(), str(path))


def _elements(path: Path) -> int:
    """How many vocabulary elements a document describes, counted on its own text."""
    return len(re.findall(r"<VocabularyElement\s", path.read_text()))


def _document(
    events: list[dict[str, Any]], vocabularies: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    document: dict[str, Any] = {
        "@context": CONTEXT, "type": "EPCISDocument", "schemaVersion": "2.0",
        "creationDate": "2026-11-24T00:00:00Z", "epcisBody": {"eventList": events},
    }  # fmt: skip
    if vocabularies is not None:
        document["epcisHeader"] = {"epcisMasterData": {"vocabularyList": vocabularies}}
    return document


def _seen(n: int, location: str) -> dict[str, Any]:
    return {
        "type": "ObjectEvent", "eventID": f"urn:uuid:00000000-0000-4000-8000-{n:012d}",
        "eventTime": f"2026-11-24T08:00:{n:02d}Z", "eventTimeZoneOffset": "+00:00",
        "epcList": [f"urn:epc:id:sgtin:0614141.107346.{n}"], "action": "OBSERVE",
        "readPoint": {"id": location}, "bizLocation": {"id": location},
    }  # fmt: skip


def _locations(children: dict[str, list[str]], kind: str = "BusinessLocation") -> dict[str, Any]:
    return {
        "type": f"urn:epcglobal:epcis:vtype:{kind}",
        "vocabularyElementList": [{"id": k, "children": v} for k, v in children.items()],
    }


def _where(catalog: Catalog, tenant: int, **params: str) -> list[str]:
    query = parse_query({name: [value] for name, value in params.items()})
    page = run_query(EpcisQueries(catalog), tenant, query)
    return sorted(e["bizLocation"]["id"] for e in page.events)


@pytest.mark.parametrize(
    "name",
    [
        "Mimasu/Example-masterData.xml",
        "WithFullCombinationOfFields/masterdata_all_possible_fields.xml",
        "CBV/CBV-11.4-2020-06-16a.xml",
    ],
)
def test_every_official_document_with_master_data_imports_it(catalog: Catalog, name: str) -> None:
    path = EXAMPLES / "xml" / name
    document = _read(path)
    tenant = catalog.ensure_tenant("acme")
    done = capture(EpcisEvents(catalog), tenant, document, 0, name)
    assert done.described == len(master_data_of(document)) == _elements(path) > 0


def _mimasu_and_events(catalog: Catalog) -> int:
    """The official master-data example (the site holds three locations, one holds
    another) and an event at each place and elsewhere; returns the tenant."""
    store, acme = EpcisEvents(catalog), catalog.ensure_tenant("acme")
    mimasu = EXAMPLES / "xml" / "Mimasu" / "Example-masterData.xml"
    capture(store, acme, _read(mimasu), 0, mimasu.name)
    places = [SITE, DOCK, ROOM, SHELF, ELSEWHERE]
    capture(store, acme, _document([_seen(n, p) for n, p in enumerate(places)]), 0)
    return acme


def test_wd_selects_a_location_and_everything_below_it(catalog: Catalog) -> None:
    acme = _mimasu_and_events(catalog)

    assert _where(catalog, acme, WD_bizLocation=SITE) == sorted([SITE, DOCK, ROOM, SHELF])
    assert _where(catalog, acme, WD_bizLocation=ROOM) == [ROOM, SHELF]  # 8202 holds 8203
    assert _where(catalog, acme, WD_bizLocation=SHELF) == [SHELF]
    assert _where(catalog, acme, WD_bizLocation=ELSEWHERE) == [ELSEWHERE]  # no master data
    # EQ_ and WD_ of one field: both must hold
    assert _where(catalog, acme, WD_bizLocation=ROOM, EQ_bizLocation=SHELF) == [SHELF]
    assert _where(catalog, acme, WD_bizLocation=ROOM, EQ_bizLocation=DOCK) == []
    # the example's ReadPoint vocabulary names no children: a read point is only itself
    assert _where(catalog, acme, WD_readPoint=SITE) == [SITE]


def test_master_data_is_per_tenant_and_a_later_description_replaces_one(
    catalog: Catalog,
) -> None:
    store = EpcisEvents(catalog)
    acme, other = catalog.ensure_tenant("acme"), catalog.ensure_tenant("other")
    events = [_seen(n, p) for n, p in enumerate([SITE, DOCK, ROOM])]
    capture(store, acme, _document(events, [_locations({SITE: [DOCK, ROOM]})]), 0)
    capture(store, other, _document(events), 0)
    assert _where(catalog, acme, WD_bizLocation=SITE) == sorted([SITE, DOCK, ROOM])
    assert _where(catalog, other, WD_bizLocation=SITE) == [SITE]
    done = capture(store, acme, _document([], [_locations({SITE: [DOCK]})]), 0)
    assert (done.written, done.described) == (0, 1)  # master data alone is a capture
    assert _where(catalog, acme, WD_bizLocation=SITE) == sorted([SITE, DOCK])


def test_a_cycle_in_the_master_data_ends(catalog: Catalog) -> None:
    store, acme = EpcisEvents(catalog), catalog.ensure_tenant("acme")
    loop = _locations({SITE: [DOCK], DOCK: [ROOM], ROOM: [SITE]})
    events = [_seen(n, p) for n, p in enumerate([SITE, DOCK, ROOM, SHELF])]
    capture(store, acme, _document(events, [loop]), 0)
    assert _where(catalog, acme, WD_bizLocation=DOCK) == sorted([SITE, DOCK, ROOM])


def test_too_many_locations_below_a_wd_root_is_a_parameter_error(catalog: Catalog) -> None:
    store, acme = EpcisEvents(catalog), catalog.ensure_tenant("acme")
    bins = [f"urn:epc:id:sgln:0037000.00729.{n}" for n in range(1, MAX_VALUES + 1)]
    capture(store, acme, _document([_seen(0, SITE)], [_locations({SITE: bins})]), 0)
    with pytest.raises(QueryParameterError, match=f"WD_bizLocation: more than {MAX_VALUES}"):
        _where(catalog, acme, WD_bizLocation=SITE)


def test_bad_master_data_is_refused_whole(catalog: Catalog) -> None:
    store, acme = EpcisEvents(catalog), catalog.ensure_tenant("acme")
    too_long = "urn:epc:id:sgln:0037000.00729." + "9" * 400
    document = _document([_seen(0, SITE)], [_locations({SITE: [too_long]})])
    with pytest.raises(EpcisDocumentError, match=r"epcisHeader\.epcisMasterData") as caught:
        capture(store, acme, document, 0, "bad.jsonld")
    assert "vocabulary element 0" in str(caught.value) and "child" in str(caught.value)
    assert store.count(acme) == 0
    assert _where(catalog, acme, WD_bizLocation=SITE) == []


def test_attributes_select_locations(catalog: Catalog) -> None:
    acme = _mimasu_and_events(catalog)
    sst, ssa = "urn:epcglobal:cbv:mda:sst", "urn:epcglobal:cbv:mda:ssa"
    # the example: sub-site type 201 at 8201, 202 at 8202 and 8203; attribute ssa at 8203 only
    assert _where(catalog, acme, **{f"EQATTR_bizLocation_{sst}": "202"}) == [ROOM, SHELF]
    assert _where(catalog, acme, **{f"EQATTR_bizLocation_{sst}": "201|202"}) == [DOCK, ROOM, SHELF]
    assert _where(catalog, acme, **{"HASATTR_bizLocation": ssa}) == [SHELF]
    assert _where(catalog, acme, **{"HASATTR_bizLocation": ssa, "EQ_bizLocation": ROOM}) == []
    # ReadPoint vocabulary: 8203 is sub-site type 203 there
    assert _where(catalog, acme, **{f"EQATTR_readPoint_{sst}": "203"}) == [SHELF]
    # an attribute no location has finds nothing
    assert _where(catalog, acme, **{"HASATTR_bizLocation": "urn:x:none"}) == []
