"""The alarm stream processor: the engine fed from the live bus, its events stored and handed on.

- **Input**: a subscription of the platform's :class:`InProcessBus`, made at construction
  (before the drivers start). Every batch goes to :meth:`AlarmEngine.process` as soon as it
  is taken, so an alarm fires within one second of its sample arriving; the engine also
  ticks once a second (on/off delays, stale tags, shelving expiry without new samples).
- **Overflow**: the subscription holds :data:`QUEUE_BATCHES` batches and then drops the
  oldest (``DROP_OLDEST``): a stalled alarm processor must never stall the ingest of plant
  data behind it (``BLOCK`` would). The engine works in memory, so drops mean the machine is
  overloaded: they are counted (:attr:`ProcessorStats.dropped_batches`) and logged when they
  start and when they stop.
- **History**: events (with the operator and comment of commands) queue in memory, at most
  :data:`MAX_PENDING`, and a writer appends them in batches; a failing database is retried
  with capped back-off, logged when it fails and when it recovers.
- **on_event**: every event, with what the rule says about it (:class:`AlarmNotice`), goes
  to the ``on_event`` coroutine (notifications) through its own bounded queue, so a slow
  notifier delays neither alarms nor history.
- **Restart**: :meth:`run` first restores each alarm from its newest history row.
"""

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import numpy as np

from factoryos.apps.alarms.config import AlarmConfig, AlarmInfo
from factoryos.apps.alarms.engine import AlarmEngine, AlarmStatus
from factoryos.apps.alarms.errors import AlarmStateError, AlarmsUnavailableError
from factoryos.apps.alarms.events import AlarmEvent, AlarmState, EventKind
from factoryos.bus.inprocess import InProcessBus, Overflow
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.alarm_log import MAX_APPEND, AlarmLog, AlarmRecord
from factoryos.store.catalog import CatalogError

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
TICK_S = 1.0
QUEUE_BATCHES = 4096
MAX_PENDING = 100_000  # history rows waiting for the database; beyond, the oldest are lost
WRITE_EVERY_S = 0.2
WRITE_RETRY_MAX_S = 30.0
NOTICE_QUEUE = 10_000
NOTICE_TIMEOUT_S = 10.0
COMMAND_WAIT_S = 2.0  # a command waits this long for its history row to be stored
PRUNE_EVERY_S = 3600.0


@dataclass(frozen=True)
class AlarmNotice:
    """One event for notifications: the event, what its rule says, and who caused it."""

    event: AlarmEvent
    info: AlarmInfo
    actor: str | None = None
    comment: str | None = None


OnEvent = Callable[[AlarmNotice], Awaitable[None]]


@dataclass(frozen=True)
class LiveStatus:
    """One alarm for the console: engine status, rule facts and the tag's last good sample."""

    status: AlarmStatus
    info: AlarmInfo
    last_ts: int | None
    last_value: float | None


@dataclass
class ProcessorStats:
    batches: int = 0
    events: int = 0
    dropped_batches: int = 0
    lost_history_rows: int = 0
    lost_notices: int = 0
    notice_failures: int = 0
    stored_rows: int = 0


@dataclass
class _Pending:
    """History rows waiting to be stored; ``seq`` numbers every row ever queued."""

    rows: deque[tuple[int, AlarmRecord]] = field(default_factory=deque)
    queued: int = 0
    stored: int = 0  # rows up to this sequence number are stored (or lost)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    written: asyncio.Condition = field(default_factory=asyncio.Condition)


def _record(
    event: AlarmEvent, actor: str | None, comment: str | None, until: int | None
) -> AlarmRecord:
    state = event.state or AlarmState.NORMAL
    return AlarmRecord(
        event.ts,
        event.alarm,
        str(event.kind),
        int(event.priority),
        str(state),
        event.value,
        actor,
        comment,
        until if event.kind is EventKind.SHELVED else None,
    )


def last_samples(batch: SampleBatch, watched: np.ndarray) -> dict[int, tuple[int, float]]:
    """The newest good sample of each watched tag in ``batch``: tag id → (ts, value)."""
    keep = np.isin(batch.tag_ids, watched) & (batch.quality != Quality.BAD)
    tags, ts, values = batch.tag_ids[keep], batch.ts[keep], batch.values[keep]
    order = np.lexsort((ts, tags))
    tags, ts, values = tags[order], ts[order], values[order]
    if len(tags) == 0:
        return {}
    last: list[int] = np.flatnonzero(np.append(tags[1:] != tags[:-1], True)).tolist()
    return {int(tags[i]): (int(ts[i]), float(values[i])) for i in last}


class AlarmProcessor:
    """Runs the alarms of one tenant from the live bus; commands come through it too."""

    def __init__(
        self,
        config: AlarmConfig,
        bus: InProcessBus,
        history: AlarmLog,
        tenant_id: int,
        *,
        on_event: OnEvent | None = None,
        clock: Callable[[], int] = time.time_ns,
        name: str = "alarms",
    ) -> None:
        self.config = config
        self.history = history
        self.tenant_id = tenant_id
        self.stats = ProcessorStats()
        self._engine = AlarmEngine(config.rules, max_shelve_s=config.max_shelve_s)
        self._on_event = on_event
        self._clock = clock
        self._sub = bus.subscribe(name, maxsize=QUEUE_BATCHES, overflow=Overflow.DROP_OLDEST)
        self._tag_of = {rule.name: rule.tag_id for rule in config.rules}
        self._watched = np.array(sorted(set(self._tag_of.values())), dtype=np.int32)
        self._last: dict[int, tuple[int, float]] = {}
        self._pending = _Pending()
        self._notices: asyncio.Queue[AlarmNotice] = asyncio.Queue(NOTICE_QUEUE)
        self._dropping = False
        self._write_failing = False
        self._losing_rows = False
        self._losing_notices = False
        #: Set once the history is restored; cleared again when the processor stops.
        self.ready = asyncio.Event()
        # Held around each append: shutdown must not cancel one half-done (its rows would
        # be stored by the thread, yet stay queued and be stored again).
        self._write_lock = asyncio.Lock()

    # -- the live loop -------------------------------------------------------------------

    async def run(self, stop: asyncio.Event) -> None:
        """Restore, then process and tick until ``stop``; drain what is queued, store it."""
        await self._restore()
        self.ready.set()
        workers = [asyncio.create_task(self._write_loop(), name="alarm-history")]
        if self._on_event is not None:
            workers.append(asyncio.create_task(self._notify_loop(), name="alarm-notify"))
        workers.append(asyncio.create_task(self._prune_loop(), name="alarm-prune"))
        waker = asyncio.create_task(self._interrupt_when_set(stop))
        try:
            await self._loop(stop)
        finally:
            self.ready.clear()  # from here on commands are refused, not silently lost
            waker.cancel()
            self._sub.close()
            self._process(self._sub.take_all())
            await self._finish(workers)
        log.info("alarm processor stopped: %s", self.stats)

    async def _loop(self, stop: asyncio.Event) -> None:
        next_tick = time.monotonic() + TICK_S
        while not stop.is_set() and not self._sub.closed:
            try:
                async with asyncio.timeout(max(0.0, next_tick - time.monotonic())):
                    await self._sub.wait()
            except TimeoutError:
                pass
            self._process(self._sub.take_all())
            if time.monotonic() >= next_tick:
                self._handle(self._engine.tick(self._clock()))
                next_tick = max(next_tick + TICK_S, time.monotonic())
            self._watch_drops()

    async def _interrupt_when_set(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._sub.interrupt()

    def _process(self, batches: list[SampleBatch]) -> None:
        for batch in batches:
            self.stats.batches += 1
            self._last.update(last_samples(batch, self._watched))
            self._handle(self._engine.process(batch))

    def _watch_drops(self) -> None:
        dropped = self._sub.dropped
        if dropped > self.stats.dropped_batches and not self._dropping:
            log.warning("alarm processor falls behind: dropping the oldest sample batches")
            self._dropping = True
        elif dropped == self.stats.dropped_batches and self._dropping:
            log.warning("alarm processor caught up; %d batches dropped in all", dropped)
            self._dropping = False
        self.stats.dropped_batches = dropped

    async def _restore(self) -> None:
        latest = await asyncio.to_thread(self.history.latest, self.tenant_id)
        names = set(self._engine.names)
        for name, row in latest.items():
            if name in names:  # a rule removed since leaves history, not an alarm
                self._engine.restore(name, AlarmState(row.state), row.until)
        restored = [n for n, r in latest.items() if n in names and r.state != AlarmState.NORMAL]
        log.info("alarms restored from history: %d not normal", len(restored))

    # -- events out ----------------------------------------------------------------------

    def _handle(
        self,
        events: list[AlarmEvent],
        actor: str | None = None,
        comment: str | None = None,
        until: int | None = None,
    ) -> int:
        """Queue ``events`` for the history and the notifier; the last row's sequence."""
        p = self._pending
        for event in events:
            self.stats.events += 1
            if len(p.rows) >= MAX_PENDING:
                p.rows.popleft()
                self.stats.lost_history_rows += 1
                if not self._losing_rows:
                    self._losing_rows = True
                    log.error("alarm history backlog full: the oldest events are being lost")
            p.queued += 1
            p.rows.append((p.queued, _record(event, actor, comment, until)))
            info = self.config.info[event.alarm]
            if self._on_event is not None and info.notify:
                self._notice(AlarmNotice(event, info, actor, comment))
        if events:
            p.ready.set()
        return p.queued

    def _notice(self, notice: AlarmNotice) -> None:
        if self._notices.full():
            self._notices.get_nowait()
            self.stats.lost_notices += 1
            if not self._losing_notices:
                self._losing_notices = True
                log.warning("alarm notifier falls behind: the oldest notices are dropped")
        elif self._losing_notices and self._notices.qsize() < NOTICE_QUEUE // 2:
            self._losing_notices = False
            log.info(
                "alarm notifier caught up (%d notices dropped in all)", self.stats.lost_notices
            )
        self._notices.put_nowait(notice)

    async def _notify_loop(self) -> None:
        assert self._on_event is not None
        failing = False
        while True:
            notice = await self._notices.get()
            try:
                async with asyncio.timeout(NOTICE_TIMEOUT_S):
                    await self._on_event(notice)
            except Exception as exc:  # a notifier's failure must not stop the alarms
                self.stats.notice_failures += 1
                if not failing:
                    log.error("alarm notifier failed: %s", exc, exc_info=exc)
                failing = True
            else:
                if failing:
                    log.warning("alarm notifier recovered")
                failing = False

    async def _write_loop(self) -> None:
        """Append queued rows in batches; retry a failing database with capped back-off."""
        p, backoff = self._pending, WRITE_EVERY_S
        while True:
            await p.ready.wait()
            await asyncio.sleep(WRITE_EVERY_S)  # gather what the same instant produces
            if await self._write_once():
                backoff = WRITE_EVERY_S
            else:
                await asyncio.sleep(backoff)
                backoff = min(backoff * 2, WRITE_RETRY_MAX_S)

    async def _write_once(self) -> bool:
        """Store what is queued; False when the database refused (the rows stay queued)."""
        async with self._write_lock:
            return await self._append_queued()

    async def _append_queued(self) -> bool:
        p = self._pending
        queued = list(itertools.islice(p.rows, MAX_APPEND))
        if not queued:
            p.ready.clear()
            return True
        rows = [row for _, row in queued]
        last = queued[-1][0]
        try:
            await asyncio.to_thread(self.history.append, self.tenant_id, rows)
        except CatalogError as exc:
            if not self._write_failing:
                log.error("alarm history: cannot store %d events: %s", len(rows), exc)
            self._write_failing = True
            return False
        if self._write_failing:
            log.warning(
                "alarm history: storing again (%d events lost in all while it failed)",
                self.stats.lost_history_rows,
            )
        self._write_failing = False
        # Rows may have been dropped from the front while the append ran: remove by
        # sequence number what was written, never a count of rows from the front.
        while p.rows and p.rows[0][0] <= last:
            p.rows.popleft()
        if self._losing_rows and len(p.rows) < MAX_PENDING // 2:
            self._losing_rows = False
            log.info("alarm history backlog drained (%d rows lost)", self.stats.lost_history_rows)
        self.stats.stored_rows += len(rows)
        async with p.written:
            p.stored = last
            p.written.notify_all()
        if not p.rows:
            p.ready.clear()
        return True

    async def _prune_loop(self) -> None:
        keep = self.config.history
        while True:
            older_than = self._clock() - int(keep.keep_days * 86_400 * NS_PER_S)
            try:
                gone = await asyncio.to_thread(
                    self.history.prune,
                    self.tenant_id,
                    older_than=older_than,
                    max_rows=keep.max_rows,
                )
            except CatalogError as exc:
                log.error("alarm history: pruning failed: %s", exc)
            else:
                if gone:
                    log.info("alarm history: pruned %d rows", gone)
            await asyncio.sleep(PRUNE_EVERY_S)

    async def _finish(self, workers: list[asyncio.Task[None]]) -> None:
        """Store what is left (one attempt), stop the workers, say what was lost."""
        async with self._write_lock:
            for task in workers:
                task.cancel()
        await asyncio.gather(*workers, return_exceptions=True)
        while self._pending.rows and await self._write_once():
            pass
        if self._pending.rows:
            log.error("alarm history: %d events not stored at shutdown", len(self._pending.rows))

    # -- operator commands and status ----------------------------------------------------

    def check_ready(self) -> None:
        """Commands and the live list need the restored state of a running processor."""
        if not self.ready.is_set():
            raise AlarmsUnavailableError("alarms are starting or stopping; try again")

    async def _command(
        self, events: list[AlarmEvent], actor: str, comment: str | None, until: int | None = None
    ) -> None:
        seq = self._handle(events, actor, comment, until)
        p = self._pending
        try:
            async with asyncio.timeout(COMMAND_WAIT_S), p.written:
                await p.written.wait_for(lambda: p.stored >= seq)
        except TimeoutError:
            log.warning("alarm history is slow: a command's row is still queued")

    def _changed(self, events: list[AlarmEvent], name: str, what: str) -> list[AlarmEvent]:
        if not events:
            state = self._engine.status(name).state
            raise AlarmStateError(f"alarm {name!r}: nothing to {what} (it is {state})")
        return events

    async def acknowledge(self, name: str, actor: str, comment: str | None = None) -> LiveStatus:
        self.check_ready()
        events = self._engine.acknowledge(name, self._clock())
        await self._command(self._changed(events, name, "acknowledge"), actor, comment)
        return self.live(name)

    async def shelve(self, name: str, until_ns: int, actor: str, reason: str) -> LiveStatus:
        self.check_ready()
        events = self._engine.shelve(name, until_ns, self._clock())
        await self._command(events, actor, reason, until_ns)
        return self.live(name)

    async def unshelve(self, name: str, actor: str, comment: str | None = None) -> LiveStatus:
        self.check_ready()
        await self._command(self._engine.unshelve(name, self._clock()), actor, comment)
        return self.live(name)

    async def remove_from_service(self, name: str, actor: str, reason: str) -> LiveStatus:
        self.check_ready()
        events = self._engine.remove_from_service(name, self._clock())
        await self._command(self._changed(events, name, "remove from service"), actor, reason)
        return self.live(name)

    async def return_to_service(
        self, name: str, actor: str, comment: str | None = None
    ) -> LiveStatus:
        self.check_ready()
        await self._command(self._engine.return_to_service(name, self._clock()), actor, comment)
        return self.live(name)

    def live(self, name: str) -> LiveStatus:
        status = self._engine.status(name)  # UnknownAlarmError for an unknown name
        last = self._last.get(self._tag_of[name])
        return LiveStatus(
            status,
            self.config.info[name],
            None if last is None else last[0],
            None if last is None else last[1],
        )

    def live_all(self) -> list[LiveStatus]:
        self.check_ready()
        return [self.live(name) for name in self._engine.names]
