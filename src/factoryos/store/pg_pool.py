"""Connections of the PostgreSQL store: timeouts on every one, and a small bounded pool of
autocommit connections for queries (psycopg_pool is not a dependency; this is all we need).
"""

import logging
import queue
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import conninfo

from factoryos.store.errors import StoreError

logger = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5


def describe(url: str) -> str:
    """``host:port/dbname`` of a connection URL, without user or password (for messages)."""
    try:
        parts = conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql (unparsable URL)"
    host = parts.get("host", "localhost")
    return f"{host}:{parts.get('port', 5432)}/{parts.get('dbname', '')}"


def connect(url: str, *, statement_timeout_s: float, autocommit: bool) -> psycopg.Connection[Any]:
    """A connection with connect, statement and lock timeouts set."""
    timeout_ms = max(1, round(statement_timeout_s * 1000))
    try:
        conn = psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT_S, autocommit=True)
        conn.execute(f"SET statement_timeout = {timeout_ms}")
        conn.execute(f"SET lock_timeout = {timeout_ms}")
        conn.autocommit = autocommit
    except psycopg.Error as e:
        raise StoreError(f"cannot connect to {describe(url)}: {e}") from e
    return conn


class ReaderPool:
    """At most ``size`` autocommit connections, opened on demand and reused (newest first).

    `connection` waits up to ``wait_s`` for a free one; a connection that broke is dropped.
    """

    def __init__(self, url: str, *, size: int, statement_timeout_s: float, wait_s: float) -> None:
        if size < 1:
            raise StoreError(f"pool size must be >= 1, got {size}")
        self._url = url
        self._timeout_s = statement_timeout_s
        self._wait_s = wait_s
        self._slots = threading.BoundedSemaphore(size)
        self._idle: queue.LifoQueue[psycopg.Connection[Any]] = queue.LifoQueue(maxsize=size)
        self._closed = False

    @contextmanager
    def connection(self) -> Iterator[psycopg.Connection[Any]]:
        if not self._slots.acquire(timeout=self._wait_s):
            raise StoreError(
                f"no free query connection to {describe(self._url)} in {self._wait_s} s"
            )
        try:
            conn = self._take()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def close(self) -> None:
        self._closed = True
        while True:
            try:
                self._idle.get_nowait().close()
            except queue.Empty:
                return

    def _take(self) -> psycopg.Connection[Any]:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            return connect(self._url, statement_timeout_s=self._timeout_s, autocommit=True)

    def _give_back(self, conn: psycopg.Connection[Any]) -> None:
        if self._closed or conn.broken or conn.closed:
            conn.close()
            return
        self._idle.put_nowait(conn)  # cannot be full: one slot per connection in use
