"""Plain MQTT driver: JSON payloads from any MQTT 3.1.1/5 broker, topic by topic, into tags.

One driver per broker connection subscribes to exactly the topics of its tags (several tags
may read different JSON paths of one topic: each payload is decoded once). Messages arriving
within ``window_s`` of each other become one :class:`SampleBatch`.

Bad input (not JSON, wrong shape or type, oversized, a topic no tag reads) is counted per
reason in :class:`MqttStats`, logged once per (topic, reason) until the topic reads cleanly
again, and never stored. A lost broker gives one BAD NaN sample per tag at the loss time, then
reconnects with capped exponential back-off and subscribes again.
"""

import asyncio
import contextlib
import logging
import time
from collections import Counter, deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass, field

import aiomqtt
import numpy as np
import numpy.typing as npt

from factoryos.connect.errors import ConfigError, ConnectError, DriverError, PayloadError
from factoryos.connect.mqtt_client import Backoff, BrokerSettings, connected
from factoryos.connect.mqtt_payload import Decoded, FieldMap, Reason, decode
from factoryos.connect.points import Point, device_points
from factoryos.connect.polling import Clock, PointColumns, Publish
from factoryos.model.devices import MqttDevice
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import TS_DTYPE, SampleBatch
from factoryos.model.site import SiteFile

log = logging.getLogger(__name__)
_client_log = logging.getLogger(f"{__name__}.client")

RECENT_MESSAGES = 20
MAX_LOGGED_UNKNOWN_TOPICS = 256  # a flood of strange topics must not grow memory
SUBSCRIBE_CHUNK = 100  # topics per SUBSCRIBE packet


MqttPoint = Point  # the name it had before the drivers shared one; ``tag.mqtt`` must be set


@dataclass
class MqttStats:
    """Counters of one driver. ``rejected`` counts problems per :class:`Reason`: one per
    message for a whole-payload problem, one per tag (per array element) for a field."""

    messages: int = 0
    samples: int = 0
    batches: int = 0
    rejected: Counter[Reason] = field(default_factory=Counter)
    dropped: int = 0  # messages discarded because the receive queue was full
    connects: int = 0
    disconnects: int = 0
    connected: bool = False
    last_error: str | None = None


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message (or connection event), for diagnostics."""

    ts_ns: int
    topic: str
    outcome: str  # "ok: n samples", the first problem, or the connection event
    size: int


class MqttDriver:
    """Reads the tags of one MQTT broker connection."""

    def __init__(
        self,
        device: MqttDevice,
        points: Sequence[Point],
        *,
        window_s: float = 0.05,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        max_queued: int = 10_000,
        max_pending: int = 100_000,
    ) -> None:
        if window_s <= 0 or max_queued < 1 or max_pending < 1:
            raise ConfigError(
                f"device {device.name}: window_s, max_queued, max_pending must be > 0"
            )
        self.device = device
        self.points = tuple(points)
        self.stats = MqttStats()
        self.window_s = window_s
        self.max_pending = max_pending
        self._max_queued = max_queued
        self._backoff = Backoff(first_backoff_s, max_backoff_s)
        self._broker = BrokerSettings.of(device, device.client_id)
        self._fields = _topic_fields(device.name, self.points)
        self._recent: deque[MessageRecord] = deque(maxlen=RECENT_MESSAGES)
        self._logged: dict[str, set[Reason]] = {}  # topic → problems logged since it was clean
        self._pending = Decoded()
        self._ready = asyncio.Event()
        self._down = False
        self._failed_attempts = 0
        self._columns = PointColumns(self.points)

    @property
    def name(self) -> str:
        return self.device.name

    @property
    def topics(self) -> tuple[str, ...]:
        """The topics it subscribes to, in tag order."""
        return tuple(self._fields)

    def recent(self) -> list[MessageRecord]:
        """The last messages and connection events, oldest first."""
        return list(self._recent)

    async def wait_ready(self) -> None:
        """Return once connected and subscribed (bound it with ``asyncio.timeout``)."""
        await self._ready.wait()

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = time.time_ns) -> None:
        """Receive until ``stop`` is set, publishing a batch per window of messages.
        ``publish`` is awaited inline: keep it quick (a bounded queue put)."""
        serve = asyncio.create_task(self._serve(publish, clock), name=f"mqtt-{self.name}")
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({serve, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            serve.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serve  # re-raises what ended it, unless that was our cancel
            await self._flush(publish)
            await self.close()

    async def close(self) -> None:
        """Forget the connection state; the connection itself closes with `run`."""
        self._ready.clear()
        self.stats.connected = False

    # -- messages -----------------------------------------------------------------------

    def accept(self, topic: str, payload: bytes, received_ns: int) -> int:
        """Decode one message into the pending batch; returns how many samples it gave.
        Never raises for bad input: problems are counted and logged by topic."""
        self.stats.messages += 1
        fields = self._fields.get(topic)
        if fields is None:
            problem = PayloadError(Reason.UNKNOWN_TOPIC, "no tag reads this topic")
            self._problems(topic, [problem], received_ns, len(payload))
            return 0
        decoded = decode(payload, fields, received_ns, self.device.max_payload_bytes)
        pending = self._pending
        pending.points += decoded.points
        pending.ts += decoded.ts
        pending.values += decoded.values
        pending.quality += decoded.quality
        if decoded.problems:
            self._problems(topic, decoded.problems, received_ns, len(payload))
        else:
            self._clean(topic, received_ns, len(payload), len(decoded))
        return len(decoded)

    def _problems(self, topic: str, problems: list[PayloadError], ts_ns: int, size: int) -> None:
        self._recent.append(MessageRecord(ts_ns, topic, str(problems[0]), size))
        self.stats.last_error = f"{topic}: {problems[0]}"
        tracked = topic in self._logged or topic in self._fields
        if tracked or len(self._logged) < len(self._fields) + MAX_LOGGED_UNKNOWN_TOPICS:
            logged: set[Reason] | None = self._logged.setdefault(topic, set())
        else:
            logged = None  # a flood of unknown topics: count only
        for problem in problems:
            reason = Reason(problem.reason)
            self.stats.rejected[reason] += 1
            if logged is not None and reason not in logged:
                logged.add(reason)
                log.warning(
                    "device %s topic %s: %s (%s; more of these are counted, not logged)",
                    self.name,
                    topic,
                    problem,
                    reason,
                )

    def _clean(self, topic: str, ts_ns: int, size: int, samples: int) -> None:
        self._recent.append(MessageRecord(ts_ns, topic, f"ok: {samples} samples", size))
        if self._logged.pop(topic, None):
            log.info("device %s topic %s: payloads read cleanly again", self.name, topic)

    async def _flush(self, publish: Publish) -> None:
        pending, self._pending = self._pending, Decoded()
        if not len(pending):
            return
        batch = self._samples(
            np.array(pending.points, dtype=np.intp),
            np.array(pending.ts, dtype=TS_DTYPE),
            np.array(pending.values, dtype=np.float64),
            np.array(pending.quality, dtype=QUALITY_DTYPE),
        )
        if len(batch):
            self.stats.batches += 1
            self.stats.samples += len(batch)
            await publish(batch)

    def _samples(
        self,
        points: npt.NDArray[np.intp],
        ts: npt.NDArray[np.int64],
        raw: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> SampleBatch:
        c = self._columns
        bad = quality == Quality.BAD
        with np.errstate(over="ignore", invalid="ignore"):
            values = raw * c.scale[points] + c.offset[points]
        values[bad] = np.nan
        overflow = ~bad & ~np.isfinite(values)
        if overflow.any():
            self._overflowed(points[overflow], ts[overflow])
        quality = c.grade(values, quality, points)
        keep = ~overflow & self._deadband_keep(points, values, quality)
        return SampleBatch(c.tag_ids[points[keep]], ts[keep], values[keep], quality[keep])

    def _overflowed(self, points: npt.NDArray[np.intp], ts: npt.NDArray[np.int64]) -> None:
        for p, ts_ns in zip(points.tolist(), ts.tolist(), strict=True):
            tag = self.points[p].tag
            assert tag.mqtt is not None  # checked in __init__
            problem = PayloadError(Reason.NOT_FINITE, f"tag {tag.name}: scaled value overflows")
            self._problems(tag.mqtt.topic, [problem], ts_ns, 0)

    def _deadband_keep(
        self,
        points: npt.NDArray[np.intp],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> npt.NDArray[np.bool_]:
        """Which samples to store: quality changed, or moved beyond the deadband since the
        last stored value of the tag; remembers the stored ones."""
        c = self._columns
        keep = np.ones(len(points), dtype=np.bool_)
        banded = np.flatnonzero(c.deadband[points] >= 0)
        # In arrival order, one by one: a tag may have several samples in one batch.
        for i in banded.tolist():
            p = points[i]
            moved = abs(values[i] - c.last_value[p]) > c.deadband[p]
            keep[i] = bool(moved or quality[i] != c.last_quality[p])
            if keep[i]:
                c.last_value[p], c.last_quality[p] = values[i], quality[i]
        return keep

    # -- connection ---------------------------------------------------------------------

    async def _serve(self, publish: Publish, clock: Clock) -> None:
        while True:
            try:
                async with connected(
                    self._broker,
                    _client_log,
                    max_queued=self._max_queued,
                    on_drop=self._drop,
                    clean_session=not self.device.persistent_session,
                ) as client:
                    await self._subscribe(client, clock())
                    await self._receive(client, publish, clock)
            except (ConnectError, aiomqtt.MqttError) as exc:
                await self._flush(publish)
                await self._go_down(exc, publish, clock())
            await asyncio.sleep(self._backoff.failed())

    def _drop(self) -> None:
        self.stats.dropped += 1

    async def _subscribe(self, client: aiomqtt.Client, ts_ns: int) -> None:
        qos: int = self.device.qos
        topics = self.topics
        for start in range(0, len(topics), SUBSCRIBE_CHUNK):
            chunk = topics[start : start + SUBSCRIBE_CHUNK]
            granted = await client.subscribe([(t, qos) for t in chunk])
            for topic, code in zip(chunk, granted, strict=False):
                if _refused(code):
                    log.warning("device %s: broker refused subscription to %s", self.name, topic)
        self.stats.connected = True
        self.stats.connects += 1
        self._recent.append(MessageRecord(ts_ns, "", f"subscribed to {len(topics)} topics", 0))
        if self._down:
            log.info(
                "device %s: broker %s back after %d failed attempts; subscribed again",
                self.name,
                self._broker.address,
                self._failed_attempts,
            )
        else:
            log.info(
                "device %s: subscribed to %d topics on %s",
                self.name,
                len(topics),
                self._broker.address,
            )
        self._down, self._failed_attempts = False, 0
        self._backoff.reset()
        self._ready.set()

    async def _receive(self, client: aiomqtt.Client, publish: Publish, clock: Clock) -> None:
        loop = asyncio.get_running_loop()
        reader = _Reader(client.messages)
        try:
            while True:
                message = await reader.next(None)
                assert message is not None  # no timeout
                self._accept_message(message, clock())
                deadline = loop.time() + self.window_s
                while len(self._pending) < self.max_pending:
                    remaining = deadline - loop.time()
                    if remaining <= 0:
                        break
                    message = await reader.next(remaining)
                    if message is None:
                        break
                    self._accept_message(message, clock())
                await self._flush(publish)
        finally:
            last = reader.close()
            if last is not None:  # taken off the client's queue as we stopped: keep it
                self._accept_message(last, clock())

    def _accept_message(self, message: aiomqtt.Message, received_ns: int) -> None:
        payload = message.payload
        # aiomqtt hands us bytes from the wire; the other types are for publishing.
        data = payload if isinstance(payload, bytes) else str(payload).encode()
        self.accept(message.topic.value, data, received_ns)

    async def _go_down(
        self, exc: DriverError | aiomqtt.MqttError, publish: Publish, ts_ns: int
    ) -> None:
        self._ready.clear()
        self.stats.connected = False
        self.stats.last_error = f"{self._broker.address}: {exc}"
        self._failed_attempts += 1
        self._recent.append(MessageRecord(ts_ns, "", f"down: {exc}", 0))
        if self._down:
            return
        self._down = True
        self.stats.disconnects += 1
        log.warning(
            "device %s: broker %s lost (%s); tags BAD until it is back",
            self.name,
            self._broker.address,
            exc,
        )
        n = len(self.points)
        batch = self._samples(
            np.arange(n, dtype=np.intp),
            np.full(n, ts_ns, dtype=TS_DTYPE),
            np.full(n, np.nan),
            np.full(n, Quality.BAD, dtype=QUALITY_DTYPE),
        )
        if len(batch):
            self.stats.batches += 1
            self.stats.samples += len(batch)
            await publish(batch)


class _Reader:
    """Reads a client's messages one by one, with a timeout that never loses one.

    aiomqtt takes each message off its queue in a task of its own; cancelling a read (as a
    timeout does) just after that task got a message drops the message. So a read that
    times out is not cancelled: it stays in flight and the next call waits on it again.
    """

    def __init__(self, messages: AsyncIterator[aiomqtt.Message]) -> None:
        self._messages = messages
        self._read: asyncio.Future[aiomqtt.Message] | None = None

    async def next(self, timeout_s: float | None) -> aiomqtt.Message | None:
        """The next message; None if none came within ``timeout_s`` (None: no limit).
        Raises ``aiomqtt.MqttError`` when the connection is lost."""
        if self._read is None:
            self._read = asyncio.ensure_future(anext(self._messages))
        done, _ = await asyncio.wait({self._read}, timeout=timeout_s)
        if not done:
            return None
        read, self._read = self._read, None
        return read.result()

    def close(self) -> aiomqtt.Message | None:
        """Stop reading; returns the message a read in flight had already got, if any."""
        read, self._read = self._read, None
        if read is None:
            return None
        if not read.done():
            read.cancel()
            return None
        if read.cancelled() or read.exception() is not None:
            return None  # the lost connection is handled where it was raised
        return read.result()


def _refused(code: object) -> bool:
    is_failure = getattr(code, "is_failure", None)
    return bool(is_failure) if is_failure is not None else code == 0x80


def _topic_fields(device: str, points: Sequence[Point]) -> dict[str, list[FieldMap]]:
    fields: dict[str, list[FieldMap]] = {}
    for i, point in enumerate(points):
        address = point.tag.mqtt
        if address is None:
            raise ConfigError(f"device {device}: tag {point.tag.name} has no mqtt address")
        if address.topic is None:  # load_site fills templated topics in
            raise ConfigError(f"device {device}: tag {point.tag.name} has no mqtt topic")
        try:
            fields.setdefault(address.topic, []).append(FieldMap.of(i, address))
        except ConfigError as exc:
            raise ConfigError(f"device {device}, tag {point.tag.name}: {exc}") from exc
    return fields


def build_mqtt_drivers(
    site: SiteFile,
    tag_ids: Mapping[str, int],
    *,
    window_s: float = 0.05,
    max_backoff_s: float = 30.0,
) -> list[MqttDriver]:
    """One driver per MQTT device that serves at least one tag with an MQTT address.

    ``tag_ids`` maps each tag's Unified Namespace path to its storage id.
    """
    return [
        MqttDriver(d, points, window_s=window_s, max_backoff_s=max_backoff_s)
        for d, points in device_points(site, tag_ids, MqttDevice)
    ]
