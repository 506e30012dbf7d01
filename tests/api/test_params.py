"""The API's parameter parsing and time formatting, on top of model.timeparse."""

import numpy as np
import pytest

from factoryos.api.errors import BadParameterError
from factoryos.api.params import iso_time, iso_times, parse_duration, parse_time
from factoryos.model.timeparse import format_ns, format_ns_array

T0 = 1_714_564_800 * 10**9  # 2024-05-01T12:00:00Z
EXAMPLE = "e.g. 2024-05-01T12:00:00Z"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("2024-05-01T12:00:00Z", T0),
        ("2024-05-01T14:00:00+02:00", T0),
        ("2024-05-01T12:00:00.123456Z", T0 + 123_456_000),
        ("1969-12-31T23:59:59.5Z", -500_000_000),  # exact before the epoch too
        ("1677-09-21T00:12:44Z", -9_223_372_036_000_000_000),
    ],
)
def test_times_are_exact_nanoseconds(text: str, ns: int) -> None:
    assert parse_time(text, "start") == ns


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("yesterday", f"start: 'yesterday' is not an ISO 8601 time; use {EXAMPLE}"),
        ("now", f"start: 'now' is not an ISO 8601 time; use {EXAMPLE}"),
        ("-1h", f"start: '-1h' is not an ISO 8601 time; use {EXAMPLE}"),
        (
            "2024-05-01T12:00:00",
            f"start: '2024-05-01T12:00:00' has no time zone; add Z for UTC or an offset, {EXAMPLE}",
        ),
        ("9999-12-31T23:59:59Z", "start: '9999-12-31T23:59:59Z' is outside the years 1678 to 2261"),
    ],
)
def test_bad_times_name_the_parameter_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(BadParameterError) as raised:
        parse_time(text, "start")
    assert str(raised.value) == message
    assert raised.value.param == "start"


@pytest.mark.parametrize(
    ("text", "ns"),
    [
        ("500ms", 500 * 10**6),
        ("10s", 10 * 10**9),
        ("15m", 900 * 10**9),
        ("1d", 86_400 * 10**9),
        ("1w", 7 * 86_400 * 10**9),  # the shared grammar's weeks
    ],
)
def test_durations(text: str, ns: int) -> None:
    assert parse_duration(text) == ns


@pytest.mark.parametrize("text", ["0s", "1.5m", "", "10x", "-1m", "1 h"])
def test_bad_durations_are_refused_with_the_api_wording(text: str) -> None:
    with pytest.raises(BadParameterError) as raised:
        parse_duration(text, "every")
    assert str(raised.value) == (
        f"every: {text!r} is not a duration; use a whole number and a unit "
        "(ms, s, m, h, d), e.g. 10s, 1m, 15m, 1h"
    )


def test_iso_times_use_the_coarsest_precision_that_loses_nothing() -> None:
    assert iso_times(np.array([T0, T0 + 5 * 10**6], dtype=np.int64)) == [
        "2024-05-01T12:00:00.000Z",
        "2024-05-01T12:00:00.005Z",
    ]
    assert iso_times(np.array([T0, T0 + 7_000], dtype=np.int64))[1] == "2024-05-01T12:00:00.000007Z"
    assert iso_time(T0 + 1) == "2024-05-01T12:00:00.000000001Z"
    assert iso_times(np.array([], dtype=np.int64)) == []


def test_array_formatting_agrees_with_format_ns() -> None:
    ts = np.random.default_rng(2).integers(-(2**62), 2**62, 2000)
    assert format_ns_array(ts) == [format_ns(int(t)) for t in ts]
    assert format_ns(-1) == "1969-12-31T23:59:59.999Z"  # cut toward the past, not rounded
