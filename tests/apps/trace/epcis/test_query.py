"""EPCIS query over the events stored from every official example, on SQLite and on the real
PostgreSQL: every event round-trips (what was captured is what a query returns), the
standard's parameters select what the documents say they should, pages resume exactly,
and parameters the standard does not define are refused by name."""

import json
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from factoryos.apps.trace.epcis.capture import capture, event_id, events_of
from factoryos.apps.trace.epcis.query import QueryPage, query_document, run_query
from factoryos.apps.trace.epcis.query_params import (
    QueryParameterError,
    QueryTooLargeError,
    parse_query,
)
from factoryos.apps.trace.epcis.validate import EpcisDocumentError, validate_document
from factoryos.apps.trace.epcis.xml import parse_xml_document
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.epcis_query import EpcisQueries
from store.test_migrations import pg_schema_url

EXAMPLES = Path(__file__).resolve().parents[5] / "shared" / "datasets" / "epcis" / "examples"
JSON_EXAMPLES = sorted((EXAMPLES / "json").rglob("*.jsonld"))
XML_EXAMPLES = sorted((EXAMPLES / "xml").rglob("*.xml"))
NOW = 1_800_000_000 * 10**9
Event = dict[str, Any]


def _documents() -> list[tuple[str, Any]]:
    out = [(p.name, json.loads(p.read_text())) for p in JSON_EXAMPLES]
    for path in XML_EXAMPLES:
        try:
            out.append((path.name, parse_xml_document(path.read_bytes(), str(path))))
        except EpcisDocumentError:
            continue  # master data, capture jobs and the one sensor document the schema refuses
    return [(name, document) for name, document in out if events_of(document)]


DOCUMENTS = _documents()


def _originals() -> dict[str, tuple[str, Event]]:
    """eventID → (file, event) as first captured (later repeats of an ID are duplicates)."""
    out: dict[str, tuple[str, Event]] = {}
    for name, document in DOCUMENTS:
        for event in events_of(document):
            out.setdefault(event_id(event), (name, event))
    return out


ORIGINALS = _originals()


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def loaded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[EpcisQueries, int]]:
    with ExitStack() as stack:
        if request.param == "postgresql":
            url = stack.enter_context(pg_schema_url())
        else:
            url = f"sqlite:///{tmp_path_factory.mktemp('query') / 'catalog.sqlite'}"
        yield from _load_examples(url)


def _load_examples(url: str) -> Iterator[tuple[EpcisQueries, int]]:
    catalog = Catalog(url)
    catalog.migrate()
    tenant = catalog.ensure_tenant("acme")
    store = EpcisEvents(catalog)
    for _, document in DOCUMENTS:
        capture(store, tenant, document, NOW)
    other = catalog.ensure_tenant("other")  # its events must never show up for acme
    capture(store, other, json.loads(JSON_EXAMPLES[0].read_text()), NOW)
    yield EpcisQueries(catalog), tenant
    catalog.close()


def _query(loaded: tuple[EpcisQueries, int], **params: str) -> QueryPage:
    store, tenant = loaded
    return run_query(store, tenant, parse_query({k: [v] for k, v in params.items()}))


def _all(loaded: tuple[EpcisQueries, int], **params: str) -> list[Event]:
    """Every page of a query, following the tokens."""
    events: list[Event] = []
    token: str | None = None
    for _ in range(1000):
        page = _query(loaded, **params, **({"nextPageToken": token} if token else {}))
        events += page.events
        token = page.next_token
        if token is None:
            return events
    raise AssertionError("paging did not end")


def _ids(events: list[Event]) -> list[str]:
    return [
        event_id({k: v for k, v in e.items() if k not in ("recordTime", "@context")})
        for e in events
    ]


def _strip(event: Event) -> Event:
    return {k: v for k, v in event.items() if k not in ("recordTime", "@context")}


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


# ── round trip ────────────────────────────────────────────────────────────────────────────


def test_every_captured_event_comes_back_unchanged(loaded: tuple[EpcisQueries, int]) -> None:
    events = _all(loaded, perPage="7", orderBy="eventTime", orderDirection="ASC")
    got = dict(zip(_ids(events), events, strict=True))
    assert len(got) == len(events) == len(ORIGINALS)  # each once, the other tenant's none
    for key, (_, original) in ORIGINALS.items():
        assert _strip(got[key]) == _strip(original)
        assert got[key]["recordTime"] == "2027-01-15T08:00:00.000Z"  # the repository's
    times = [_when(e["eventTime"]) for e in events]
    assert times == sorted(times)


def test_a_page_is_a_valid_query_document(loaded: tuple[EpcisQueries, int]) -> None:
    page = _query(loaded, perPage="50", EQ_bizStep="inspecting")
    document = query_document(page.events, NOW)
    validate_document(document)  # the standard's schema, EPCISQueryDocument branch
    assert [e["bizStep"] for e in page.events] == ["inspecting"] * len(page.events)


SENSOR_10 = (
    "ni:///sha-256;77c5b495d391767b1d3b8e7c669c9fee3965a778a9bfe793e85602c971b98436?ver=CBV2.0"
)


def test_extension_context_travels_with_the_event(loaded: tuple[EpcisQueries, int]) -> None:
    # SensorDataExample10 declares "ex" in its document's context and uses "ex:feature"
    (event,) = _query(loaded, EQ_eventID=SENSOR_10).events
    assert {"ex": "http://ns.example.com/epcis/"} in event["@context"]
    first_plain: dict[str, bool] = {}  # eventID → its first document had no extension context
    for _, document in DOCUMENTS:
        plain = all(str(c).startswith("https://ref.gs1.org/") for c in _contexts(document))
        for e in events_of(document):
            first_plain.setdefault(event_id(e), plain and "@context" not in e)
    events = _all(loaded)
    returned = dict(zip(_ids(events), events, strict=True))
    assert any(first_plain.values()) and not all(first_plain.values())
    assert all(("@context" in returned[i]) != plain for i, plain in first_plain.items())


def _contexts(document: Any) -> list[Any]:
    context = document.get("@context") or []
    return context if isinstance(context, list) else [context]


# ── parameters against the documents ───────────────────────────────────────────────────

Oracle = Callable[[Event], bool]
T0, T1 = "2019-01-01T00:00:00Z", "2020-01-01T00:00:00+01:00"
CASES: list[tuple[dict[str, str], Oracle]] = [
    ({"eventType": "TransformationEvent"}, lambda e: e["type"] == "TransformationEvent"),
    (
        {"eventType": "AggregationEvent|AssociationEvent"},
        lambda e: e["type"] in ("AggregationEvent", "AssociationEvent"),
    ),
    ({"EQ_bizStep": "shipping"}, lambda e: e.get("bizStep") == "shipping"),
    (  # the EPCIS 1.x spelling of the same CBV value
        {"EQ_bizStep": "urn:epcglobal:cbv:bizstep:receiving"},
        lambda e: e.get("bizStep") == "receiving",
    ),
    ({"EQ_action": "DELETE"}, lambda e: e.get("action") == "DELETE"),
    ({"EQ_disposition": "in_transit"}, lambda e: e.get("disposition") == "in_transit"),
    (
        {"GE_eventTime": T0, "LT_eventTime": T1},
        lambda e: _when(T0) <= _when(e["eventTime"]) < _when(T1),
    ),
    (
        {"EQ_readPoint": "urn:epc:id:sgln:0614141.07346.1234"},
        lambda e: (e.get("readPoint") or {}).get("id") == "urn:epc:id:sgln:0614141.07346.1234",
    ),
    ({"EXISTS_errorDeclaration": "true"}, lambda e: "errorDeclaration" in e),
    (
        {"EQ_bizTransaction_po": "http://transaction.acme.com/po/12345678"},
        lambda e: any(
            b.get("type") == "po"
            and b["bizTransaction"] == "http://transaction.acme.com/po/12345678"
            for b in e.get("bizTransactionList") or []
        ),
    ),
]


@pytest.mark.parametrize(
    ("params", "oracle"), CASES, ids=lambda c: "&".join(c) if isinstance(c, dict) else ""
)
def test_parameter_selects_what_the_documents_say(
    loaded: tuple[EpcisQueries, int], params: dict[str, str], oracle: Oracle
) -> None:
    expected = sorted(k for k, (_, e) in ORIGINALS.items() if oracle(e))
    assert expected  # every case selects something, and not everything
    assert len(expected) < len(ORIGINALS)
    assert sorted(_ids(_all(loaded, **params))) == expected


def _files(events: list[Event]) -> set[str]:
    return {ORIGINALS[i][0] for i in _ids(events)}


URN_2017 = "urn:epc:id:sgtin:0614141.107346.2017"  # Example 9.6.1
# Example 9.6.1 with Digital Links: GTIN 70614141123451, i.e. company prefix 0614141 and item
# reference 712345 (indicator 7 first): another product than the URN example's.
LINK_2017 = "https://id.gs1.org/01/70614141123451/21/2017"
LINK_AS_URN = "urn:epc:id:sgtin:0614141.712345.2017"


def _epcs(events: list[Event]) -> set[str]:
    return {epc for e in events for epc in _named(e)}


def _named(event: Event) -> list[str]:
    """What MATCH_epc looks at: epcList, or childEPCs in aggregations and associations."""
    return [*(event.get("epcList") or []), *(event.get("childEPCs") or [])]


def test_match_epc_pattern_finds_urns_and_digital_links(loaded: tuple[EpcisQueries, int]) -> None:
    urns = _all(loaded, MATCH_epc="urn:epc:idpat:sgtin:0614141.107346.*")
    assert URN_2017 in _epcs(urns) and LINK_2017 not in _epcs(urns)
    links = _all(loaded, MATCH_epc="urn:epc:idpat:sgtin:0614141.712345.*")
    assert LINK_2017 in _epcs(links) and URN_2017 not in _epcs(links)
    assert all(any("/01/70614141123451/" in epc for epc in _named(e)) for e in links)
    by_link = _all(loaded, MATCH_epc=LINK_2017)
    by_urn = _all(loaded, MATCH_epc=LINK_AS_URN)
    assert by_link and sorted(_ids(by_link)) == sorted(_ids(by_urn))
    assert all(LINK_2017 in _named(e) for e in by_link)
    wider = _all(loaded, MATCH_anyEPC="urn:epc:idpat:sgtin:0614141.*.*")
    assert set(_ids(wider)) >= set(_ids(urns)) | set(_ids(links))


def test_match_roles_are_kept_apart(loaded: tuple[EpcisQueries, int]) -> None:
    lot = "urn:epc:class:lgtin:4012345.011111.4444"  # an input of Example 9.6.4
    inputs = _all(loaded, MATCH_inputEPCClass=lot)
    assert "Example_9.6.4-TransformationEvent.jsonld" in _files(inputs)
    outputs = _all(loaded, MATCH_outputEPCClass=lot)
    assert "Example_9.6.4-TransformationEvent.jsonld" not in _files(outputs)
    assert set(_ids(_all(loaded, MATCH_anyEPCClass=lot))) >= set(_ids(inputs))
    made = _all(loaded, MATCH_outputEPC="urn:epc:id:sgtin:4012345.077889.25")
    assert "Example_9.6.4-TransformationEvent.jsonld" in _files(made)
    assert "Example_9.6.4-TransformationEvent.jsonld" not in _files(
        _all(loaded, MATCH_inputEPC="urn:epc:id:sgtin:4012345.077889.25")
    )


def test_quantities_with_and_without_unit(loaded: tuple[EpcisQueries, int]) -> None:
    over = _all(loaded, GT_quantity="450")  # 452 and 500 kg (error declaration example), 600
    assert {"ErrorDeclarationAndCorrectiveEvent.jsonld", "AssociationEvent-e.jsonld"} <= _files(
        over
    )
    kilos = _all(loaded, GE_quantity_KGM="450")
    assert "ErrorDeclarationAndCorrectiveEvent.jsonld" in _files(kilos)
    assert "AssociationEvent-e.jsonld" not in _files(kilos)  # 600 without a unit


def test_ilmd_and_extension_fields(loaded: tuple[EpcisQueries, int]) -> None:
    batch = _all(loaded, **{"EQ_ILMD_example:batch": "XYZ"})
    assert "Example_9.6.4-TransformationEvent.jsonld" in _files(batch)
    assert all(e["ilmd"]["example:batch"] == "XYZ" for e in batch)
    best = _all(loaded, **{"GE_ILMD_example:bestBeforeDate": "2014-12-10T00:00:00Z"})
    assert best == []  # a date is not a date-time with a zone: not comparable, no match
    assert _all(loaded, **{"EXISTS_ILMD_example:bestBeforeDate": "true"})


def test_sensor_parameters_hold_on_one_report(loaded: tuple[EpcisQueries, int]) -> None:
    # SensorDataExample2: a Temperature report with maxValue 26.2 CEL, a Speed one 162 KMH
    hot = _all(loaded, EQ_type="Temperature", GE_maxValue_CEL="26.2")
    assert "SensorDataExample2.jsonld" in _files(hot)
    mixed = _all(loaded, EQ_type="Temperature", GE_maxValue_KMH="160")
    assert "SensorDataExample2.jsonld" not in _files(mixed)  # 160 km/h is the Speed report
    device = _all(loaded, EQ_deviceID="urn:epc:id:giai:4000001.111", EQ_type="Speed")
    assert "SensorDataExample2.jsonld" in _files(device)  # the report inherits the device


def test_error_declarations(loaded: tuple[EpcisQueries, int]) -> None:
    wrong = _all(loaded, EQ_errorReason="incorrect_data")
    assert all(e["errorDeclaration"]["reason"].endswith("incorrect_data") for e in wrong)
    assert "ErrorDeclarationAndCorrectiveEvent.jsonld" in _files(wrong)


# ── paging, limits, ordering ─────────────────────────────────────────────────────────────


def test_pages_resume_exactly_in_both_directions(loaded: tuple[EpcisQueries, int]) -> None:
    for direction in ("ASC", "DESC"):
        paged = _ids(_all(loaded, perPage="5", orderDirection=direction))
        whole = _ids(_query(loaded, perPage="1000", orderDirection=direction).events)
        assert paged == whole and len(whole) == len(ORIGINALS)
    assert (
        _ids(_all(loaded, perPage="5", orderDirection="ASC"))
        == _ids(_all(loaded, perPage="5"))[::-1]
    )


def test_a_token_belongs_to_its_query(loaded: tuple[EpcisQueries, int]) -> None:
    first = _query(loaded, perPage="2")
    assert first.next_token is not None
    with pytest.raises(QueryParameterError, match=r"nextPageToken.*other parameters"):
        _query(loaded, perPage="3", nextPageToken=first.next_token)
    with pytest.raises(QueryParameterError, match="nextPageToken"):
        _query(loaded, perPage="2", nextPageToken="bm90IGEgdG9rZW4")


def test_event_count_limit_spans_pages(loaded: tuple[EpcisQueries, int]) -> None:
    events = _all(loaded, perPage="2", eventCountLimit="5", orderDirection="ASC")
    assert _ids(events) == _ids(_query(loaded, perPage="1000", orderDirection="ASC").events)[:5]


def test_max_event_count_refuses_a_large_answer(loaded: tuple[EpcisQueries, int]) -> None:
    with pytest.raises(QueryTooLargeError):
        _query(loaded, maxEventCount="3")
    with pytest.raises(QueryTooLargeError):  # counted through a JSON check too
        _query(loaded, maxEventCount="1", EXISTS_errorDeclaration="true")
    assert len(_query(loaded, maxEventCount="10", eventType="TransformationEvent").events) > 0


@pytest.mark.parametrize(
    ("params", "named"),
    [
        ({"EQ_colour": "red"}, "EQ_colour"),
        ({"GE_eventTime": "yesterday"}, "GE_eventTime"),
        ({"GE_eventTime": "2020-01-01T00:00:00"}, "GE_eventTime"),  # no zone
        ({"EQ_action": "ADD|REMOVE"}, "EQ_action"),
        ({"perPage": "0"}, "perPage"),
        ({"orderBy": "bizStep"}, "orderBy"),
        ({"eventCountLimit": "2", "maxEventCount": "2"}, "maxEventCount"),
        ({"MATCH_epc": "urn:epc:idpat:sgtin:06141.*.*"}, "MATCH_epc"),
        ({"HASATTR_example:colour": "x"}, "HASATTR_example:colour"),
        ({"EQATTR_bizStep_urn:x:owner": "x"}, "EQATTR_bizStep_urn:x:owner"),  # not a location
        ({"EQATTR_readPoint": "x"}, "EQATTR_readPoint"),  # which attribute?
        ({"HASATTR_readPoint_urn:x:sst": "x"}, "HASATTR_readPoint_urn:x:sst"),
        ({"GT_quantity": "many"}, "GT_quantity"),
    ],
)
def test_bad_parameters_are_named(params: dict[str, str], named: str) -> None:
    with pytest.raises(QueryParameterError) as caught:
        parse_query({k: [v] for k, v in params.items()})
    assert caught.value.parameter == named
