"""The production-trace stream processor: counters from the live bus in, EPCIS events into
the tenant's event store.

- **Input**: a subscription of the platform's :class:`InProcessBus`, made at construction
  (before the drivers start). It holds :data:`QUEUE_BATCHES` batches, then drops the oldest
  (``DROP_OLDEST``): a stalled trace must never stall the ingest behind it, and the counters
  are cumulative, so a dropped batch loses no unit (the next sample counts it, at its time).
  Drops are counted and logged when they start and stop.
- **Output**: events queue in memory, at most :data:`MAX_PENDING` (beyond, the oldest are
  lost, counted and logged: only a database down for a long time gets there), and are
  captured every :data:`WRITE_EVERY_S` through :func:`~factoryos.apps.trace.epcis.capture.capture`
  in documents of at most :data:`MAX_BATCH` events, each validated against the EPCIS 2.0
  schema. A failing database is retried with capped back-off. Capture is idempotent on
  eventID, so what is captured twice (a retry after a timeout) is stored once.
- **Stop**: what is queued is processed, every open lot is finished with the units it has,
  and everything is captured.

:func:`backfill` runs the same logic over stored history (the demo's simulated days).
"""

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.epcis.validate import EpcisDocumentError
from factoryos.apps.trace.production.config import LinePlan
from factoryos.apps.trace.production.events import Event, document
from factoryos.apps.trace.production.tracker import SampleRouter, TrackerStats
from factoryos.bus.inprocess import InProcessBus, Overflow
from factoryos.model.samples import SampleBatch
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.catalog import CatalogError
from factoryos.store.epcis_events import MAX_BATCH, Captured, EpcisEvents

log = logging.getLogger(__name__)

QUEUE_BATCHES = 4096
MAX_PENDING = 200_000
WRITE_EVERY_S = 1.0
WRITE_RETRY_MAX_S = 30.0
SOURCE = "trace/production"


@dataclass
class TraceStats:
    batches: int = 0
    events: int = 0
    stored: int = 0
    duplicates: int = 0
    dropped_batches: int = 0
    lost_events: int = 0
    refused_events: int = 0


def capture_events(
    store: EpcisEvents, tenant_id: int, events: Sequence[Event], now_ns: int
) -> Captured:
    """Capture ``events`` (at most MAX_BATCH) as one validated document."""
    return capture(store, tenant_id, document(events), now_ns, SOURCE)


class TraceProcessor:
    """Emits and stores the production events of the configured lines, from the live bus."""

    def __init__(
        self,
        plans: Sequence[LinePlan],
        bus: InProcessBus,
        store: EpcisEvents,
        tenant_id: int,
        tag_ids: dict[str, int],
        *,
        clock: Callable[[], int] = time.time_ns,
        name: str = "trace",
    ) -> None:
        self.store = store
        self.tenant_id = tenant_id
        self.stats = TraceStats()
        self.router = SampleRouter(plans, tag_ids)
        self._clock = clock
        self._sub = bus.subscribe(name, maxsize=QUEUE_BATCHES, overflow=Overflow.DROP_OLDEST)
        self._pending: deque[Event] = deque()
        self._dropping = self._losing = self._failing = False

    @property
    def lines(self) -> dict[str, TrackerStats]:
        """Each line's production counted so far."""
        return {t.plan.line: t.stats for t in self.router.trackers}

    async def run(self, stop: asyncio.Event) -> None:
        """Process and capture until ``stop``; then close the lots and capture the rest."""
        waker = asyncio.create_task(self._interrupt_when_set(stop))
        try:
            await self._loop(stop)
        finally:
            waker.cancel()
            self._sub.close()
            self._process(self._sub.take_all())
            self._queue(self.router.close())
            while self._pending and await self._write_once():
                pass
            if self._pending:
                log.error("trace: %d production events not stored at shutdown", len(self._pending))
        log.info("trace processor stopped: %s", self.stats)

    async def _interrupt_when_set(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._sub.interrupt()

    async def _loop(self, stop: asyncio.Event) -> None:
        next_write, backoff = time.monotonic(), WRITE_EVERY_S
        while not stop.is_set() and not self._sub.closed:
            try:
                async with asyncio.timeout(max(0.0, next_write - time.monotonic())):
                    await self._sub.wait()
            except TimeoutError:
                pass
            self._process(self._sub.take_all())
            self._watch_drops()
            if time.monotonic() >= next_write:
                ok = await self._write_once()
                backoff = WRITE_EVERY_S if ok else min(backoff * 2, WRITE_RETRY_MAX_S)
                next_write = time.monotonic() + backoff

    def _process(self, batches: list[SampleBatch]) -> None:
        for batch in batches:
            self.stats.batches += 1
            self._queue(self.router.feed(batch))

    def _queue(self, events: list[Event]) -> None:
        self.stats.events += len(events)
        self._pending.extend(events)
        over = len(self._pending) - MAX_PENDING
        if over > 0:
            for _ in range(over):
                self._pending.popleft()
            self.stats.lost_events += over
            if not self._losing:
                log.error("trace: event backlog full, the oldest production events are lost")
            self._losing = True
        elif self._losing and len(self._pending) < MAX_PENDING // 2:
            log.warning("trace: backlog drained (%d events lost)", self.stats.lost_events)
            self._losing = False

    def _watch_drops(self) -> None:
        dropped = self._sub.dropped
        if dropped > self.stats.dropped_batches and not self._dropping:
            log.warning("trace processor falls behind: dropping the oldest sample batches")
            self._dropping = True
        elif dropped == self.stats.dropped_batches and self._dropping:
            log.warning("trace processor caught up; %d batches dropped in all", dropped)
            self._dropping = False
        self.stats.dropped_batches = dropped

    async def _write_once(self) -> bool:
        """Capture the oldest queued events; False when the database refused (they stay)."""
        events = list(itertools.islice(self._pending, MAX_BATCH))
        if not events:
            return True
        try:
            done = await asyncio.to_thread(
                capture_events, self.store, self.tenant_id, events, self._clock()
            )
        except CatalogError as exc:
            if not self._failing:
                log.error("trace: cannot store %d production events: %s", len(events), exc)
            self._failing = True
            return False
        except EpcisDocumentError as exc:
            # Our own events failing the schema is a bug: retrying cannot help, so they are
            # dropped (counted) rather than blocking every later event.
            log.error("trace: production events refused, not stored: %s", exc)
            self.stats.refused_events += len(events)
        else:
            self.stats.stored += done.written
            self.stats.duplicates += len(done.duplicates)
            if self._failing:
                log.warning("trace: storing production events again")
            self._failing = False
        for _ in events:
            self._pending.popleft()
        return True


@dataclass(frozen=True)
class BackfillResult:
    events: int
    stored: int
    lines: dict[str, TrackerStats]


def backfill(
    plans: Sequence[LinePlan],
    series: TimeSeriesStore,
    store: EpcisEvents,
    tenant_id: int,
    tag_ids: dict[str, int],
    start_ns: int,
    end_ns: int,
) -> BackfillResult:
    """The production events of the stored counter samples in ``[start_ns, end_ns)``,
    captured (blocking: run it in a thread). Open lots are finished at the end, as when the
    live processor stops; the events' identities come from time, so running it again over
    the same history stores nothing new."""
    router = SampleRouter(plans, tag_ids)
    pending: list[Event] = []
    made = stored = 0
    for batch in series.iter_raw(router.tag_ids.tolist(), start_ns, end_ns):
        pending += router.feed(batch)
        while len(pending) >= MAX_BATCH:
            stored += capture_events(store, tenant_id, pending[:MAX_BATCH], end_ns).written
            made += MAX_BATCH
            del pending[:MAX_BATCH]
    pending += router.close()
    for at in range(0, len(pending), MAX_BATCH):
        chunk = pending[at : at + MAX_BATCH]
        stored += capture_events(store, tenant_id, chunk, end_ns).written
    made += len(pending)
    return BackfillResult(made, stored, {t.plan.line: t.stats for t in router.trackers})


__all__ = ["BackfillResult", "TraceProcessor", "TraceStats", "backfill", "capture_events"]
