"""Webhook delivery to a real local HTTP server (uvicorn), retries, lanes and counters."""

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from factoryos.apps.notify import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    ChannelCounters,
    Notifier,
    verify_signature,
)
from support.ports import free_port
from support.serving import serving

from .helpers import SECRET, note, settings, started, until, webhook


@dataclass
class Receiver:
    """Answers each POST with the next scripted status (200 once the script is used up),
    after waiting for ``release`` when the path is /slow."""

    statuses: list[int] = field(default_factory=list)
    requests: list[tuple[dict[str, str], bytes]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)

    async def hook(self, request: Request) -> Response:
        body = await request.body()
        if request.url.path == "/slow":
            await self.release.wait()
        self.requests.append((dict(request.headers), body))
        return Response(status_code=self.statuses.pop(0) if self.statuses else 200)

    def keys(self) -> list[str]:
        return [json.loads(body)["key"] for _, body in self.requests]


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[Receiver, int]]:
    r = Receiver()
    app = Starlette(routes=[Route("/{path}", r.hook, methods=["POST"])])
    async with serving(app) as port:
        yield r, port
        r.release.set()


async def test_signed_json_arrives_and_verifies(receiver: tuple[Receiver, int]) -> None:
    r, port = receiver
    notifier = Notifier(settings({"ops": webhook(port)}))
    async with started(notifier):
        notifier.submit(note())
        await until(lambda: len(r.requests) == 1)
    ((headers, body),) = r.requests
    assert verify_signature(SECRET.encode(), headers[SIGNATURE_HEADER.lower()], body, time.time())
    document = json.loads(body)
    assert document == {
        "event_id": headers[EVENT_ID_HEADER.lower()],
        "key": "oven-hh/activated",
        "source": "alarm",
        "subject": "Oven T HH",
        "body": "Oven temperature above 250 °C",
        "labels": {"equipment": "demo/machining/oven-01", "alarm": "Oven T HH"},
        "priority": 4,
        "ts": "2026-11-24T08:00:00.250000000Z",
        "ts_ns": 1_795_507_200_250_000_000,
    }
    assert headers["content-type"] == "application/json"
    assert notifier.stats().channels["ops"] == ChannelCounters(sent=1)


async def test_two_server_errors_then_success_on_the_third_attempt(
    receiver: tuple[Receiver, int],
) -> None:
    r, port = receiver
    r.statuses = [500, 500]
    notifier = Notifier(settings({"ops": webhook(port)}))
    async with started(notifier):
        notifier.submit(note())
        await until(lambda: notifier.stats().channels["ops"].sent == 1)
    assert len(r.requests) == 3
    assert len({h[EVENT_ID_HEADER.lower()] for h, _ in r.requests}) == 1, "one event, 3 tries"
    headers, body = r.requests[-1]
    verify_signature(SECRET.encode(), headers[SIGNATURE_HEADER.lower()], body, time.time())
    assert notifier.stats().channels["ops"] == ChannelCounters(sent=1)


async def test_a_client_error_is_not_retried(receiver: tuple[Receiver, int]) -> None:
    r, port = receiver
    r.statuses = [400]
    notifier = Notifier(settings({"ops": webhook(port)}))
    async with started(notifier):
        notifier.submit(note())
        await until(lambda: notifier.stats().channels["ops"].failed == 1)
    assert len(r.requests) == 1


async def test_closed_port_gives_up_after_the_cap_while_others_deliver(
    receiver: tuple[Receiver, int],
) -> None:
    r, port = receiver
    notifier = Notifier(settings({"dead": webhook(free_port()), "ops": webhook(port)}))
    async with started(notifier):
        for i in range(3):
            notifier.submit(note(key=f"k{i}"))
        await until(lambda: notifier.stats().channels["dead"].failed == 3)
    stats = notifier.stats().channels
    assert stats["dead"] == ChannelCounters(failed=3)
    assert stats["ops"] == ChannelCounters(sent=3)
    assert r.keys() == ["k0", "k1", "k2"]


async def test_a_hanging_channel_does_not_delay_the_others(
    receiver: tuple[Receiver, int],
) -> None:
    _, port = receiver
    notifier = Notifier(
        settings({"slow": webhook(port, path="/slow"), "ops": webhook(port)}, drain_s=0)
    )
    async with started(notifier):
        notifier.submit(note())
        await until(lambda: notifier.stats().channels["ops"].sent == 1, within_s=1.0)
        assert notifier.stats().channels["slow"] == ChannelCounters()
    assert notifier.stats().channels["slow"] == ChannelCounters(dropped=1)


async def test_duplicates_within_the_window_are_sent_once(
    receiver: tuple[Receiver, int],
) -> None:
    r, port = receiver
    routes = [{"channels": ["ops"], "dedupe_s": 600}]
    notifier = Notifier(settings({"ops": webhook(port)}, routes))
    async with started(notifier):
        for key in ("a", "a", "b", "a"):
            notifier.submit(note(key=key))
        await until(lambda: len(r.requests) == 2)
    assert r.keys() == ["a", "b"]
    assert notifier.stats().channels["ops"] == ChannelCounters(sent=2, deduplicated=2)


async def test_full_queue_drops_the_oldest_and_stop_drains_the_rest(
    receiver: tuple[Receiver, int],
) -> None:
    r, port = receiver
    notifier = Notifier(settings({"ops": webhook(port)}, max_queued=2))
    for i in range(5):
        notifier.submit(note(key=f"k{i}"))
    stop = asyncio.Event()
    stop.set()
    await asyncio.wait_for(notifier.run(stop), 10)
    assert r.keys() == ["k3", "k4"]
    stats = notifier.stats()
    assert stats.channels["ops"] == ChannelCounters(sent=2, dropped=3)
    assert stats.submitted == 5


async def test_unrouted_notifications_are_counted(receiver: tuple[Receiver, int]) -> None:
    _, port = receiver
    routes = [{"match": {"source": "report"}, "channels": ["ops"]}]
    notifier = Notifier(settings({"ops": webhook(port)}, routes))
    notifier.submit(note())
    assert notifier.stats().unrouted == 1


async def test_failure_is_logged_when_it_starts_and_when_it_recovers(
    receiver: tuple[Receiver, int], caplog: pytest.LogCaptureFixture
) -> None:
    r, port = receiver
    r.statuses = [400, 400, 400]
    notifier = Notifier(settings({"ops": webhook(port)}))
    with caplog.at_level(logging.INFO, logger="factoryos.apps.notify"):
        async with started(notifier):
            for i in range(5):
                notifier.submit(note(key=f"k{i}"))
            await until(lambda: len(r.requests) == 5)
            await until(lambda: notifier.stats().channels["ops"].sent == 2)
    lines = [rec.getMessage() for rec in caplog.records]
    assert len(lines) == 2, lines
    assert "channel ops failing" in lines[0]
    assert "answered 400" in lines[0]
    assert lines[1] == "notification channel ops recovered"
