"""The durable outbox: records wait on disk, in order, until the uplink has delivered them.

Storage is one SQLite file in WAL mode with ``synchronous=FULL``: a commit is on disk when it
returns, and a commit torn by ``kill -9`` or power loss is discarded by SQLite's WAL frame
checksums on the next open, so the file always holds a prefix of what was appended.

All disk I/O runs in one writer thread. Appends that arrive while a commit is in progress
wait and go into the next commit together (group commit): one fsync for many records, so
throughput grows with load and a lone append is not delayed by a timer.

The outbox is bounded by ``max_bytes`` of record payload. When an append does not fit, the
policy decides: ``DROP_OLDEST`` (default) deletes the oldest undelivered records until it fits
(the newest data is usually worth more to an operator than the oldest), counts their samples
in ``dropped_samples`` and logs one warning per drop episode; ``REJECT`` refuses the append
with :class:`OutboxFullError` and keeps the oldest data.
"""

import asyncio
import logging
import queue
import sqlite3
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from functools import partial
from pathlib import Path
from typing import Any

from factoryos.edge.errors import OutboxError, OutboxFullError

log = logging.getLogger(__name__)

MAX_PENDING_OPS = 1024
MAX_GROUP = 512
"""Most appends committed in one transaction."""

_SCHEMA = (
    "CREATE TABLE IF NOT EXISTS records ("
    " seq INTEGER PRIMARY KEY AUTOINCREMENT, payload BLOB NOT NULL,"
    " samples INTEGER NOT NULL, max_ts INTEGER NOT NULL)",
    "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL)",
)


class Policy(StrEnum):
    """What a full outbox does with a new record."""

    DROP_OLDEST = "drop_oldest"
    REJECT = "reject"


@dataclass(frozen=True, slots=True)
class OutboxStats:
    """Counters of one outbox since it was opened (``pending_*`` are its state now)."""

    pending_records: int
    pending_bytes: int
    last_seq: int
    appended_records: int
    commits: int
    dropped_records: int
    dropped_samples: int
    dropping: bool
    """True while a drop episode lasts (the last append had to drop records)."""


@dataclass
class _Append:
    payload: bytes
    samples: int
    max_ts: int
    done: "asyncio.Future[int]"


@dataclass
class _Call:
    fn: Callable[[sqlite3.Connection], Any]
    done: "asyncio.Future[Any]"


@dataclass
class _State:
    pending_bytes: int = 0
    pending_records: int = 0
    last_seq: int = 0
    high_ts: int | None = None
    appended: int = 0
    commits: int = 0
    dropped_records: int = 0
    dropped_samples: int = 0
    dropping: bool = False
    episode_samples: int = 0
    closed: bool = False
    ops: "queue.Queue[_Append | _Call | None]" = field(
        default_factory=lambda: queue.Queue(maxsize=MAX_PENDING_OPS)
    )


class Outbox:
    """A bounded, durable FIFO of byte records with increasing sequence numbers.

    Open with ``await Outbox.open(path, max_bytes=...)``; every method is a coroutine that
    runs its disk work in the writer thread. Sequence numbers never repeat, even after the
    outbox was emptied and reopened.
    """

    def __init__(self, path: Path, max_bytes: int, policy: Policy) -> None:
        if max_bytes < 1:
            raise OutboxError(f"outbox {path}: max_bytes must be >= 1, got {max_bytes}")
        self.path = path
        self.max_bytes = max_bytes
        self.policy = Policy(policy)
        self._state = _State()
        self._slots = asyncio.Semaphore(MAX_PENDING_OPS)
        self._con = _connect(path)
        self._load()
        # A daemon: an abandoned outbox must not keep the process alive; dying mid-commit
        # is the kill -9 case the file already survives.
        self._thread = threading.Thread(
            target=self._writer, name=f"outbox:{path.name}", daemon=True
        )
        self._thread.start()

    @classmethod
    async def open(
        cls, path: str | Path, *, max_bytes: int, policy: Policy = Policy.DROP_OLDEST
    ) -> "Outbox":
        """Open (or create) the outbox at ``path``; a torn last commit is discarded."""
        return await asyncio.to_thread(cls, Path(path), max_bytes, policy)

    # -- public API -------------------------------------------------------------------

    async def append(self, payload: bytes, *, samples: int = 0, max_ts: int = 0) -> int:
        """Store ``payload``; returns its sequence number once it is durable on disk.

        ``samples`` (how many samples it holds) feeds ``dropped_samples``; ``max_ts`` (its
        newest sample time) feeds ``high_ts``.
        """
        if len(payload) > self.max_bytes:
            raise OutboxFullError(
                f"outbox {self.path}: a record of {len(payload)} bytes can never fit "
                f"in max_bytes={self.max_bytes}"
            )
        loop = asyncio.get_running_loop()
        seq: int = await self._submit(_Append(payload, samples, max_ts, loop.create_future()))
        return seq

    async def peek(self, max_records: int) -> list[tuple[int, bytes]]:
        """Up to ``max_records`` of the oldest undelivered records, in sequence order."""

        def read(con: sqlite3.Connection) -> list[tuple[int, bytes]]:
            sql = "SELECT seq, payload FROM records ORDER BY seq LIMIT ?"
            return [(int(s), bytes(p)) for s, p in con.execute(sql, (max_records,))]

        records: list[tuple[int, bytes]] = await self._call(read)
        return records

    async def ack(self, up_to_seq: int) -> None:
        """Delete every record with ``seq <= up_to_seq``, durably."""
        await self._call(lambda con: self._delete_through(con, up_to_seq))

    @property
    def dropped_samples(self) -> int:
        return self._state.dropped_samples

    @property
    def last_seq(self) -> int:
        """The highest sequence number ever assigned (0 for a new outbox)."""
        return self._state.last_seq

    @property
    def high_ts(self) -> int | None:
        """The highest ``max_ts`` ever appended (durable across restarts), None if none."""
        return self._state.high_ts

    @property
    def stats(self) -> OutboxStats:
        s = self._state
        return OutboxStats(
            pending_records=s.pending_records,
            pending_bytes=s.pending_bytes,
            last_seq=s.last_seq,
            appended_records=s.appended,
            commits=s.commits,
            dropped_records=s.dropped_records,
            dropped_samples=s.dropped_samples,
            dropping=s.dropping,
        )

    async def close(self) -> None:
        """Finish queued work, stop the writer thread and close the file."""
        if self._state.closed:
            return
        self._state.closed = True
        await asyncio.to_thread(self._state.ops.put, None)
        await asyncio.to_thread(self._thread.join)

    # -- plumbing ---------------------------------------------------------------------

    async def _call(self, fn: Callable[[sqlite3.Connection], Any]) -> Any:
        return await self._submit(_Call(fn, asyncio.get_running_loop().create_future()))

    async def _submit(self, op: _Append | _Call) -> Any:
        if self._state.closed:
            raise OutboxError(f"outbox {self.path} is closed")
        async with self._slots:  # bounds the queue, so put_nowait never blocks the loop
            self._state.ops.put_nowait(op)
            return await op.done

    def _load(self) -> None:
        con, s = self._con, self._state
        row = con.execute("SELECT COUNT(*), COALESCE(SUM(length(payload)), 0) FROM records")
        s.pending_records, s.pending_bytes = row.fetchone()
        found = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        s.last_seq = int(found[0]) if found else 0
        high = con.execute("SELECT value FROM meta WHERE key = 'high_ts'").fetchone()
        s.high_ts = int(high[0]) if high else None
        log.info(
            "outbox %s open: %d records (%d bytes) pending, last seq %d",
            self.path,
            s.pending_records,
            s.pending_bytes,
            s.last_seq,
        )

    def _writer(self) -> None:
        ops = self._state.ops
        try:
            while (op := ops.get()) is not None:
                if isinstance(op, _Call):
                    _settle(op.done, partial(op.fn, self._con))
                    continue
                group = [op]
                while len(group) < MAX_GROUP and _next_is_append(ops):
                    nxt = ops.get_nowait()
                    assert isinstance(nxt, _Append)
                    group.append(nxt)
                self._commit(group)
        finally:
            self._con.close()

    def _commit(self, group: list[_Append]) -> None:
        """Insert a group in one transaction; each append's future gets its seq or error."""
        con, s = self._con, self._state
        before = (s.pending_records, s.pending_bytes, s.dropped_records, s.dropped_samples)
        results: list[int | BaseException] = []
        try:
            with con:
                for op in group:
                    results.append(self._insert(con, op))
                self._save_high_ts(con, group)
        except (sqlite3.Error, OSError) as exc:
            s.pending_records, s.pending_bytes, s.dropped_records, s.dropped_samples = before
            error = OutboxError(f"outbox {self.path}: cannot store records: {exc}")
            error.__cause__ = exc
            results = [error] * len(group)
        else:
            s.commits += 1
            self._reload_last_seq(results)
        for op, result in zip(group, results, strict=True):
            _settle(op.done, partial(_raise_or_return, result))

    def _insert(self, con: sqlite3.Connection, op: _Append) -> int | OutboxFullError:
        s = self._state
        size = len(op.payload)
        if s.pending_bytes + size > self.max_bytes:
            if self.policy is Policy.REJECT:
                return OutboxFullError(
                    f"outbox {self.path} is full ({s.pending_bytes} of {self.max_bytes} bytes)"
                )
            self._drop_oldest(con, s.pending_bytes + size - self.max_bytes)
        elif s.dropping:
            log.info(
                "outbox %s: no longer dropping; %d samples dropped in that episode",
                self.path,
                s.episode_samples,
            )
            s.dropping, s.episode_samples = False, 0
        cur = con.execute(
            "INSERT INTO records (payload, samples, max_ts) VALUES (?, ?, ?)",
            (op.payload, op.samples, op.max_ts),
        )
        s.pending_records += 1
        s.pending_bytes += size
        s.appended += 1
        return int(cur.lastrowid or 0)

    def _drop_oldest(self, con: sqlite3.Connection, excess: int) -> None:
        """Delete the oldest records holding at least ``excess`` bytes."""
        s = self._state
        freed = records = samples = 0
        last = 0
        query = "SELECT seq, length(payload), samples FROM records ORDER BY seq"
        for seq, size, n in con.execute(query):
            if freed >= excess:
                break
            freed, records, samples, last = freed + size, records + 1, samples + n, seq
        con.execute("DELETE FROM records WHERE seq <= ?", (last,))
        s.pending_records -= records
        s.pending_bytes -= freed
        s.dropped_records += records
        s.dropped_samples += samples
        s.episode_samples += samples
        if not s.dropping:
            s.dropping = True
            log.warning(
                "outbox %s full (%d bytes): dropping the oldest undelivered records",
                self.path,
                self.max_bytes,
            )

    def _save_high_ts(self, con: sqlite3.Connection, group: list[_Append]) -> None:
        high = max(op.max_ts for op in group)
        s = self._state
        if s.high_ts is None or high > s.high_ts:
            con.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('high_ts', ?)", (high,))
            s.high_ts = high

    def _reload_last_seq(self, results: list[int | BaseException]) -> None:
        seqs = [r for r in results if isinstance(r, int)]
        if seqs:
            self._state.last_seq = max(seqs)

    def _delete_through(self, con: sqlite3.Connection, up_to_seq: int) -> None:
        s = self._state
        with con:
            count, size = con.execute(
                "SELECT COUNT(*), COALESCE(SUM(length(payload)), 0) FROM records WHERE seq <= ?",
                (up_to_seq,),
            ).fetchone()
            con.execute("DELETE FROM records WHERE seq <= ?", (up_to_seq,))
        s.pending_records -= count
        s.pending_bytes -= size


def _connect(path: Path) -> sqlite3.Connection:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        con = sqlite3.connect(path, timeout=10, check_same_thread=False)
        con.execute("PRAGMA journal_mode=WAL")
        con.execute("PRAGMA synchronous=FULL")
        with con:
            for statement in _SCHEMA:
                con.execute(statement)
    except (sqlite3.Error, OSError) as exc:
        raise OutboxError(f"outbox {path}: cannot open: {exc}") from exc
    return con


def _next_is_append(ops: "queue.Queue[_Append | _Call | None]") -> bool:
    with ops.mutex:
        return bool(ops.queue) and isinstance(ops.queue[0], _Append)


def _raise_or_return(result: Any) -> Any:
    if isinstance(result, BaseException):
        raise result
    return result


def _settle(done: "asyncio.Future[Any]", compute: Callable[[], Any]) -> None:
    """Run ``compute`` here (the writer thread) and hand its outcome to ``done``'s loop."""
    try:
        result = compute()
    except (sqlite3.Error, OSError) as exc:
        error = OutboxError(f"outbox: {exc}")
        error.__cause__ = exc
        _deliver(done, _set_exception, error)
    except Exception as exc:  # handed to the awaiting coroutine, not swallowed
        _deliver(done, _set_exception, exc)
    else:
        _deliver(done, _set_result, result)


def _deliver(done: "asyncio.Future[Any]", setter: Callable[..., None], value: Any) -> None:
    try:
        done.get_loop().call_soon_threadsafe(setter, done, value)
    except RuntimeError:
        log.debug("outbox: result dropped, its event loop is closed")


def _set_result(done: "asyncio.Future[Any]", result: Any) -> None:
    if not done.done():
        done.set_result(result)


def _set_exception(done: "asyncio.Future[Any]", exc: BaseException) -> None:
    if not done.done():
        done.set_exception(exc)
