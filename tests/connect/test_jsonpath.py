"""The JSON-path subset: compile, render, lookup; fuzzed with hypothesis."""

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.connect.errors import ConfigError, PayloadError
from factoryos.connect.jsonpath import Step, compile_path, lookup, render

KEYS = st.from_regex(r"[A-Za-z0-9_-]{1,8}", fullmatch=True)
STEPS = st.lists(st.one_of(KEYS, st.integers(0, 5)), max_size=6).map(tuple)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4),
    max_leaves=20,
)


@pytest.mark.parametrize(
    ("path", "steps"),
    [
        ("$", ()),
        ("$.value", ("value",)),
        ("$.a.b-c.d_e", ("a", "b-c", "d_e")),
        ("$.items[0].v", ("items", 0, "v")),
        ("$[2][10]", (2, 10)),
        ("$.0", ("0",)),  # a key made of digits is still a key
    ],
)
def test_compile(path: str, steps: tuple[Step, ...]) -> None:
    assert compile_path(path) == steps
    assert render(steps) == path


@pytest.mark.parametrize(
    "path", ["", "value", "$.", "$..a", "$.a[", "$[-1]", "$[*]", "$.a b", "$['a']", "$.a.*"]
)
def test_compile_refuses_what_is_not_in_the_subset(path: str) -> None:
    with pytest.raises(ConfigError, match="is not supported"):
        compile_path(path)


def test_lookup() -> None:
    doc = {"a": {"b": [10, {"c": True}]}, "0": "zero"}
    assert lookup(doc, compile_path("$.a.b[0]")) == 10
    assert lookup(doc, compile_path("$.a.b[1].c")) is True
    assert lookup(doc, compile_path("$.0")) == "zero"
    assert lookup(doc, ()) is doc


@pytest.mark.parametrize(
    ("path", "where"),
    [
        ("$.x", r"\$\.x .*an object"),
        ("$.a.b[2]", r"\$\.a\.b\[2\] .*an array of 2"),
        ("$.a[0]", r"\$\.a\[0\] .*an object"),  # an index on an object
        ("$.a.b.c", r"\$\.a\.b\.c .*an array"),  # a key on an array
        ("$.a.b[0].z", r"\$\.a\.b\[0\]\.z .*a int"),
    ],
)
def test_lookup_names_the_step_that_does_not_fit(path: str, where: str) -> None:
    with pytest.raises(PayloadError, match=where) as caught:
        lookup({"a": {"b": [10, 20]}}, compile_path(path))
    assert caught.value.reason == "missing"


@settings(max_examples=300, deadline=None)
@given(STEPS)
def test_render_and_compile_round_trip(steps: tuple[Step, ...]) -> None:
    assert compile_path(render(steps)) == steps


@settings(max_examples=500, deadline=None)
@given(JSON, STEPS)
def test_lookup_finds_a_value_or_raises_payload_error(doc: Any, steps: tuple[Step, ...]) -> None:
    try:
        found = lookup(doc, steps)
    except PayloadError as exc:
        reason = exc.reason
    else:
        # What it found is really there: walking the JSON text again gives the same value.
        node = json.loads(json.dumps(doc))
        for step in steps:
            node = node[step]
        assert node == found
        return
    assert reason == "missing"
