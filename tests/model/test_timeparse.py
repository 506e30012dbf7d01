import pytest

from factoryos.model.timeparse import format_ns, parse_duration_ns, parse_time_ns

NOW = 1_790_000_000_000_000_000


@pytest.mark.parametrize(
    ("text", "ns"),
    [("10s", 10 * 10**9), ("1m", 60 * 10**9), ("1.5h", 5400 * 10**9), ("250ms", 250 * 10**6)],
)
def test_durations(text: str, ns: int) -> None:
    assert parse_duration_ns(text) == ns


@pytest.mark.parametrize("text", ["", "10", "m", "1y", "-5s", "1 h"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(ValueError, match="not a duration"):
        parse_duration_ns(text)


def test_times() -> None:
    assert parse_time_ns("now", NOW) == NOW
    assert parse_time_ns("-1h", NOW) == NOW - 3600 * 10**9
    assert parse_time_ns("2026-11-24T08:00:00Z", NOW) == 1_795_507_200 * 10**9
    assert parse_time_ns("2026-11-24T16:00:00+08:00", NOW) == 1_795_507_200 * 10**9
    assert format_ns(1_795_507_200 * 10**9 + 5 * 10**6) == "2026-11-24T08:00:00.005Z"


def test_naive_and_garbage_times_are_refused() -> None:
    with pytest.raises(ValueError, match="no time zone"):
        parse_time_ns("2026-11-24T08:00:00", NOW)
    with pytest.raises(ValueError, match="not a time"):
        parse_time_ns("yesterday", NOW)
