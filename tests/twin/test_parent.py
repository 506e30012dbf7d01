"""Forwarding to the parent, at the HTTP boundary (httpx.MockTransport): what is sent, how
each kind of answer or failure is read, retries, bounds. The real two-node run is in
tests/api/test_identifiers_api.py."""

import json
import re

import httpx
import pytest

from factoryos.store.identifier_registry import StoredIdentifier
from factoryos.twin.answers import Missing, Resolution, resolution_of
from factoryos.twin.errors import ParentError, ParentTimeoutError, ResolutionLoopError
from factoryos.twin.parent import HOPS_HEADER, MAX_ANSWER_BYTES, MAX_HOPS, HttpParent

URL = "http://parent.test:8000"
KEY = "fos_parent_secret_key"
RECORD = '{"type":"product","epcs":["urn:epc:id:sgtin:9506000.134352.42"]}'
ANSWER = resolution_of(StoredIdentifier(1, 1, "88.1/a", "88.1", RECORD, 3, 0, 0), "root")


def parent(handler: httpx.MockTransport, attempts: int = 2) -> HttpParent:
    return HttpParent(URL + "/", KEY, timeout_s=0.5, attempts=attempts, transport=handler)


def answering(status: int, body: bytes | str, seen: list[httpx.Request] | None = None):
    def handle(request: httpx.Request) -> httpx.Response:
        if seen is not None:
            seen.append(request)
        content = body.encode() if isinstance(body, str) else body
        return httpx.Response(status, content=content)

    return httpx.MockTransport(handle)


async def test_a_found_answer_is_one_hop_further_with_absolute_history_links() -> None:
    seen: list[httpx.Request] = []
    got = await parent(answering(200, ANSWER.model_dump_json(), seen)).resolve("88.1/a", hops=2)

    assert isinstance(got, Resolution)
    assert (got.node, got.hops, got.version, got.cached) == ("root", 1, 3, False)
    assert got.history[0].events == URL + ANSWER.history[0].events
    request = seen[0]
    assert str(request.url) == f"{URL}/api/resolve/88.1/a"
    assert request.headers["Authorization"] == f"Bearer {KEY}"
    assert request.headers[HOPS_HEADER] == "3"


async def test_special_suffix_characters_travel_unchanged() -> None:
    seen: list[httpx.Request] = []
    body = json.dumps({"detail": "x", "node": "root", "reason": "no such identifier"})
    await parent(answering(404, body, seen)).resolve("88.1/a;b=c/(d)@e", hops=0)

    assert seen[0].url.raw_path == b"/api/resolve/88.1/a;b=c/(d)@e"


async def test_not_found_is_an_answer_naming_the_node() -> None:
    body = json.dumps({"detail": "…", "node": "root", "reason": "no such identifier"})
    got = await parent(answering(404, body)).resolve("88.1/x", hops=0)

    assert got == Missing("88.1/x", "root", "no such identifier")


@pytest.mark.parametrize(
    ("status", "body", "message"),
    [
        (404, '{"detail":"Not Found"}', "no resolver there (404"),  # a wrong URL: not "absent"
        (
            401,
            '{"detail":"invalid, expired or revoked credential"}',
            "FACTORYOS_RESOLVER_PARENT_KEY",
        ),
        (403, '{"detail":"this needs"}', "refused this node's credential (403"),
        (500, '{"detail":"internal error"}', "answered 500"),
        (200, "not json", "not a resolution"),
        (200, '{"handle": "88.1/a"}', "not a resolution"),
    ],
)
async def test_unusable_answers_are_parent_errors_naming_the_parent(
    status: int, body: str, message: str
) -> None:
    with pytest.raises(ParentError) as caught:
        await parent(answering(status, body)).resolve("88.1/a", hops=0)

    assert URL in str(caught.value) and message in str(caught.value)
    assert KEY not in str(caught.value)


async def test_a_loop_reported_by_the_parent_stays_a_loop() -> None:
    with pytest.raises(ResolutionLoopError):
        await parent(answering(508, '{"detail":"forwarded 8 times"}')).resolve("88.1/a", hops=0)


async def test_an_oversized_answer_is_cut_off() -> None:
    with pytest.raises(ParentError, match=f"larger than {MAX_ANSWER_BYTES}"):
        await parent(answering(200, b"x" * (MAX_ANSWER_BYTES + 1))).resolve("88.1/a", hops=0)


async def test_connection_failures_are_tried_again_then_reported() -> None:
    tries: list[int] = []

    def refuse(request: httpx.Request) -> httpx.Response:
        tries.append(1)
        raise httpx.ConnectError("connection refused", request=request)

    with pytest.raises(ParentError, match=f"parent node {URL} is unreachable: ConnectError"):
        await parent(httpx.MockTransport(refuse), attempts=3).resolve("88.1/a", hops=0)
    assert len(tries) == 3


async def test_a_connection_failure_then_success_answers() -> None:
    tries: list[int] = []

    def flaky(request: httpx.Request) -> httpx.Response:
        tries.append(1)
        if len(tries) == 1:
            raise httpx.ConnectError("reset", request=request)
        return httpx.Response(200, content=ANSWER.model_dump_json().encode())

    got = await parent(httpx.MockTransport(flaky)).resolve("88.1/a", hops=0)
    assert isinstance(got, Resolution) and len(tries) == 2


async def test_a_timeout_is_not_tried_again_and_says_so() -> None:
    tries: list[int] = []

    def slow(request: httpx.Request) -> httpx.Response:
        tries.append(1)
        raise httpx.ReadTimeout("timed out", request=request)

    with pytest.raises(ParentTimeoutError, match=re.escape("no answer within 0.5 s")):
        await parent(httpx.MockTransport(slow), attempts=3).resolve("88.1/a", hops=0)
    assert len(tries) == 1


async def test_too_many_hops_stop_before_any_request() -> None:
    seen: list[httpx.Request] = []
    with pytest.raises(ResolutionLoopError, match="point at each other"):
        await parent(answering(200, "{}", seen)).resolve("88.1/a", hops=MAX_HOPS)
    assert seen == []


async def test_no_key_sends_no_authorization() -> None:
    seen: list[httpx.Request] = []
    body = json.dumps({"detail": "", "node": "root", "reason": "no such identifier"})
    bare = HttpParent(URL, None, timeout_s=0.5, attempts=1, transport=answering(404, body, seen))
    await bare.resolve("88.1/a", hops=0)

    assert "Authorization" not in seen[0].headers


async def test_an_outage_is_logged_when_it_starts_and_ends_not_per_request(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = True

    def flip(request: httpx.Request) -> httpx.Response:
        if down:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, content=ANSWER.model_dump_json().encode())

    node = parent(httpx.MockTransport(flip), attempts=1)
    with caplog.at_level("INFO", logger="factoryos.twin.parent"):
        for _ in range(3):
            with pytest.raises(ParentError):
                await node.resolve("88.1/a", hops=0)
        down = False
        for _ in range(3):
            await node.resolve("88.1/a", hops=0)

    assert [(r.levelname, "unreachable" in r.message) for r in caplog.records] == [
        ("WARNING", True),
        ("INFO", False),
    ]
    assert "answers again" in caplog.records[1].message
