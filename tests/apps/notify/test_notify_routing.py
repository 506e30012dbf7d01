"""Routing, de-duplication and webhook signatures: the pure parts."""

import hashlib
import hmac

import pytest

from factoryos.apps.notify import NotifyError, SignatureError, sign, verify_signature
from factoryos.apps.notify.config import Route
from factoryos.apps.notify.dedupe import Deduplicator
from factoryos.apps.notify.routing import route

from .helpers import note

S = 1_000_000_000


def routes(*specs: dict[str, object]) -> list[Route]:
    return [Route.model_validate(s) for s in specs]


def test_label_glob_source_and_priority_all_have_to_match() -> None:
    rs = routes(
        {
            "match": {"source": "alarm", "priority_min": "high", "equipment": "demo/machining/*"},
            "channels": ["ops"],
            "dedupe_s": 600,
        }
    )
    assert route(note(), rs) == {"ops": 600.0}
    assert route(note(source="report"), rs) == {}
    assert route(note(priority=2), rs) == {}
    assert route(note(labels={"equipment": "demo/assembly/press-01"}), rs) == {}
    assert route(note(labels={}), rs) == {}, "a label the match names must be present"


def test_priority_min_by_name_or_number_is_inclusive() -> None:
    by_name = routes({"match": {"priority_min": "high"}, "channels": ["a"]})
    by_number = routes({"match": {"priority_min": 3}, "channels": ["a"]})
    for rs in (by_name, by_number):
        assert [p for p in (1, 2, 3, 4) if route(note(priority=p), rs)] == [3, 4]


def test_globs_are_case_sensitive_and_star_crosses_slashes() -> None:
    rs = routes({"match": {"equipment": "demo/*/oven-0?"}, "channels": ["a"]})
    assert route(note(labels={"equipment": "demo/machining/line1/oven-01"}), rs)
    assert not route(note(labels={"equipment": "DEMO/machining/oven-01"}), rs)
    assert not route(note(labels={"equipment": "demo/machining/oven-012"}), rs)


def test_union_of_channels_with_the_longest_window() -> None:
    rs = routes(
        {"match": {"source": "alarm"}, "channels": ["ops", "mail"], "dedupe_s": 60},
        {"match": {"priority_min": 4}, "channels": ["mail", "pager"], "dedupe_s": 600},
        {"match": {"source": "report"}, "channels": ["reports"]},
    )
    assert route(note(), rs) == {"ops": 60.0, "mail": 600.0, "pager": 600.0}
    assert route(note(priority=1), rs) == {"ops": 60.0, "mail": 60.0}


def test_explicit_labels_mapping_allows_a_label_called_source() -> None:
    rs = routes({"match": {"labels": {"source": "plc-*"}}, "channels": ["a"]})
    assert route(note(labels={"source": "plc-7"}), rs)
    assert not route(note(labels={"source": "mes"}), rs)


def test_same_key_and_channel_within_the_window_is_admitted_once() -> None:
    d = Deduplicator(max_keys=10)
    assert d.admit("k", "ops", 0, 10 * S)
    assert not d.admit("k", "ops", 9 * S, 10 * S)
    assert d.admit("k", "mail", 9 * S, 10 * S), "another channel is another pair"
    assert d.admit("other", "ops", 9 * S, 10 * S)
    assert d.admit("k", "ops", 10 * S, 10 * S), "the window has ended"
    assert not d.admit("k", "ops", 11 * S, 10 * S)


def test_zero_window_always_admits_and_remembers_nothing() -> None:
    d = Deduplicator(max_keys=10)
    assert all(d.admit("k", "ops", t, 0) for t in range(5))
    assert len(d) == 0


def test_expired_pairs_are_purged() -> None:
    d = Deduplicator(max_keys=1000)
    for i in range(100):
        d.admit(f"k{i}", "ops", 0, 5 * S)
    assert len(d) == 100
    d.admit("late", "ops", 5 * S, 5 * S)
    assert len(d) == 1
    assert d.evicted == 0


def test_key_cap_forgets_the_pair_closest_to_expiry() -> None:
    d = Deduplicator(max_keys=3)
    d.admit("long", "ops", 0, 100 * S)
    d.admit("short", "ops", 0, 1 * S // 2 + 10 * S)
    d.admit("mid", "ops", 0, 50 * S)
    assert d.admit("new", "ops", 1 * S, 100 * S)
    assert len(d) == 3
    assert d.evicted == 1
    assert d.admit("short", "ops", 2 * S, 100 * S), "the evicted pair is sent again"
    assert not d.admit("long", "ops", 2 * S, 100 * S)
    assert not d.admit("new", "ops", 2 * S, 100 * S)


def test_key_cap_must_be_positive() -> None:
    with pytest.raises(NotifyError, match="max_keys"):
        Deduplicator(0)


SECRET = b"whsec-test"
BODY = b'{"subject":"Oven T HH"}'


def test_signature_round_trip_and_documented_algorithm() -> None:
    header = sign(SECRET, BODY, 1_800_000_000)
    expected = hmac.new(SECRET, b"1800000000." + BODY, hashlib.sha256).hexdigest()
    assert header == f"t=1800000000,v1={expected}"
    assert verify_signature(SECRET, header, BODY, now=1_800_000_100.0) == 1_800_000_000


@pytest.mark.parametrize(
    ("secret", "body", "now", "reason"),
    [
        (SECRET, BODY + b" ", 1_800_000_000.0, "does not match"),
        (b"other", BODY, 1_800_000_000.0, "does not match"),
        (SECRET, BODY, 1_800_000_301.0, "tolerance"),
        (SECRET, BODY, 1_799_999_699.0, "tolerance"),
    ],
)
def test_tampered_body_wrong_secret_and_stale_timestamp_are_refused(
    secret: bytes, body: bytes, now: float, reason: str
) -> None:
    header = sign(SECRET, BODY, 1_800_000_000)
    with pytest.raises(SignatureError, match=reason):
        verify_signature(secret, header, body, now=now)


def test_timestamp_cannot_be_changed_without_the_secret() -> None:
    digest = sign(SECRET, BODY, 1_800_000_000).split("v1=")[1]
    with pytest.raises(SignatureError, match="does not match"):
        verify_signature(SECRET, f"t=1800000500,v1={digest}", BODY, now=1_800_000_500.0)


def test_any_of_several_digests_may_match_during_secret_rotation() -> None:
    old = sign(b"old", BODY, 1_800_000_000).split("v1=")[1]
    new = sign(SECRET, BODY, 1_800_000_000)
    assert verify_signature(SECRET, f"{new},v1={old}", BODY, now=1_800_000_000.0)


@pytest.mark.parametrize(
    "header", ["", "t=1800000000", "v1=abc", "t=x,v1=abc", "garbage", "t=1,v1=é" + "a" * 2000]
)
def test_malformed_headers_are_refused(header: str) -> None:
    with pytest.raises(SignatureError):
        verify_signature(SECRET, header, BODY, now=1_800_000_000.0)
