"""Browser tests: Debian's Chromium for Playwright, and an app served from a thread.

Playwright's sync API runs its own event loop, so the server runs in a thread with its own
loop: :func:`served` starts ``serve(sock, stop)`` there and stops it when the block ends.
"""

import asyncio
import os
import shutil
import socket
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import uvicorn

from support.ports import bound_socket

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
Serve = Callable[[socket.socket, threading.Event], Coroutine[Any, Any, None]]


def chromium() -> str:
    """The browser's path; a missing one fails under CI=true and skips elsewhere."""
    if shutil.which(CHROMIUM) is None:
        message = f"Chromium not found at {CHROMIUM} (apt-get install chromium)"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(message)
        pytest.skip(message)
    return CHROMIUM


def wait_for_port(port: int) -> None:
    for _ in range(500):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.01)
    raise AssertionError(f"uvicorn did not listen on port {port} within 5 s")


def uvicorn_server(app: Any) -> uvicorn.Server:
    return uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", ws="websockets-sansio")
    )


def app_only(app: Any) -> Serve:
    """A ``serve`` that runs ``app`` alone until stopped."""

    async def serve(sock: socket.socket, stop: threading.Event) -> None:
        server = uvicorn_server(app)

        async def watch() -> None:
            await asyncio.to_thread(stop.wait)  # a threading.Event, set from the test's thread
            server.should_exit = True

        async with asyncio.TaskGroup() as tg:
            tg.create_task(server.serve(sockets=[sock]))
            tg.create_task(watch())

    return serve


@contextmanager
def served(serve: Serve) -> Iterator[int]:
    """The port ``serve`` listens on, from a thread of its own, until the block ends."""
    sock = bound_socket()
    port = int(sock.getsockname()[1])
    stop = threading.Event()
    thread = threading.Thread(target=asyncio.run, args=(serve(sock, stop),), daemon=True)
    thread.start()
    try:
        wait_for_port(port)
        yield port
    finally:
        stop.set()
        thread.join(10)
        sock.close()
    assert not thread.is_alive(), "the server thread did not stop"
