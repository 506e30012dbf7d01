"""NATS JetStream on the platform side: edge batches from a stream onto the InProcessBus.

Edge gateways publish columnar batch messages (:mod:`factoryos.bus.codec`, with a UNS path
table) to ``factoryos.ingest.<site>`` in one JetStream stream. :class:`NatsIngestSource`
pulls them with a durable pull consumer in bounded batches, resolves paths to the platform's
tag ids, publishes one batch per pull on the bus and acks the messages only after that
(optionally after the ingest has stored them). A crash before the ack means redelivery, which
the store's idempotent write on (tag, ts) makes harmless.
"""

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import nats
import nats.errors
import nats.js.errors
import numpy as np
from nats.aio.client import Client
from nats.aio.msg import Msg
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy

from factoryos.bus.codec import BatchDecodeError, decode_batch
from factoryos.bus.errors import BusError
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch

log = logging.getLogger(__name__)

SUBJECT_PREFIX = "factoryos.ingest"
MAX_PULL = 1024
INITIAL_BACKOFF_S = 0.5
_UNKNOWN = -1


class NatsError(BusError):
    """NATS could not be reached or refused a request."""


def ingest_subject(site: str) -> str:
    """The subject a site's gateways publish to."""
    return f"{SUBJECT_PREFIX}.{site}"


async def connect_nats(url: str, *, name: str, timeout_s: float) -> Client:
    """A client that reconnects forever once it has connected; logs each down/up once (not
    the disconnect of its own ``close()``: a clean stop is no warning).

    The first connection is bounded: raises :class:`NatsError` when no server answered within
    ``timeout_s`` (at least 1 s). nats-py alone would retry it forever (unlimited reconnect
    attempts apply to the first connect too), so a gateway or worker started while NATS is
    down would hang silently and ignore its stop.
    """
    nc = Client()

    async def disconnected() -> None:
        if nc.is_closed:
            log.debug("nats %s: closed", name)
            return
        log.warning("nats %s: disconnected from %s", name, url)

    async def reconnected() -> None:
        log.info("nats %s: reconnected to %s", name, url)

    async def error(exc: Exception) -> None:
        log.debug("nats %s: %s", name, exc)

    bound_s = max(1.0, timeout_s)
    try:
        async with asyncio.timeout(bound_s):
            await nc.connect(
                url,
                name=name,
                connect_timeout=max(1, round(timeout_s)),
                allow_reconnect=True,
                max_reconnect_attempts=-1,
                reconnect_time_wait=1,
                disconnected_cb=disconnected,
                reconnected_cb=reconnected,
                error_cb=error,
            )
    except TimeoutError as exc:
        last = nc.last_error
        await nc.close()
        why = f": {last}" if last is not None else ""
        raise NatsError(f"nats {name}: cannot connect to {url} within {bound_s:g} s{why}") from exc
    except (nats.errors.Error, OSError) as exc:
        await nc.close()
        raise NatsError(f"nats {name}: cannot connect to {url}: {exc!r}") from exc
    return nc


@dataclass
class NatsIngestStats:
    messages: int = 0
    samples: int = 0
    malformed: int = 0
    unknown_samples: int = 0
    """Samples whose UNS path the platform does not know (not stored)."""
    last_stream_seq: int = 0
    """Stream sequence of the last message acked."""
    pending: int = 0
    """Messages the consumer had not delivered yet when the last batch was fetched."""
    redelivered: int = 0
    """Messages received again (their earlier delivery was never acked)."""
    connected: bool = False


class NatsIngestSource:
    """Pulls edge batches from ``stream`` and publishes them on ``bus``.

    ``tag_ids`` maps UNS path → platform tag id (the catalog's ids for the site files the
    platform registered). ``after_publish`` runs before each ack: pass ``Ingestor.flush`` to
    ack only what the store holds. Several sources on the same ``durable_name`` share one
    pull consumer and so split the stream between them (a queue group); ``ack_wait_s`` is how
    long a message a dead consumer fetched waits before it is delivered to another.
    """

    def __init__(
        self,
        url: str,
        stream: str,
        durable_name: str,
        *,
        bus: InProcessBus,
        tag_ids: Mapping[str, int],
        after_publish: Callable[[], Awaitable[None]] | None = None,
        batch: int = 256,
        fetch_timeout_s: float = 1.0,
        max_backoff_s: float = 10.0,
        ack_wait_s: float = 60.0,
    ) -> None:
        if not 1 <= batch <= MAX_PULL:
            raise BusError(f"nats ingest {durable_name}: batch must be 1..{MAX_PULL}, got {batch}")
        self.url, self.stream, self.durable_name = url, stream, durable_name
        self.stats = NatsIngestStats()
        self._bus = bus
        self._tag_ids = tag_ids
        self._after_publish = after_publish
        self._batch = batch
        self._fetch_timeout_s = fetch_timeout_s
        self._max_backoff_s = max_backoff_s
        self._ack_wait_s = ack_wait_s
        self._bad_subjects: set[str] = set()
        self._unknown_paths: set[str] = set()

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set; connection trouble is retried with capped back-off."""
        backoff, logged = INITIAL_BACKOFF_S, False
        while not stop.is_set():
            try:
                await self._consume(stop)
            except NatsError as exc:
                if self.stats.connected:  # it was up: a new outage
                    backoff, logged = INITIAL_BACKOFF_S, False
                self.stats.connected = False
                if not logged:
                    log.warning("nats ingest %s: %s; retrying", self.durable_name, exc)
                    logged = True
                await _sleep_unless(stop, backoff)
                backoff = min(2 * backoff, self._max_backoff_s)

    async def _consume(self, stop: asyncio.Event) -> None:
        nc = await connect_nats(self.url, name=self.durable_name, timeout_s=5.0)
        try:
            sub = await self._subscribe(nc)
            self.stats.connected = True
            log.info("nats ingest %s: consuming stream %s", self.durable_name, self.stream)
            while not stop.is_set():
                msgs = await self._fetch(sub)
                if msgs:
                    await self._handle(msgs)
        finally:
            await nc.close()

    async def _subscribe(self, nc: Client) -> Any:
        config = ConsumerConfig(
            durable_name=self.durable_name,
            ack_policy=AckPolicy.EXPLICIT,
            deliver_policy=DeliverPolicy.ALL,
            ack_wait=self._ack_wait_s,
            max_ack_pending=4 * self._batch,
        )
        try:
            return await nc.jetstream().pull_subscribe(
                f"{SUBJECT_PREFIX}.>", durable=self.durable_name, stream=self.stream, config=config
            )
        except (nats.errors.Error, TimeoutError) as exc:
            raise NatsError(f"cannot consume stream {self.stream}: {exc!r}") from exc

    async def _fetch(self, sub: Any) -> list[Msg]:
        try:
            msgs: list[Msg] = await sub.fetch(self._batch, timeout=self._fetch_timeout_s)
        except (nats.errors.TimeoutError, TimeoutError):
            return []
        except nats.errors.Error as exc:
            raise NatsError(f"fetch from stream {self.stream} failed: {exc!r}") from exc
        return msgs

    async def _handle(self, msgs: list[Msg]) -> None:
        good: list[Msg] = []
        batches: list[SampleBatch] = []
        for msg in msgs:
            batch = self._decode(msg)
            if batch is None:
                await _settle(msg.term())
                continue
            good.append(msg)
            batches.append(batch)
        merged = SampleBatch.concat(batches)
        if len(merged):
            await self._bus.publish(merged)
            if self._after_publish is not None:
                await self._after_publish()
        for msg in good:
            await _settle(msg.ack())
        self.stats.messages += len(good)
        self.stats.samples += len(merged)
        self.stats.last_stream_seq = msgs[-1].metadata.sequence.stream
        self.stats.pending = msgs[-1].metadata.num_pending
        self.stats.redelivered += sum(1 for m in msgs if m.metadata.num_delivered > 1)

    def _decode(self, msg: Msg) -> SampleBatch | None:
        try:
            header, batch = decode_batch(msg.data)
        except BatchDecodeError as exc:
            self.stats.malformed += 1
            if msg.subject not in self._bad_subjects:
                self._bad_subjects.add(msg.subject)
                log.warning("nats ingest: malformed message on %s dropped: %s", msg.subject, exc)
            return None
        if not header.paths:
            return batch  # tag ids as they are: a producer that knows the platform's ids
        ids = np.array([self._tag_ids.get(p, _UNKNOWN) for p in header.paths], dtype=np.int32)
        mapped = SampleBatch(ids[batch.tag_ids], batch.ts, batch.values, batch.quality)
        known = mapped.tag_ids != _UNKNOWN
        if not known.all():
            self._note_unknown(header.paths, ids, int((~known).sum()))
            mapped = mapped.take(known)
        return mapped

    def _note_unknown(self, paths: tuple[str, ...], ids: Any, samples: int) -> None:
        self.stats.unknown_samples += samples
        for path, tag_id in zip(paths, ids, strict=True):
            if tag_id == _UNKNOWN and path not in self._unknown_paths:
                self._unknown_paths.add(path)
                log.warning("nats ingest: no tag %r in the catalog; its samples are dropped", path)


async def _settle(ack: Awaitable[None]) -> None:
    try:
        await ack
    except nats.errors.Error as exc:
        raise NatsError(f"ack failed: {exc!r}") from exc


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
