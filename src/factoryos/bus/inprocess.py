"""The in-process bus: fan-out of SampleBatches to bounded subscriber queues.

Each subscriber declares what happens when its queue is full. ``BLOCK`` makes the
publisher wait (back-pressure: the ingest path never loses data); ``DROP_OLDEST`` discards
the oldest queued batch and counts it (live views that only care about the newest data).
Batches are shared, not copied: subscribers must treat them as read-only.
"""

import asyncio
import logging
from collections import deque
from enum import StrEnum

from factoryos.bus.errors import BusClosedError, BusError
from factoryos.model.samples import SampleBatch

logger = logging.getLogger(__name__)


class Overflow(StrEnum):
    """What a full subscriber queue does with a new batch."""

    BLOCK = "block"
    DROP_OLDEST = "drop_oldest"


class Subscription:
    """A bounded queue of batches for one consumer; an async iterator of SampleBatch.

    Closing stops new batches from arriving; batches already queued (and those of
    publishers blocked on this queue at that moment) are still delivered, then iteration ends.
    """

    def __init__(self, bus: "InProcessBus", name: str, maxsize: int, overflow: Overflow) -> None:
        self.name = name
        self.maxsize = maxsize
        self.overflow = overflow
        self.dropped = 0
        self.accepted = 0
        """Batches accepted into this queue so far (including blocked publishers' batches)."""
        self._bus = bus
        self._buffer: deque[SampleBatch] = deque()
        self._putters: deque[tuple[SampleBatch, asyncio.Future[None]]] = deque()
        self._readable = asyncio.Event()
        self._closed = False

    @property
    def qsize(self) -> int:
        """Batches waiting to be consumed, counting those of blocked publishers."""
        return len(self._buffer) + len(self._putters)

    @property
    def closed(self) -> bool:
        return self._closed

    def __aiter__(self) -> "Subscription":
        return self

    async def __anext__(self) -> SampleBatch:
        while not self._buffer:
            if self._closed:
                raise StopAsyncIteration
            self._readable.clear()
            await self._readable.wait()
        return self._pop()

    def take_all(self) -> list[SampleBatch]:
        """Every batch queued now, including those of blocked publishers, without waiting."""
        batches = list(self._buffer)
        self._buffer.clear()
        while self._putters:
            batch, done = self._putters.popleft()
            batches.append(batch)
            if not done.done():
                done.set_result(None)
        return batches

    async def wait(self) -> None:
        """Return once a batch is queued, the subscription closes or `interrupt` is called.

        Bound it with ``asyncio.timeout`` to also wake after a delay.
        """
        if self._buffer or self._closed:
            return
        self._readable.clear()
        await self._readable.wait()

    def interrupt(self) -> None:
        """Wake a consumer blocked in `wait` so it can notice an outside event (stop, flush)."""
        self._readable.set()

    def close(self) -> None:
        """Unsubscribe: no new batches; what is queued can still be consumed."""
        if self._closed:
            return
        self._closed = True
        self._bus._unsubscribe(self)
        while self._putters:
            batch, done = self._putters.popleft()
            self._buffer.append(batch)
            if not done.done():
                done.set_result(None)
        self._readable.set()
        logger.debug("subscription %s closed (%d dropped)", self.name, self.dropped)

    async def _put(self, batch: SampleBatch) -> None:
        if self._closed:  # closed while a publish was fanning out: count it, never hide it
            self.dropped += 1
            logger.warning(
                "subscription %s closed: a batch of %d samples was not delivered",
                self.name,
                len(batch),
            )
            return
        self.accepted += 1
        if len(self._buffer) < self.maxsize:
            self._buffer.append(batch)
        elif self.overflow is Overflow.DROP_OLDEST:
            self._buffer.popleft()
            self._buffer.append(batch)
            self.dropped += 1
        else:
            await self._wait_for_room(batch)
        self._readable.set()

    async def _wait_for_room(self, batch: SampleBatch) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        entry = (batch, done)
        self._putters.append(entry)
        try:
            await done
        except asyncio.CancelledError:
            if entry in self._putters:
                self._putters.remove(entry)
                self.accepted -= 1
            raise

    def _pop(self) -> SampleBatch:
        batch = self._buffer.popleft()
        if self._putters:
            waiting, done = self._putters.popleft()
            self._buffer.append(waiting)
            if not done.done():
                done.set_result(None)
        return batch


class InProcessBus:
    """Fans every published batch out to all current subscribers, in subscription order."""

    def __init__(self) -> None:
        self._subscriptions: list[Subscription] = []
        self._closed = False

    def subscribe(
        self, name: str, *, maxsize: int = 256, overflow: Overflow = Overflow.BLOCK
    ) -> Subscription:
        """A new subscription receiving every batch published from now on."""
        if self._closed:
            raise BusClosedError(f"cannot subscribe {name!r}: the bus is closed")
        if maxsize < 1:
            raise BusError(f"subscription {name!r}: maxsize must be >= 1, got {maxsize}")
        subscription = Subscription(self, name, maxsize, Overflow(overflow))
        self._subscriptions.append(subscription)
        return subscription

    async def publish(self, batch: SampleBatch) -> None:
        """Deliver ``batch`` to every subscriber; waits while a BLOCK subscriber is full."""
        if self._closed:
            raise BusClosedError("cannot publish: the bus is closed")
        for subscription in tuple(self._subscriptions):
            await subscription._put(batch)

    @property
    def subscriptions(self) -> tuple[Subscription, ...]:
        return tuple(self._subscriptions)

    def close(self) -> None:
        """End every subscription; later publishes and subscribes raise BusClosedError."""
        self._closed = True
        for subscription in tuple(self._subscriptions):
            subscription.close()

    def _unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscriptions:
            self._subscriptions.remove(subscription)
