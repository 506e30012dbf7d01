"""The MQTT JSON payload decoder: the documented format, every bad-input reason, and fuzzing."""

import json
import math
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.connect.errors import ConfigError, PayloadError
from factoryos.connect.mqtt_payload import Decoded, FieldMap, Reason, decode, parse
from factoryos.model.quality import Quality
from factoryos.model.tags import MqttAddress

RECEIVED = 1_700_000_000_123_000_000
T_ISO = "2026-11-24T08:00:00.250Z"
T_NS = 1_795_507_200_250_000_000
MAX = 4096
GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)


def fields(*addresses: dict[str, Any]) -> list[FieldMap]:
    return [
        FieldMap.of(i, MqttAddress.model_validate({"topic": "t", **a}))
        for i, a in enumerate(addresses)
    ]


PLAIN = fields({})
WITH_Q = fields({"quality": "$.quality"})


def run(payload: object, f: list[FieldMap] = PLAIN) -> Decoded:
    data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return decode(data, f, RECEIVED, MAX)


def samples(d: Decoded) -> list[tuple[int, int, float, int]]:
    return list(zip(d.points, d.ts, d.values, d.quality, strict=True))


def reasons(d: Decoded) -> list[str]:
    return [p.reason for p in d.problems]


def test_value_time_and_quality() -> None:
    d = run({"value": 4.5, "timestamp": T_ISO, "quality": "Uncertain"}, WITH_Q)
    assert samples(d) == [(0, T_NS, 4.5, UNCERTAIN)]
    assert d.problems == []


def test_epoch_milliseconds_and_receive_time() -> None:
    assert samples(run({"value": 1, "timestamp": 1_795_507_200_250})) == [(0, T_NS, 1.0, GOOD)]
    assert samples(run({"value": 1, "timestamp": 1.5})) == [(0, 1_500_000, 1.0, GOOD)]
    # No timestamp in the payload (or no path configured): the time it arrived.
    assert samples(run({"value": 2})) == [(0, RECEIVED, 2.0, GOOD)]
    assert samples(run({"value": 2, "timestamp": T_ISO}, fields({"timestamp": None})))[0][1] == (
        RECEIVED
    )


def test_bools_nulls_and_bad_quality() -> None:
    assert samples(run({"value": True})) == [(0, RECEIVED, 1.0, GOOD)]
    assert samples(run({"value": False})) == [(0, RECEIVED, 0.0, GOOD)]
    [(_, _, v, q)] = samples(run({"value": None}))  # null: the source has no value
    assert math.isnan(v) and q == BAD
    # A bad quality wins over any value, even one of the wrong type.
    [(_, _, v, q)] = samples(run({"value": "n/a", "quality": "bad"}, WITH_Q))
    assert math.isnan(v) and q == BAD


@pytest.mark.parametrize(
    ("code", "quality"),
    [
        (0, GOOD),
        (0x40000000, UNCERTAIN),
        (0x408F0000, UNCERTAIN),
        (0x80340000, BAD),
        (0xC0000000, BAD),
    ],
)
def test_opc_ua_status_codes(code: int, quality: int) -> None:
    [(_, _, _, q)] = samples(run({"value": 1, "quality": code}, WITH_Q))
    assert q == quality


def test_several_tags_on_one_payload_and_arrays() -> None:
    f = fields(
        {"value": "$.power.kw", "timestamp": "$.ts"},
        {"value": "$.spindle[1]", "timestamp": "$.ts"},
    )
    one = {"ts": T_ISO, "power": {"kw": 12.5}, "spindle": [0, 3000]}
    assert samples(run(one, f)) == [(0, T_NS, 12.5, GOOD), (1, T_NS, 3000.0, GOOD)]
    two = [one, {"ts": 1000, "power": {"kw": 13}, "spindle": [0, 3100]}]
    assert samples(run(two, f)) == [
        (0, T_NS, 12.5, GOOD),
        (1, T_NS, 3000.0, GOOD),
        (0, 1_000_000_000, 13.0, GOOD),
        (1, 1_000_000_000, 3100.0, GOOD),
    ]
    assert samples(run([], f)) == []


@pytest.mark.parametrize(
    ("payload", "reason", "message"),
    [
        (b"\xff\xfe\x00garbage", Reason.NOT_JSON, "not JSON"),
        (b'{"value": 1', Reason.NOT_JSON, "not JSON"),
        (b'{"value": NaN}', Reason.NOT_JSON, "NaN is not JSON"),
        (b'{"value": -Infinity}', Reason.NOT_JSON, "-Infinity is not JSON"),
        (b"[" * 100_000, Reason.NOT_JSON, "not JSON"),  # deeper than the parser goes (and big)
        (b'{"value": ' + b"9" * 5000 + b"}", Reason.NOT_JSON, "not JSON"),
        (b"42", Reason.NOT_OBJECT, "a number, not an object or array"),
        (b'"text"', Reason.NOT_OBJECT, "a string"),
        (b"[1]", Reason.NOT_OBJECT, r"element \[0\] is a number"),
        (b"{}", Reason.MISSING, r"no \$\.value"),
        (b'{"value": "12.5"}', Reason.WRONG_TYPE, r"value \$\.value is a string"),
        (b'{"value": [1]}', Reason.WRONG_TYPE, "an array"),
        (b'{"value": 1e999}', Reason.NOT_FINITE, "does not fit a float64"),
        (b'{"value": 1, "timestamp": "yesterday"}', Reason.BAD_TIME, "not a time"),
        (b'{"value": 1, "timestamp": "2026-01-01T00:00:00"}', Reason.BAD_TIME, "no time zone"),
        (b'{"value": 1, "timestamp": 1e300}', Reason.BAD_TIME, "out of range"),
        (b'{"value": 1, "timestamp": true}', Reason.WRONG_TYPE, "timestamp is a bool"),
        (b'{"value": 1, "quality": "fine"}', Reason.WRONG_TYPE, "quality 'fine'"),
        (b'{"value": 1, "quality": -1}', Reason.WRONG_TYPE, "quality -1"),
        (b'{"value": 1, "quality": 4294967296}', Reason.WRONG_TYPE, "StatusCode"),
    ],
)
def test_bad_input_is_a_problem_not_a_sample(payload: bytes, reason: Reason, message: str) -> None:
    d = decode(payload, WITH_Q, RECEIVED, 200_000)
    assert len(d) == 0
    assert reasons(d) == [reason]
    assert all(isinstance(p, PayloadError) for p in d.problems)
    assert re.search(message, str(d.problems[0])), str(d.problems[0])


def test_oversized_is_refused_before_parsing() -> None:
    d = decode(b'{"value": 1}' + b" " * MAX, PLAIN, RECEIVED, MAX)
    assert len(d) == 0 and reasons(d) == [Reason.OVERSIZED]
    assert f"exceeds max_payload_bytes {MAX}" in str(d.problems[0])


def test_one_bad_tag_does_not_spoil_the_others() -> None:
    f = fields({"value": "$.a"}, {"value": "$.b"})
    d = run([{"a": 1, "b": "x"}, "junk", {"a": 2}], f)
    assert [(p, v) for p, _, v, _ in samples(d)] == [(0, 1.0), (0, 2.0)]
    assert reasons(d) == [Reason.WRONG_TYPE, Reason.NOT_OBJECT, Reason.MISSING]


def test_a_path_outside_the_subset_is_a_config_error() -> None:
    address = MqttAddress(topic="t")
    with pytest.raises(ConfigError, match="not supported"):
        FieldMap.of(0, address.model_copy(update={"value": "$..x"}))


def test_parse_shapes() -> None:
    assert parse(b'{"a": 1}', MAX) == [{"a": 1}]
    assert parse(b'[{"a": 1}, 2]', MAX) == [{"a": 1}, 2]


# -- fuzzing: never raises but PayloadError inside, never a non-finite value that is not BAD ----

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=25,
)
FIELD_VALUES = st.one_of(
    JSON,
    st.integers(-(2**70), 2**70),
    st.sampled_from(["good", "BAD", "uncertain", T_ISO, "2026-13-01T00:00:00Z", ""]),
    st.floats(),
)
FUZZ_FIELDS = fields(
    {"value": "$.value", "timestamp": "$.timestamp", "quality": "$.quality"},
    {"value": "$.v[0]", "timestamp": "$.t.s", "quality": "$.q"},
)


def check(d: Decoded) -> None:
    assert len(d.points) == len(d.ts) == len(d.values) == len(d.quality)
    for p in d.problems:
        assert isinstance(p, PayloadError)
        Reason(p.reason)  # one of the documented reasons
    for v, q in zip(d.values, d.quality, strict=True):
        assert q in (GOOD, UNCERTAIN, BAD)
        assert isinstance(v, float)
        assert math.isfinite(v) or q == BAD
    for ts in d.ts:
        assert -(2**63) <= ts < 2**63


@settings(max_examples=1000, deadline=None)
@given(st.binary(max_size=300))
def test_fuzz_arbitrary_bytes(payload: bytes) -> None:
    check(decode(payload, FUZZ_FIELDS, RECEIVED, 256))


@settings(max_examples=1000, deadline=None)
@given(JSON)
def test_fuzz_arbitrary_json(document: Any) -> None:
    check(decode(json.dumps(document).encode(), FUZZ_FIELDS, RECEIVED, 100_000))


@settings(max_examples=1000, deadline=None)
@given(
    st.dictionaries(
        st.sampled_from(["value", "timestamp", "quality", "v", "t", "q"]), FIELD_VALUES, max_size=6
    ),
    st.booleans(),
)
def test_fuzz_objects_with_the_right_keys(obj: dict[str, Any], as_array: bool) -> None:
    text = json.dumps([obj, obj] if as_array else obj)  # floats('nan') → NaN: must be refused
    d = decode(text.encode(), FUZZ_FIELDS, RECEIVED, 100_000)
    check(d)
    if "NaN" not in text and "Infinity" not in text:
        assert len(d) + len(d.problems) == (2 if as_array else 1) * 2
