"""Live samples over WebSocket.

Protocol: the client's first message is ``{"token": "<api key>", "tags": ["<path>", …]}``.
The server answers ``{"subscribed": [paths]}`` and then pushes JSON lists of
``{"tag", "ts", "value", "quality"}``. A bad token closes with 4401, a tag that is not in the
caller's tenant with 4404, a malformed first message with 4400.

Each connection has its own bounded bus subscription that drops the oldest batches when the
client cannot keep up: a live view wants the newest data, and ingest is never slowed down.
"""

import asyncio
import json
import logging
from collections.abc import Callable
from itertools import count

import numpy as np
import numpy.typing as npt
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool

from factoryos.api.deps import admit, authenticate, rule_of
from factoryos.api.params import iso_times, json_values, quality_labels
from factoryos.api.schemas import LiveHello
from factoryos.api.services import Services
from factoryos.bus.errors import BusClosedError
from factoryos.bus.inprocess import Overflow, Subscription
from factoryos.model.samples import SampleBatch
from factoryos.store.catalog import Principal, TagInfo, UnknownTagError

log = logging.getLogger(__name__)
router = APIRouter(prefix="/api", tags=["live"])

HELLO_TIMEOUT_S = 10.0
SEND_TIMEOUT_S = 10.0
QUEUE_BATCHES = 64
REAUTH_S = 30.0  # how soon a revoked or expired key loses an open live stream

CLOSE_BAD_MESSAGE = 4400
CLOSE_UNAUTHORIZED = 4401
CLOSE_UNKNOWN_TAG = 4404
CLOSE_TIMEOUT = 4408
CLOSE_GOING_AWAY = 1001
CLOSE_UNAVAILABLE = 1013

_ids = count(1)


async def _close(ws: WebSocket, code: int, reason: str) -> None:
    # A close reason is at most 123 bytes.
    await ws.close(code, reason.encode()[:123].decode(errors="ignore"))


async def _hello(ws: WebSocket) -> LiveHello | None:
    try:
        message = await asyncio.wait_for(ws.receive(), HELLO_TIMEOUT_S)
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        return LiveHello.model_validate_json(message.get("text") or message.get("bytes") or "")
    except TimeoutError:
        await _close(ws, CLOSE_TIMEOUT, f"no subscription message within {HELLO_TIMEOUT_S:g} s")
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "message"
        await _close(ws, CLOSE_BAD_MESSAGE, f"{where}: {err['msg']}")
    return None


@router.websocket("/live")
async def live(ws: WebSocket) -> None:
    services: Services = ws.app.state.services
    await ws.accept()
    try:
        hello = await _hello(ws)
        if hello is None:
            return
        principal = await run_in_threadpool(authenticate, services, hello.token)
        if principal is None:
            await _close(ws, CLOSE_UNAUTHORIZED, "invalid, expired or revoked credential")
            return
        refused = admit(principal, rule_of(ws))
        if refused is not None or not isinstance(principal, Principal):
            await _close(ws, CLOSE_UNAUTHORIZED, refused or "this needs a tenant credential")
            return
        try:
            tags = await run_in_threadpool(
                services.catalog.resolve_tags, principal.tenant_id, hello.tags
            )
        except UnknownTagError as exc:
            await _close(ws, CLOSE_UNKNOWN_TAG, str(exc))
            return
        try:
            sub = services.bus.subscribe(
                f"api-live-{next(_ids)}", maxsize=QUEUE_BATCHES, overflow=Overflow.DROP_OLDEST
            )
        except BusClosedError:
            await _close(ws, CLOSE_UNAVAILABLE, "the server is shutting down")
            return
        await _stream(ws, sub, tags, lambda: authenticate(services, hello.token))
    except WebSocketDisconnect:
        return


async def _stream(
    ws: WebSocket, sub: Subscription, tags: list[TagInfo], still_valid: Callable[[], object]
) -> None:
    watcher = asyncio.create_task(_close_on_disconnect(ws, sub))
    watcher.add_done_callback(_note_watcher_end)
    revoked = asyncio.Event()
    guard = asyncio.create_task(_end_when_revoked(sub, still_valid, revoked))
    try:
        await ws.send_json({"subscribed": [t.path for t in tags]})
        await _pump(ws, sub, _PathLookup(tags))
        if revoked.is_set():
            await _close(ws, CLOSE_UNAUTHORIZED, "the credential was revoked or expired")
        elif not watcher.done():  # the bus closed under a connected client
            await _close(ws, CLOSE_GOING_AWAY, "the live stream ended")
    except TimeoutError:
        log.info("live client too slow (send took over %s s); closing", SEND_TIMEOUT_S)
        await _close(ws, CLOSE_TIMEOUT, "client too slow")
    finally:
        sub.close()
        watcher.cancel()
        guard.cancel()
        if sub.dropped:
            log.info("live subscription %s dropped %d batches", sub.name, sub.dropped)


async def _end_when_revoked(
    sub: Subscription, still_valid: Callable[[], object], revoked: asyncio.Event
) -> None:
    """Re-check the key every REAUTH_S; end the stream once it no longer authenticates."""
    while True:
        await asyncio.sleep(REAUTH_S)
        if await run_in_threadpool(still_valid) is None:
            revoked.set()
            sub.close()
            return


def _note_watcher_end(task: "asyncio.Task[None]") -> None:
    if not task.cancelled() and task.exception() is not None:
        log.debug("live connection reader ended: %s", task.exception())


async def _close_on_disconnect(ws: WebSocket, sub: Subscription) -> None:
    """Read (and ignore) client messages until it goes away, then end the subscription."""
    try:
        while (await ws.receive())["type"] != "websocket.disconnect":
            pass
    finally:
        sub.close()


async def _pump(ws: WebSocket, sub: Subscription, lookup: "_PathLookup") -> None:
    async for batch in sub:
        mine = batch.take(np.isin(batch.tag_ids, lookup.ids))
        if len(mine):
            await asyncio.wait_for(ws.send_text(lookup.points_json(mine)), SEND_TIMEOUT_S)


class _PathLookup:
    """Vectorised tag id → path for the tags of one live connection."""

    def __init__(self, tags: list[TagInfo]) -> None:
        order = sorted(tags, key=lambda t: t.id)
        self.ids: npt.NDArray[np.int32] = np.array([t.id for t in order], dtype=np.int32)
        self._paths = np.array([t.path for t in order], dtype=object)

    def points_json(self, batch: SampleBatch) -> str:
        paths = self._paths[np.searchsorted(self.ids, batch.tag_ids)].tolist()
        points = [
            {"tag": p, "ts": t, "value": v, "quality": q}
            for p, t, v, q in zip(
                paths,
                iso_times(batch.ts),
                json_values(batch.values),
                quality_labels(batch.quality),
                strict=True,
            )
        ]
        return json.dumps(points)
