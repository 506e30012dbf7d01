"""EPCIS 2.0 documents against GS1's official JSON schema: every official example is valid,
a broken document is refused whole with the path of each offending field, and text that is
not JSON names its line and column."""

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from factoryos.apps.trace.epcis.validate import (
    EpcisDocumentError,
    json_path,
    parse_document,
    validate_document,
)

EXAMPLES = Path(__file__).resolve().parents[5] / "shared" / "datasets" / "epcis" / "examples"
JSON_EXAMPLES = sorted((EXAMPLES / "json").rglob("*.jsonld"))
OBJECT_EVENT = EXAMPLES / "json" / "Example_9.6.1-ObjectEvent.jsonld"


def test_the_shared_folder_has_the_official_examples() -> None:
    assert len(JSON_EXAMPLES) == 47  # SOURCE.md: 47 JSON-LD documents


@pytest.mark.parametrize("path", JSON_EXAMPLES, ids=lambda p: p.name)
def test_every_official_json_example_is_valid(path: Path) -> None:
    document = parse_document(path.read_bytes(), path.name)
    assert document["type"] in ("EPCISDocument", "EPCISQueryDocument")


def _example() -> dict[str, Any]:
    document: dict[str, Any] = json.loads(OBJECT_EVENT.read_text())
    return document


def _problems(document: Any) -> list[str]:
    with pytest.raises(EpcisDocumentError) as info:
        validate_document(document, "doc.json")
    return [str(p) for p in info.value.problems]


def test_an_event_without_its_time_is_refused_at_the_event() -> None:
    document = _example()
    del document["epcisBody"]["eventList"][1]["eventTime"]
    problems = _problems(document)
    assert problems and all(p.startswith("epcisBody.eventList[1]") for p in problems)
    assert any("eventTime" in p for p in problems)


def test_a_wrong_action_names_its_field() -> None:
    document = _example()
    document["epcisBody"]["eventList"][0]["action"] = "MOVE"
    problems = _problems(document)
    assert any(p.startswith("epcisBody.eventList[0].action: 'MOVE'") for p in problems), problems


def test_the_old_urn_vocabulary_is_refused_field_by_field() -> None:
    # The JSON counterpart of the standard's hash-ID test set uses EPCIS 1.x URN values
    # (urn:epcglobal:cbv:…), which 2.0 JSON forbids; SOURCE.md counts 11 problems.
    legacy = EXAMPLES / "xml" / "WithEventHashID" / "event_with_identical_hash_id_7.json"
    problems = _problems(json.loads(legacy.read_text()))
    assert "epcisBody.eventList[0].bizStep" in problems[0]
    assert len(problems) >= 5


def test_validation_changes_nothing() -> None:
    document = _example()
    before = copy.deepcopy(document)
    validate_document(document)
    assert document == before


def test_text_that_is_not_json_names_line_and_column() -> None:
    with pytest.raises(EpcisDocumentError) as info:
        parse_document('{\n  "type": "EPCISDocument",\n  "epcisBody": {,}\n}', "broken.json")
    (problem,) = info.value.problems
    assert str(problem).startswith("(text): not JSON at line 3 column 17")
    assert str(info.value).startswith("broken.json: not a valid EPCIS 2.0 document")
    with pytest.raises(EpcisDocumentError, match="not UTF-8"):
        parse_document(b'{"type": "\xc3\x28"}', "binary.json")


def test_paths_read_like_the_document() -> None:
    assert json_path(["epcisBody", "eventList", 2, "bizStep"]) == "epcisBody.eventList[2].bizStep"
    assert json_path([]) == "(document)"
