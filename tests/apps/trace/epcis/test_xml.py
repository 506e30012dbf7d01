"""EPCIS XML → JSON, checked on GS1's own examples and their JSON counterparts."""

import json
import re
from datetime import datetime
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import parse

import pytest

from factoryos.apps.trace.epcis.validate import EpcisDocumentError, validate_document
from factoryos.apps.trace.epcis.xml import CONTEXT_URL, parse_xml_document, xml_to_json

EXAMPLES = Path(__file__).resolve().parents[5] / "shared" / "datasets" / "epcis" / "examples"
XML = EXAMPLES / "xml"


def _root(path: Path) -> str:
    return parse(path).getroot().tag.rpartition("}")[2]


ALL_XML = sorted(XML.rglob("*.xml"))
EVENT_DOCUMENTS = [p for p in ALL_XML if _root(p) == "EPCISDocument"]
MASTER_DATA = [p for p in ALL_XML if _root(p) == "EPCISMasterDataDocument"]
CAPTURE_JOBS = [p for p in ALL_XML if _root(p) == "EPCISCaptureJob"]
# GS1's sensor examples give two sensorReports only an `exception`; the XSD allows that, the
# JSON schema requires `type` — the converted document is refused for exactly that.
EVENT_TYPES = {"ObjectEvent", "AggregationEvent", "TransactionEvent"}
EVENT_TYPES |= {"TransformationEvent", "AssociationEvent"}
SENSOR_EXAMPLES = XML / "WithSensorData/SensorDataExamples.xml"


def _convert(name: str) -> dict[str, Any]:
    return xml_to_json((XML / name).read_bytes(), name)


def _ids(path: Path) -> str:
    return str(path.relative_to(XML))


def test_the_examples_are_all_found() -> None:
    assert (len(EVENT_DOCUMENTS), len(MASTER_DATA), len(CAPTURE_JOBS)) == (31, 2, 4)


@pytest.mark.parametrize("path", [p for p in EVENT_DOCUMENTS if p != SENSOR_EXAMPLES], ids=_ids)
def test_every_event_document_converts_and_validates(path: Path) -> None:
    document = parse_xml_document(path.read_bytes(), path.name)
    events = document["epcisBody"]["eventList"]
    xml_events = [e for e in parse(path).getroot().iter() if e.tag in EVENT_TYPES]
    assert len(events) == len(xml_events)
    assert [e["type"] for e in events] == [e.tag for e in xml_events]


def test_sensor_reports_without_type_are_refused_by_the_json_schema() -> None:
    document = _convert("WithSensorData/SensorDataExamples.xml")
    assert len(document["epcisBody"]["eventList"]) == 14
    with pytest.raises(EpcisDocumentError) as caught:
        validate_document(document, "sensor")
    where = "epcisBody.eventList[8].sensorElementList[0].sensorReport"
    assert [(p.path, p.message) for p in caught.value.problems] == [
        (f"{where}[0]", "'type' is a required property"),
        (f"{where}[1]", "'type' is a required property"),
    ]


# -- against the JSON counterparts --------------------------------------------------------

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def _normalised(value: Any, key: str = "") -> Any:
    """Only what the standard itself declares equivalent is made equal.

    * a timestamp is an instant (xsd:dateTime / ISO 8601): ``.116`` = ``.116000`` and
      ``14:05+01:00`` = ``13:05Z``;
    * hexBinaryValue is xsd:hexBinary, whose letters are case-blind (``f0`` = ``F0``).
    Numbers need nothing: JSON 26 and 26.0 are the same number (and compare equal here).
    """
    if isinstance(value, dict):
        return {k: _normalised(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [_normalised(v) for v in value]
    if isinstance(value, str) and TIMESTAMP.match(value):
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    if key == "hexBinaryValue" and isinstance(value, str):
        return value.upper()
    return value


def _differences(ours: Any, theirs: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict) and isinstance(theirs, dict):
        out: list[str] = []
        for key in sorted(set(ours) | set(theirs)):
            if key not in ours:
                out.append(f"{path}.{key}: only in JSON")
            elif key not in theirs:
                out.append(f"{path}.{key}: only in XML")
            else:
                out += _differences(ours[key], theirs[key], f"{path}.{key}")
        return out
    if isinstance(ours, list) and isinstance(theirs, list) and len(ours) == len(theirs):
        return [
            d
            for i, (a, b) in enumerate(zip(ours, theirs, strict=True))
            for d in _differences(a, b, f"{path}[{i}]")
        ]
    return [] if ours == theirs else [f"{path}: {ours!r} != {theirs!r}"]


def _pair(xml: str, xml_index: int, counterpart: str, json_index: int) -> list[str]:
    ours = _convert(xml)["epcisBody"]["eventList"][xml_index]
    document = json.loads((EXAMPLES / "json" / counterpart).read_text(encoding="utf-8"))
    theirs = dict(document["epcisBody"]["eventList"][json_index])
    # GS1 gave the JSON counterparts the event-hash eventID (ni:///sha-256;…) that the XML
    # examples do not carry; it is not in the XML, so there is nothing to convert.
    if "eventID" not in ours:
        theirs.pop("eventID", None)
    return _differences(_normalised(ours), _normalised(theirs))


ASSOCIATION = "AssociationEvent/AssociationEvent-{}.jsonld"
SENSOR = "WithSensorData/SensorDataExample{}.jsonld"
# (XML example, its event, JSON counterpart, its event): the same example in both forms
SAME_EVENTS = [
    ("Example_9.6.1-ObjectEvent-2020_06_18a.xml", 0, "Example_9.6.1-ObjectEvent.jsonld", 0),
    ("Example_9.6.1-ObjectEvent-2020_06_18a.xml", 1, "Example_9.6.1-ObjectEvent.jsonld", 1),
    ("Mimasu/Example1.xml", 0, "Example_9.6.1-ObjectEvent.jsonld", 0),
    ("Mimasu/Example1.xml", 1, "Example_9.6.1-ObjectEvent.jsonld", 1),
    ("Mimasu/Example3.xml", 0, "Example_9.6.3-AggregationEvent.jsonld", 0),
    ("Mimasu/Example4.xml", 0, "Example_9.6.4-TransformationEvent.jsonld", 0),
    (
        "Example-TransactionEvent-2020_07_03y.xml",
        0,
        "Example-TransactionEvents-2020_07_03y.jsonld",
        0,
    ),
    *[
        ("AssociationEvent/AssociationEventExamples.xml", i, ASSOCIATION.format(c), 0)
        for i, c in enumerate("abcdef")
    ],
    ("AssociationEvent/AssociationEventExamples.xml", 7, ASSOCIATION.format("h"), 0),
    *[
        ("Mimasu/Example-associatonEvent-sensor.xml", i, ASSOCIATION.format(c), 0)
        for i, c in enumerate("abcde")
    ],
    ("Mimasu/Example-associatonEvent-sensor.xml", 7, ASSOCIATION.format("h"), 0),
    *[
        ("WithSensorData/SensorDataExamples.xml", i, SENSOR.format(n), 0)
        for i, n in [(0, 1), (1, 2), (2, 3), (4, 5), (6, 7), (12, 14), (13, 15)]
    ],
]


@pytest.mark.parametrize(("xml", "xml_index", "counterpart", "json_index"), SAME_EVENTS)
def test_events_equal_their_json_counterparts(
    xml: str, xml_index: int, counterpart: str, json_index: int
) -> None:
    assert _pair(xml, xml_index, counterpart, json_index) == []


# Counterparts GS1 wrote differently from their XML: each difference is in the examples
# themselves (checked by reading both files), so the converter is right to keep the XML's.
DIVERGENT = [
    (
        (
            "Example-TransactionEvent-2020_07_03y.xml",
            1,
            "Example-TransactionEvents-2020_07_03y.jsonld",
            1,
        ),
        [
            # <rail:vehicleMasterGIAI/> is an empty element; the JSON leaves it out
            ".rail:vehicle[1].rail:vehicleMasterGIAI: only in XML",
            # the JSON writes "true" for two vehicles and true for the third
            ".rail:vehicle[2].rail:vehicleUniquelyIdentified: 'true' != True",
        ],
    ),
    (
        ("Mimasu/Example2.xml", 0, "Example_9.6.2-ObjectEvent.jsonld", 0),
        [".epcList: only in XML"],  # the XML has an empty <epcList/>
    ),
    (
        ("WithSensorData/SensorDataExamples.xml", 10, SENSOR.format(11), 0),
        # the XML uses a measurement type the GS1 vocabulary does not have
        [".sensorElementList[0].sensorReport[0].type: 'EffectiveDoseRate' != 'DoseEquivalentRate'"],
    ),
    (
        ("Mimasu/Example-associatonEvent-sensor.xml", 5, ASSOCIATION.format("f"), 0),
        [".childQuantityList: only in JSON"],
    ),
]


@pytest.mark.parametrize(("pair", "expected"), DIVERGENT)
def test_divergent_counterparts_differ_only_where_the_examples_do(
    pair: tuple[str, int, str, int], expected: list[str]
) -> None:
    assert _pair(*pair) == expected


def test_context_declares_every_extension_namespace_as_its_counterpart_does() -> None:
    document = _convert("Example_9.6.1-ObjectEvent-2020_06_18a.xml")
    counterpart = json.loads((EXAMPLES / "json/Example_9.6.1-ObjectEvent.jsonld").read_text())
    assert document["@context"] == counterpart["@context"]
    assert document["@context"][0] == CONTEXT_URL


# -- mapping details, on small documents -----------------------------------------------

HEAD = (
    '<epcis:EPCISDocument xmlns:epcis="urn:epcglobal:epcis:xsd:2" '
    'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    'xmlns:ex="http://example.com/ns" xmlns:gs1="https://gs1.org/voc/" '
    'schemaVersion="2.0" creationDate="2024-01-01T00:00:00Z"><EPCISBody><EventList>'
)
TAIL = "</EventList></EPCISBody></epcis:EPCISDocument>"


def _events(xml: str) -> list[dict[str, Any]]:
    document = parse_xml_document(HEAD + xml + TAIL, "test")
    events: list[dict[str, Any]] = document["epcisBody"]["eventList"]
    return events


def test_cbv_values_take_their_short_form_and_other_uris_stay_whole() -> None:
    (event,) = _events(
        "<ObjectEvent><eventTime>2024-01-01T00:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><epcList/><action>OBSERVE</action>"
        "<bizStep>https://ref.gs1.org/cbv/BizStep-receiving</bizStep>"
        "<disposition>https://example.com/disp/odd</disposition>"
        '<bizTransactionList><bizTransaction type="urn:epcglobal:cbv:btt:inv">urn:x:1'
        '</bizTransaction><bizTransaction type="https://example.com/btt/own">urn:x:2'
        "</bizTransaction></bizTransactionList>"
        '<sourceList><source type="urn:epcglobal:cbv:sdt:owning_party">urn:x:3</source>'
        "</sourceList>"
        "<errorDeclaration><declarationTime>2024-01-02T00:00:00Z</declarationTime>"
        "<reason>urn:epcglobal:cbv:er:incorrect_data</reason></errorDeclaration>"
        "</ObjectEvent>"
    )
    assert event["bizStep"] == "receiving"
    assert event["disposition"] == "https://example.com/disp/odd"
    assert event["bizTransactionList"] == [
        {"type": "inv", "bizTransaction": "urn:x:1"},
        {"type": "https://example.com/btt/own", "bizTransaction": "urn:x:2"},
    ]
    assert event["sourceList"] == [{"type": "owning_party", "source": "urn:x:3"}]
    assert event["errorDeclaration"]["reason"] == "incorrect_data"


def test_numbers_and_booleans_are_typed_and_nil_quantities_left_out() -> None:
    (event,) = _events(
        "<ObjectEvent><eventTime>2024-01-01T00:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action>"
        "<quantityList><quantityElement><epcClass>urn:x:a</epcClass><quantity>200</quantity>"
        "<uom>KGM</uom></quantityElement><quantityElement><epcClass>urn:x:b</epcClass>"
        '<quantity xsi:nil="true"/></quantityElement><quantityElement>'
        "<epcClass>urn:x:c</epcClass><quantity>2.5</quantity></quantityElement></quantityList>"
        '<sensorElementList><sensorElement><sensorReport type="gs1:Temperature" value="-3.5"'
        ' percRank="50" booleanValue="false" ex:note="n"/></sensorElement></sensorElementList>'
        "</ObjectEvent>"
    )
    quantities = event["quantityList"]
    assert quantities == [
        {"epcClass": "urn:x:a", "quantity": 200, "uom": "KGM"},
        {"epcClass": "urn:x:b"},
        {"epcClass": "urn:x:c", "quantity": 2.5},
    ]
    assert isinstance(quantities[0]["quantity"], int)
    (report,) = event["sensorElementList"][0]["sensorReport"]
    assert report == {
        "type": "Temperature",
        "value": -3.5,
        "percRank": 50,
        "booleanValue": False,
        "ex:note": "n",
    }


def test_extension_wrappers_are_dissolved_and_user_elements_nested() -> None:
    events = _events(
        "<ObjectEvent><eventTime>2024-01-01T00:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
        "<baseExtension><eventID>urn:uuid:1</eventID></baseExtension><action>ADD</action>"
        "<extension><quantityList><quantityElement><epcClass>urn:x:a</epcClass>"
        "<quantity>1</quantity></quantityElement></quantityList>"
        "<ilmd><ex:lot>L1</ex:lot></ilmd></extension>"
        '<ex:box ex:size="L"><ex:item>1</ex:item><ex:item>2</ex:item><plain>p</plain>'
        '<ex:weight unit="KGM">3.5</ex:weight></ex:box></ObjectEvent>'
        "<extension><TransformationEvent><eventTime>2024-01-01T00:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset>"
        "<inputEPCList><epc>urn:x:i</epc></inputEPCList>"
        "<transformationID>urn:x:t</transformationID></TransformationEvent></extension>"
    )
    assert [e["type"] for e in events] == ["ObjectEvent", "TransformationEvent"]
    event = events[0]
    assert event["eventID"] == "urn:uuid:1"
    assert event["quantityList"] == [{"epcClass": "urn:x:a", "quantity": 1}]
    assert event["ilmd"] == {"ex:lot": "L1"}
    assert event["ex:box"] == {
        "ex:size": "L",
        "ex:item": ["1", "2"],
        "plain": "p",
        "ex:weight": {"unit": "KGM", "#text": "3.5"},
    }
    assert "extension" not in event and "baseExtension" not in event


def test_an_unprefixed_namespace_gets_a_generated_prefix_in_the_context() -> None:
    document = xml_to_json(
        HEAD + "<ObjectEvent><eventTime>2024-01-01T00:00:00Z</eventTime>"
        "<eventTimeZoneOffset>+00:00</eventTimeZoneOffset><action>OBSERVE</action>"
        '<note xmlns="urn:acme:notes">hi</note></ObjectEvent>' + TAIL,
        "test",
    )
    assert document["epcisBody"]["eventList"][0]["ns1:note"] == "hi"
    assert {"ns1": "urn:acme:notes:"} in document["@context"]
    assert {"ex": "http://example.com/ns/"} in document["@context"]


def test_master_data_documents_become_header_master_data() -> None:
    # the second is an EPCISDocument whose header carries the master data, and no events
    for path in [
        *MASTER_DATA,
        XML / "WithFullCombinationOfFields/masterdata_all_possible_fields.xml",
    ]:
        document = parse_xml_document(path.read_bytes(), path.name)
        assert document["epcisBody"]["eventList"] == []
        vocabularies = document["epcisHeader"]["epcisMasterData"]["vocabularyList"]
        assert vocabularies and all(v["type"] and v["vocabularyElementList"] for v in vocabularies)
    document = _convert("Mimasu/Example-masterData.xml")
    element = document["epcisHeader"]["epcisMasterData"]["vocabularyList"][0][
        "vocabularyElementList"
    ][0]
    assert element["attributes"][0] == {
        "id": "http://epcis.example.com/mda/latitude",
        "attribute": "+18.0000",
    }
    assert element["attributes"][2]["attribute"]["example:Address"]["City"] == "Fancy"
    assert element["children"][0] == "urn:epc:id:sgln:0037000.00729.8201"


@pytest.mark.parametrize("path", CAPTURE_JOBS, ids=_ids)
def test_capture_jobs_are_refused(path: Path) -> None:
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json(path.read_bytes(), path.name)
    (problem,) = caught.value.problems
    assert problem.path == "EPCISCaptureJob"
    assert "capture job" in problem.message


# -- refusals ----------------------------------------------------------------------------


def test_malformed_xml_names_line_and_column() -> None:
    text = HEAD + "\n<ObjectEvent>\n  <eventTime>x</eventTme>\n" + TAIL
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json(text.encode(), "bad.xml")
    (problem,) = caught.value.problems
    assert problem.path == "(text)"
    assert problem.message == "not XML at line 3 column 17: mismatched tag"


def test_text_that_is_not_xml_at_all_is_refused() -> None:
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json('{"type": "EPCISDocument"}', "json.xml")
    assert (
        caught.value.problems[0].message
        == "not XML at line 1 column 1: not well-formed (invalid token)"
    )


@pytest.mark.parametrize(
    "doctype",
    [
        '<!DOCTYPE d [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>',
        '<!DOCTYPE d SYSTEM "file:///etc/passwd">',
        "<!DOCTYPE d []>",
    ],
)
def test_dtds_and_entities_are_refused(doctype: str) -> None:
    text = f'<?xml version="1.0"?>\n{doctype}\n{HEAD}{TAIL}'
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json(text, "dtd.xml")
    (problem,) = caught.value.problems
    assert problem.path == "(text)"
    assert problem.message.startswith("refused at line 2 column ")
    assert "DTD (DOCTYPE d) is not accepted" in problem.message


def test_a_bare_doctype_declares_nothing_and_is_read() -> None:
    events = _events("")
    document = xml_to_json(f"<!DOCTYPE project>{HEAD}{TAIL}", "bare")
    assert events == [] and document["epcisBody"]["eventList"] == []


def test_an_undeclared_entity_is_not_expanded() -> None:
    text = HEAD.replace("<EPCISBody>", "<EPCISBody>&xxe;") + TAIL
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json(text, "entity.xml")
    assert "undefined entity" in caught.value.problems[0].message


def test_an_unknown_root_is_refused_by_name() -> None:
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json("<Invoice/>", "invoice.xml")
    assert [(p.path, p.message) for p in caught.value.problems] == [
        ("Invoice", "not an EPCISDocument or EPCISMasterDataDocument")
    ]


def test_an_unknown_event_or_field_element_is_named_with_its_path() -> None:
    text = (
        HEAD + "<ObjectEvent><eventTime>2024-01-01T00:00:00Z</eventTime><colour>red</colour>"
        "<quantityList><quantityElement><epcClass>urn:x</epcClass><quantity>many</quantity>"
        "</quantityElement></quantityList></ObjectEvent><ShipmentEvent/><QuantityEvent/>" + TAIL
    )
    with pytest.raises(EpcisDocumentError) as caught:
        xml_to_json(text, "odd.xml")
    base = "EPCISDocument/EPCISBody/EventList"
    assert [(p.path, p.message) for p in caught.value.problems] == [
        (f"{base}/ObjectEvent[1]/colour", "unknown element 'colour'"),
        (f"{base}/ObjectEvent[1]/quantityList/quantityElement/quantity", "'many' is not a number"),
        (f"{base}/ShipmentEvent", "unknown event element 'ShipmentEvent'"),
        (f"{base}/QuantityEvent", "QuantityEvent (EPCIS 1.x, deprecated) has no JSON form"),
    ]
