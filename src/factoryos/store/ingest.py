"""The ingest worker: bus → batched columnar writes into the time-series store.

It consumes a BLOCK subscription (publishers wait when it falls behind, so nothing is lost),
gathers batches until ``max_rows`` samples or ``max_delay_s`` seconds, and writes them as one
batch in a worker thread, so the event loop keeps receiving while DuckDB appends.
An optional ``on_stored`` callback sees every committed write (benchmarks time latency with it).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from factoryos.bus.inprocess import InProcessBus, Overflow
from factoryos.model.samples import SampleBatch
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.errors import IngestError, InvalidBatchError, StoreError

logger = logging.getLogger(__name__)

WRITE_ATTEMPTS = 3
RETRY_DELAY_S = 0.2

OnStored = Callable[[SampleBatch, int], None]
"""Called on the event loop after each committed write with the batch written (duplicates
included) and ``time.time_ns()`` taken right after the commit; it must be quick and not raise."""


@dataclass(frozen=True, slots=True)
class IngestStats:
    """Counters of one ingest worker."""

    batches: int = 0
    """Batches received from the bus."""
    rows_in: int = 0
    rows_stored: int = 0
    """Samples that were new to the store (duplicates are not counted)."""
    rows_rejected: int = 0
    """Samples of batches the store refused as invalid."""
    writes: int = 0
    last_write_s: float = 0.0
    write_errors: int = 0
    """Write attempts the store failed (each retry counts)."""
    queue_depth: int = 0
    """Batches waiting in the subscription now."""


class Ingestor:
    """Writes every batch published on ``bus`` into ``store``.

    It subscribes at construction, so batches published before `run` starts are kept.
    `run` is meant to be called once.
    """

    def __init__(
        self,
        store: TimeSeriesStore,
        bus: InProcessBus,
        *,
        max_rows: int = 500_000,
        max_delay_s: float = 0.25,
        maxsize: int = 1024,
        name: str = "ingest",
        on_stored: OnStored | None = None,
    ) -> None:
        if max_rows < 1:
            raise IngestError(f"max_rows must be >= 1, got {max_rows}")
        if max_delay_s <= 0:
            raise IngestError(f"max_delay_s must be > 0, got {max_delay_s}")
        self.max_rows = max_rows
        self.max_delay_s = max_delay_s
        self._store = store
        self._on_stored = on_stored
        self._sub = bus.subscribe(name, maxsize=maxsize, overflow=Overflow.BLOCK)
        self._pending: list[SampleBatch] = []
        self._pending_rows = 0
        self._done_batches = 0
        self._flush_wanted = False
        self._running = self._finished = False
        self._progress = asyncio.Condition()
        self._stats = IngestStats()

    @property
    def stats(self) -> IngestStats:
        return replace(self._stats, queue_depth=self._sub.qsize)

    async def run(self, stop: asyncio.Event) -> None:
        """Ingest until ``stop`` is set (or the bus closes), then store what is queued."""
        if self._running or self._finished:
            raise IngestError(f"ingest {self._sub.name!r}: run() is already running or has run")
        self._running = True
        watcher = asyncio.create_task(self._interrupt_when_set(stop))
        logger.info("ingest %s started", self._sub.name)
        try:
            while not stop.is_set() and not self._sub.closed:
                await self._collect(stop)
                await self._write_pending()
            self._sub.close()
            self._take()
            await self._write_pending()
        finally:
            watcher.cancel()
            self._sub.close()
            self._running, self._finished = False, True
            async with self._progress:
                self._progress.notify_all()
        logger.info("ingest %s stopped: %s", self._sub.name, self.stats)

    async def flush(self) -> None:
        """Return when everything published so far is stored.

        If `run` has not started yet this waits for it, so bound it with ``asyncio.timeout``.
        """
        target = self._sub.accepted
        async with self._progress:
            while self._done_batches < target:
                if self._finished:
                    raise IngestError(f"flush: ingest {self._sub.name!r} has stopped")
                self._flush_wanted = True
                self._sub.interrupt()
                await self._progress.wait()

    async def _interrupt_when_set(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._sub.interrupt()

    async def _collect(self, stop: asyncio.Event) -> None:
        """Gather batches until max_rows, max_delay_s after the first, a flush, or stop."""
        loop = asyncio.get_running_loop()
        deadline: float | None = None
        while self._pending_rows < self.max_rows and not (stop.is_set() or self._flush_wanted):
            if self._take():
                if deadline is None:
                    deadline = loop.time() + self.max_delay_s
                continue
            if self._sub.closed:
                return
            if deadline is None:
                await self._sub.wait()
                continue
            remaining = deadline - loop.time()
            if remaining <= 0:
                return
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(remaining):
                    await self._sub.wait()

    def _take(self) -> bool:
        batches = self._sub.take_all()
        rows = sum(len(b) for b in batches)
        self._pending.extend(batches)
        self._pending_rows += rows
        self._stats = replace(
            self._stats,
            batches=self._stats.batches + len(batches),
            rows_in=self._stats.rows_in + rows,
        )
        return bool(batches)

    async def _write_pending(self) -> None:
        batches, self._pending, self._pending_rows = self._pending, [], 0
        if batches:
            await self._store_batches(batches)
        self._flush_wanted = False
        async with self._progress:
            self._progress.notify_all()

    async def _store_batches(self, batches: list[SampleBatch]) -> None:
        started = time.perf_counter()
        rejected = 0
        try:
            stored = await self._write(batches)
        except InvalidBatchError:
            stored, rejected = await self._write_each(batches)
        self._done_batches += len(batches)
        self._stats = replace(
            self._stats,
            rows_stored=self._stats.rows_stored + stored,
            rows_rejected=self._stats.rows_rejected + rejected,
            writes=self._stats.writes + 1,
            last_write_s=time.perf_counter() - started,
        )

    async def _write_each(self, batches: list[SampleBatch]) -> tuple[int, int]:
        """Write batch by batch so one invalid batch does not take the others with it."""
        stored = rejected = 0
        for batch in batches:
            try:
                stored += await self._write([batch])
            except InvalidBatchError as e:
                logger.warning("ingest %s rejected %d samples: %s", self._sub.name, len(batch), e)
                rejected += len(batch)
        return stored, rejected

    async def _write(self, batches: list[SampleBatch]) -> int:
        """Write as one batch in a worker thread (concatenating there too, off the event loop);
        a failing store is retried a few times, then given up."""
        for attempt in range(1, WRITE_ATTEMPTS):
            try:
                return self._stored(
                    await asyncio.to_thread(_concat_and_write, self._store, batches)
                )
            except InvalidBatchError:
                raise
            except StoreError as e:
                self._count_write_error()
                logger.warning(
                    "ingest %s write failed (attempt %d): %s", self._sub.name, attempt, e
                )
                await asyncio.sleep(RETRY_DELAY_S * 2 ** (attempt - 1))
        try:
            return self._stored(await asyncio.to_thread(_concat_and_write, self._store, batches))
        except InvalidBatchError:
            raise
        except StoreError as e:
            self._count_write_error()
            raise IngestError(
                f"ingest {self._sub.name!r}: {sum(map(len, batches))} samples not stored after "
                f"{WRITE_ATTEMPTS} attempts: {e}"
            ) from e

    def _count_write_error(self) -> None:
        self._stats = replace(self._stats, write_errors=self._stats.write_errors + 1)

    def _stored(self, written: tuple[int, SampleBatch, int]) -> int:
        stored, batch, committed_ns = written
        if self._on_stored is not None:
            self._on_stored(batch, committed_ns)
        return stored


def _concat_and_write(
    store: TimeSeriesStore, batches: list[SampleBatch]
) -> tuple[int, SampleBatch, int]:
    """Rows stored, the batch written and the time right after the commit."""
    batch = SampleBatch.concat(batches)
    return store.write(batch), batch, time.time_ns()
