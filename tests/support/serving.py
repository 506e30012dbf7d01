"""An app served by a real uvicorn on a free 127.0.0.1 port, in the test's event loop, and a
raw HTTP/1.1 client that sends a request target exactly as written (no client-side
normalisation of ``..`` or percent escapes, as httpx would do)."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import uvicorn
from starlette.types import ASGIApp

from support.ports import bound_socket

TIMEOUT_S = 5.0
MAX_ANSWER = 4 * 2**20
"""Bytes read of one answer at most (a served file larger than this would be cut)."""


@asynccontextmanager
async def serving(app: ASGIApp) -> AsyncIterator[int]:
    """The port uvicorn serves ``app`` on until the block ends."""
    sock = bound_socket()
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(int(TIMEOUT_S / 0.01)):  # uvicorn has no event to wait on
            if server.started:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"uvicorn did not start within {TIMEOUT_S} s")
        yield int(sock.getsockname()[1])
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, TIMEOUT_S)
        sock.close()


@dataclass(frozen=True)
class Answer:
    status: int
    raw: bytes
    """Status line, headers and body as received."""


async def send_raw(
    port: int, method: str, target: str, headers: dict[str, str] | None = None, body: bytes = b""
) -> Answer:
    """Sends ``target`` byte for byte and reads the answer until the server closes."""
    lines = [f"{method} {target} HTTP/1.1", "Host: 127.0.0.1", "Connection: close"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    lines += [f"Content-Length: {len(body)}"] if body else []
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        await writer.drain()
        raw = b""
        while len(raw) < MAX_ANSWER and (
            chunk := await asyncio.wait_for(reader.read(2**16), TIMEOUT_S)
        ):
            raw += chunk
    finally:
        writer.close()
    return Answer(int(raw.split(b" ", 2)[1]), raw)
