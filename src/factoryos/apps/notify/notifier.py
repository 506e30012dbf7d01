"""Delivery: route, de-duplicate, and send each notification on its channels' lanes.

Every channel has its own lane: a bounded queue (full: the oldest waiting delivery is
dropped and counted) and one worker that sends with a time limit per attempt and capped,
exponentially spaced retries. A slow or dead channel therefore only ever delays itself.
"""

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_exponential

from factoryos.apps.notify.config import RetryConfig
from factoryos.apps.notify.dedupe import Deduplicator
from factoryos.apps.notify.errors import DeliveryError, NotifyError
from factoryos.apps.notify.notification import Notification
from factoryos.apps.notify.routing import route
from factoryos.apps.notify.settings import NotifySettings, Target
from factoryos.apps.notify.transport import Transport, transport_for

_log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(slots=True)
class ChannelCounters:
    """Per channel, since the notifier was made: delivered; given up on (after the
    retries, or at once for a permanent refusal); dropped (queue full or still queued
    when the drain time ran out); not sent because it was a duplicate."""

    sent: int = 0
    failed: int = 0
    dropped: int = 0
    deduplicated: int = 0


@dataclass(frozen=True, slots=True)
class NotifierStats:
    """A snapshot for metrics. ``unrouted``: notifications no route accepted."""

    submitted: int
    unrouted: int
    channels: Mapping[str, ChannelCounters]


class _DropOldest(asyncio.Queue[T]):
    def offer(self, item: T) -> bool:
        """Enqueue without waiting; True when the oldest item had to make room."""
        dropped = self.full()
        if dropped:
            self.get_nowait()
            self.task_done()
        self.put_nowait(item)
        return dropped


@dataclass(frozen=True, slots=True)
class _Delivery:
    notification: Notification
    event_id: str


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, DeliveryError) and exc.retryable


class _Lane:
    """One channel's queue and worker."""

    def __init__(self, target: Target, retry: RetryConfig, max_queued: int) -> None:
        self.target = target
        self.retry = retry
        self.queue: _DropOldest[_Delivery] = _DropOldest(max_queued)
        self.counters = ChannelCounters()
        self.failing = False

    def offer(self, delivery: _Delivery) -> None:
        if self.queue.offer(delivery):
            self.counters.dropped += 1

    async def run(self) -> None:
        """Send until cancelled; the transport is closed in this task on the way out."""
        transport = transport_for(self.target)
        try:
            while True:
                delivery = await self.queue.get()
                try:
                    await self._deliver(transport, delivery)
                except asyncio.CancelledError:
                    self.counters.dropped += 1  # cut off in flight by the end of the drain
                    raise
                finally:
                    self.queue.task_done()
        finally:
            await transport.aclose()

    async def _deliver(self, transport: Transport, delivery: _Delivery) -> None:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self.retry.max_attempts),
            wait=wait_exponential(
                multiplier=self.retry.backoff_first_s, max=self.retry.backoff_max_s
            ),
            retry=retry_if_exception(_retryable),
            reraise=True,
        )
        try:
            await retrying(self._attempt, transport, delivery)
        except DeliveryError as exc:
            self.counters.failed += 1
            if not self.failing:
                self.failing = True
                _log.warning("notification channel %s failing: %s", self.target.name, exc)
            return
        self.counters.sent += 1
        if self.failing:
            self.failing = False
            _log.info("notification channel %s recovered", self.target.name)

    async def _attempt(self, transport: Transport, delivery: _Delivery) -> None:
        limit = self.target.timeout_s
        try:
            async with asyncio.timeout(limit):
                await transport.send(delivery.notification, delivery.event_id)
        except TimeoutError as exc:
            raise DeliveryError(self.target.name, f"no answer within {limit} s") from exc


class Notifier:
    """Accepts notifications with :meth:`submit` and delivers them while :meth:`run` runs.

    ``clock`` (ns, monotonic) times the de-duplication windows.
    """

    def __init__(
        self, settings: NotifySettings, clock: Callable[[], int] = time.monotonic_ns
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._dedupe = Deduplicator(settings.max_dedupe_keys)
        self._lanes = {
            name: _Lane(target, settings.retry, settings.max_queued)
            for name, target in settings.targets.items()
        }
        self._submitted = 0
        self._unrouted = 0

    def submit(self, notification: Notification, to: Sequence[str] | None = None) -> None:
        """Route and enqueue ``notification`` without waiting (never blocks, never raises
        for a full queue: the oldest waiting delivery of that channel is dropped).

        ``to`` names the channels instead of the routes (a scheduled report names its
        recipients); an unknown name raises :class:`NotifyError`.
        """
        self._submitted += 1
        if to is not None:
            unknown = sorted(set(to) - self._lanes.keys())
            if unknown:
                raise NotifyError(f"notification {notification.key!r}: no channel {unknown}")
        channels = (
            route(notification, self.settings.routes) if to is None else dict.fromkeys(to, 0.0)
        )
        if not channels:
            self._unrouted += 1
            return
        now = self._clock()
        for name, window_s in channels.items():
            lane = self._lanes[name]
            if not self._dedupe.admit(notification.key, name, now, round(window_s * 1e9)):
                lane.counters.deduplicated += 1
                continue
            lane.offer(_Delivery(notification, str(uuid.uuid4())))

    def stats(self) -> NotifierStats:
        return NotifierStats(
            submitted=self._submitted,
            unrouted=self._unrouted,
            channels={name: replace(lane.counters) for name, lane in self._lanes.items()},
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set, then for at most ``drain_s`` more seconds send
        what is still queued; what is left after that is counted as dropped."""
        workers = [asyncio.create_task(lane.run()) for lane in self._lanes.values()]
        try:
            await stop.wait()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(self.settings.drain_s):
                    await asyncio.gather(*(lane.queue.join() for lane in self._lanes.values()))
        finally:
            for worker in workers:
                worker.cancel()
            ended = await asyncio.gather(*workers, return_exceptions=True)
            self._count_left()
        crashed = [e for e in ended if isinstance(e, Exception)]
        if crashed:
            raise crashed[0]

    def _count_left(self) -> None:
        for name, lane in self._lanes.items():
            left = lane.queue.qsize()
            if left:
                lane.counters.dropped += left
                _log.warning("notification channel %s: %d not sent at stop", name, left)
            while not lane.queue.empty():
                lane.queue.get_nowait()
                lane.queue.task_done()
