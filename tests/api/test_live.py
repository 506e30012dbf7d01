"""The live WebSocket, served by a real uvicorn on a free port, with a real websockets client."""

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import numpy as np
import pytest
import uvicorn
from fastapi import FastAPI
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from factoryos.api import Services
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from support.ports import bound_socket
from support.sites import POWER, RPM, TEMP

T0 = 1_714_564_800 * 10**9
TIMEOUT = 5.0


async def until(condition: Callable[[], bool]) -> None:
    """Poll ``condition`` (state without an event to wait on) for up to TIMEOUT seconds."""
    for _ in range(int(TIMEOUT / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"not true within {TIMEOUT} s")


@pytest.fixture
async def server(app: FastAPI) -> AsyncIterator[str]:
    """ws:// URL of /api/live on uvicorn running in this test's event loop."""
    sock = bound_socket()
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")
    srv = uvicorn.Server(config)
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    await until(lambda: srv.started)
    yield f"ws://127.0.0.1:{port}/api/live"
    srv.should_exit = True
    await asyncio.wait_for(task, TIMEOUT)
    sock.close()


async def subscribe(url: str, token: str, tags: list[str]) -> ClientConnection:
    ws = await connect(url, open_timeout=TIMEOUT)
    await ws.send(json.dumps({"token": token, "tags": tags}))
    return ws


async def receive(ws: ClientConnection) -> Any:
    return json.loads(await asyncio.wait_for(ws.recv(), TIMEOUT))


async def close_code(ws: ClientConnection) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as closed:
        await asyncio.wait_for(ws.recv(), TIMEOUT)
    assert closed.value.rcvd is not None
    return closed.value.rcvd.code, closed.value.rcvd.reason


async def test_live_pushes_only_the_subscribed_tags(
    server: str, services: Services, acme, globex
) -> None:
    async with await subscribe(server, acme.viewer, [POWER, TEMP]) as ws:
        assert await receive(ws) == {"subscribed": [POWER, TEMP]}
        ids = [acme.ids[POWER], acme.ids[RPM], globex.ids[POWER], acme.ids[TEMP]]
        batch = SampleBatch.build(
            ids,
            T0 + np.arange(4) * 10**6,
            [1.5, 2.5, 3.5, np.nan],
            [Quality.GOOD, Quality.GOOD, Quality.GOOD, Quality.BAD],
        )
        await services.bus.publish(batch)
        assert await receive(ws) == [
            {"tag": POWER, "ts": "2024-05-01T12:00:00.000Z", "value": 1.5, "quality": "good"},
            {"tag": TEMP, "ts": "2024-05-01T12:00:00.003Z", "value": None, "quality": "bad"},
        ]
        # A batch with none of our tags sends nothing; the next one of ours arrives alone.
        await services.bus.publish(SampleBatch.build([globex.ids[TEMP]], [T0], [9.0]))
        await services.bus.publish(SampleBatch.build([acme.ids[POWER]], [T0 + 10**9], [7.0]))
        (point,) = await receive(ws)
        assert (point["value"], point["ts"]) == (7.0, "2024-05-01T12:00:01.000Z")


async def test_subscription_ends_when_the_client_leaves(
    server: str, services: Services, acme
) -> None:
    async with await subscribe(server, acme.viewer, [POWER]) as ws:
        await receive(ws)
        assert len(services.bus.subscriptions) == 1
    await until(lambda: not services.bus.subscriptions)


async def test_bad_token_closes_with_4401(server: str, acme) -> None:
    for token in ("fos_not-a-key", acme.viewer + "x", ""):
        async with await subscribe(server, token, [POWER]) as ws:
            code, reason = await close_code(ws)
            assert code == 4401
            assert "credential" in reason


async def test_another_tenants_tag_closes_with_4404(server: str, acme, globex) -> None:
    globex_only = "plant9/a/l/c/e/t"
    async with await subscribe(server, acme.viewer, [POWER, str(globex.ids[POWER])]) as ws:
        code, reason = await close_code(ws)
        assert code == 4404
        assert str(globex.ids[POWER]) in reason
    async with await subscribe(server, acme.viewer, [globex_only]) as ws:
        assert (await close_code(ws))[0] == 4404


async def test_malformed_first_message_closes_with_4400(server: str, acme) -> None:
    async with await connect(server, open_timeout=TIMEOUT) as ws:
        await ws.send('{"token": "x"}')
        code, reason = await close_code(ws)
        assert code == 4400
        assert "tags" in reason
    async with await connect(server, open_timeout=TIMEOUT) as ws:
        await ws.send("not json")
        assert (await close_code(ws))[0] == 4400
    async with await connect(server, open_timeout=TIMEOUT) as ws:
        await ws.send(b"\x00\xff")
        assert (await close_code(ws))[0] == 4400


async def test_a_closed_bus_ends_the_stream(server: str, services: Services, acme) -> None:
    async with await subscribe(server, acme.viewer, [POWER]) as ws:
        await receive(ws)
        services.bus.close()
        assert (await close_code(ws))[0] == 1001


async def test_a_revoked_key_loses_its_open_stream(
    server: str, services: Services, acme, monkeypatch: pytest.MonkeyPatch
) -> None:
    from factoryos.api.routes import live

    monkeypatch.setattr(live, "REAUTH_S", 0.1)
    async with await subscribe(server, acme.viewer, [POWER]) as ws:
        assert await receive(ws) == {"subscribed": [POWER]}
        principal = services.catalog.authenticate(acme.viewer)
        assert principal is not None
        key = next(
            k
            for k in services.catalog.api_keys(principal.tenant_id)
            if k.name == principal.key_name
        )
        assert services.catalog.revoke_api_key(principal.tenant_id, key.id)
        code, reason = await close_code(ws)
    assert code == 4401
    assert "revoked" in reason


async def test_a_users_token_streams_and_a_platform_operators_is_refused(
    server: str, services: Services, acme
) -> None:
    assert services.tokens is not None
    bob = services.users.create("bob", "a long enough password", tenant="acme")
    olga = services.users.create("olga", "a long enough password", tenant=None)
    token = services.tokens.issue(bob.id, bob.token_version)
    async with await subscribe(server, token, [POWER]) as ws:
        assert (await receive(ws))["subscribed"] == [POWER]
        await services.bus.publish(SampleBatch.build([acme.ids[POWER]], [T0], [4.5]))
        (point,) = await receive(ws)
        assert point["value"] == 4.5
    operator = services.tokens.issue(olga.id, olga.token_version)
    async with await subscribe(server, operator, [POWER]) as ws:
        code, reason = await close_code(ws)
        assert code == 4401 and "platform operators see no" in reason
    services.users.end_sessions(bob.id)  # revoked: a new subscription is refused
    async with await subscribe(server, token, [POWER]) as ws:
        assert (await close_code(ws))[0] == 4401
