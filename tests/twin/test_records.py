"""Identifier records: bounded in every part, errors naming the field."""

import pytest

from factoryos.twin.errors import RecordError
from factoryos.twin.records import MAX_RECORD_BYTES, Record, load_record, parse_record

PUMP = {
    "type": "product",
    "name": "Centrifugal pump CP-40",
    "data": {"gtin": "09506000134352", "lot": "L42", "rated_kw": 7.5, "units": 3, "ok": True},
    "twin": "plant1/assembly/line2/cell1/cp40",
    "epcs": ["urn:epc:id:sgtin:9506000.134352.42"],
}


def test_a_full_record_round_trips_through_its_stored_json() -> None:
    record = parse_record(PUMP)

    assert load_record(record.model_dump_json()) == record
    assert record.data["rated_kw"] == 7.5 and record.data["ok"] is True
    assert isinstance(record.data["units"], int)


def test_only_type_is_required() -> None:
    assert parse_record({"type": "batch"}) == Record(type="batch")


@pytest.mark.parametrize(
    ("change", "where"),
    [
        ({"type": "Product"}, "record.type:"),
        ({"type": ""}, "record.type:"),
        ({"colour": "red"}, "record.colour: Extra inputs"),
        ({"data": {"1st": "x"}}, "record.data.1st"),
        ({"data": {"x": "y" * 1001}}, "record.data.x: 1,001 characters, at most 1,000"),
        ({"data": {"x": 2**60}}, "record.data.x: an integer beyond"),
        ({"data": {"x": float("inf")}}, "record.data.x: not a finite number"),
        ({"data": {f"f{n}": n for n in range(65)}}, "record.data:"),
        ({"epcs": ["urn:x"] * 33}, "record.epcs:"),
        ({"epcs": ["has space"]}, "record.epcs.0:"),
        ({"twin": "t" * 401}, "record.twin:"),
        ({"data": {f"f{n}": "x" * 900 for n in range(30)}}, "record: 27,"),
    ],
)
def test_bad_records_are_refused_naming_the_field(change: dict[str, object], where: str) -> None:
    with pytest.raises(RecordError) as caught:
        parse_record({**PUMP, **change})

    assert where in str(caught.value)


def test_the_whole_record_is_bounded_as_json() -> None:
    fits = {"type": "product", "data": {f"f{n}": "x" * 200 for n in range(64)}}
    assert len(parse_record(fits).model_dump_json()) <= MAX_RECORD_BYTES
    with pytest.raises(RecordError, match=f"at most {MAX_RECORD_BYTES:,}"):
        parse_record({"type": "product", "data": {f"f{n}": "x" * 300 for n in range(64)}})


def test_a_corrupt_stored_record_is_a_record_error() -> None:
    with pytest.raises(RecordError, match=r"^stored record"):
        load_record('{"type": 5}')
