"""Sparkplug B 3.0 host application driver: one per edge node (or device) of the site file.

The driver holds one MQTT session. On connecting it publishes its STATE online (retained,
QoS 1, with a will of offline carrying the same timestamp), subscribes to the node's and its
devices' topics and asks the node for a rebirth, so it learns the metric aliases at once
instead of waiting for the node's next birth. Each payload becomes one :class:`SampleBatch`.
Protocol rules (births, aliases, seq, bdSeq, deaths) live in
:class:`~factoryos.connect.sparkplug_b.NodeSession`; this module does the I/O: rebirth
requests at most one per ``rebirth_interval_s`` until a birth answers, BAD samples for every
tag when the broker goes away, capped exponential back-off between reconnects.

Several drivers of one site share the ``host_id`` of their devices: each publishes the same
STATE topic, so an unclean exit of one marks the host offline for the edge nodes while the
others still run. One host id per broker connection is the rule of Sparkplug.
"""

import asyncio
import contextlib
import logging
import os
import ssl
import time
import uuid
from collections import deque
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass

import aiomqtt

from factoryos.connect.errors import ConfigError, ConnectError
from factoryos.connect.mqtt_client import Backoff
from factoryos.connect.points import Point, device_points
from factoryos.connect.polling import Clock, Publish
from factoryos.connect.sparkplug_b import (
    MessageType,
    NodeSession,
    PointSpec,
    SparkplugStats,
    edge_topic,
    encode_rebirth_request,
    encode_state,
    state_topic,
)
from factoryos.model.devices import SparkplugDevice
from factoryos.model.site import SiteFile

log = logging.getLogger(__name__)

RECENT_MESSAGES = 20
INCOMING_QUEUE = 10_000  # messages; when full aiomqtt drops new ones, seen here as a seq gap
_CONNECT_MARGIN_S = 1.0  # aiomqtt's own CONNACK timeout fires first; ours is the backstop
_FIRST_BACKOFF_S = 0.5


@dataclass(frozen=True, slots=True)
class SparkplugPoint(Point):
    """A tag read from a Sparkplug B metric (``tag.sparkplug.metric``)."""

    def spec(self) -> PointSpec:
        if self.tag.sparkplug is None:
            raise ConfigError(f"tag {self.tag.name} has no sparkplug address")
        low, high = self.tag.range or (float("-inf"), float("inf"))
        return PointSpec(
            self.tag_id, self.tag.sparkplug.metric, self.tag.scale, self.tag.offset, low, high
        )


@dataclass(frozen=True, slots=True)
class MessageRecord:
    """One message received or sent, for diagnostics."""

    ts_ns: int
    direction: str  # "in" or "out"
    topic: str
    size: int
    note: str


class SparkplugHostDriver:
    """Reads the metrics of one Sparkplug B edge node (or one of its devices)."""

    def __init__(
        self,
        device: SparkplugDevice,
        points: Sequence[Point],
        *,
        max_backoff_s: float = 30.0,
        rebirth_interval_s: float = 5.0,
    ) -> None:
        if max_backoff_s < _FIRST_BACKOFF_S or rebirth_interval_s <= 0:
            raise ConfigError(
                f"device {device.name}: need max_backoff_s >= {_FIRST_BACKOFF_S} and "
                "rebirth_interval_s > 0"
            )
        self.device = device
        self.points = tuple(SparkplugPoint(p.tag_id, p.tag) for p in points)
        self.stats = SparkplugStats()
        self.session = NodeSession(
            device.group_id,
            device.edge_node_id,
            device.device_id,
            [p.spec() for p in self.points],
            self.stats,
        )
        self._password = _password(device)
        self._backoff = Backoff(_FIRST_BACKOFF_S, max_backoff_s)
        self._rebirth_interval_s = rebirth_interval_s
        self._rebirth_asked_at: float | None = None  # monotonic; None: no request outstanding
        self._births_seen = 0
        self._recent: deque[MessageRecord] = deque(maxlen=RECENT_MESSAGES)
        self._down = False

    @property
    def name(self) -> str:
        return self.device.name

    def recent(self) -> list[MessageRecord]:
        """The last messages received and sent, oldest first."""
        return list(self._recent)

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = time.time_ns) -> None:
        """Hold a broker session until ``stop`` is set, publishing one batch per payload that
        carries samples. A lost broker gives one BAD batch, then reconnects with capped
        exponential back-off. On stop, publishes STATE offline and disconnects cleanly."""
        self._backoff.reset()
        try:
            while not stop.is_set():
                try:
                    await self._connection(publish, stop, clock)
                    self._backoff.reset()
                except ConnectError as exc:
                    await self._go_down(exc, publish, clock)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), self._backoff.failed())
        finally:
            await self.close()

    async def close(self) -> None:
        """Nothing stays open between runs: the connection closes with :meth:`run`."""
        self.stats.connected = False

    # -- connection -------------------------------------------------------------------

    async def _connection(self, publish: Publish, stop: asyncio.Event, clock: Clock) -> None:
        born_ms = clock() // 1_000_000
        state = state_topic(self.device.host_id)
        async with self._client(born_ms) as client:
            try:
                await client.publish(state, encode_state(True, born_ms), qos=1, retain=True)
                for topic_filter in self.session.subscriptions:
                    await client.subscribe(topic_filter, qos=1)
                self._come_up(clock)
                await self._ask_rebirth(client, clock, "host connected", force=True)
                if await self._read_until(stop, client, publish, clock):
                    # A clean disconnect drops the will, so say offline ourselves.
                    await client.publish(state, encode_state(False, born_ms), qos=1, retain=True)
            except aiomqtt.MqttError as exc:
                raise ConnectError(f"broker {self.device.address}: {exc}") from exc

    @contextlib.asynccontextmanager
    async def _client(self, born_ms: int) -> AsyncIterator[aiomqtt.Client]:
        d = self.device
        will = aiomqtt.Will(
            state_topic(d.host_id), encode_state(False, born_ms), qos=1, retain=True
        )
        client = aiomqtt.Client(
            d.host,
            d.port,
            username=d.username,
            password=self._password,
            identifier=f"{d.host_id}-{d.name}-{uuid.uuid4().hex[:8]}",
            logger=log,
            will=will,
            timeout=d.timeout_s,
            keepalive=d.keepalive_s,
            tls_context=_tls_context(d),
            max_queued_incoming_messages=INCOMING_QUEUE,
        )
        try:
            async with asyncio.timeout(d.timeout_s + _CONNECT_MARGIN_S):
                await client.__aenter__()
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise ConnectError(f"cannot connect to broker {d.address}: {exc or 'timeout'}") from exc
        try:
            yield client
        finally:
            self.stats.connected = False
            with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
                async with asyncio.timeout(d.timeout_s):
                    await client.__aexit__(None, None, None)

    async def _read_until(
        self, stop: asyncio.Event, client: aiomqtt.Client, publish: Publish, clock: Clock
    ) -> bool:
        """Handle messages until ``stop`` (True) or the connection breaks (raises)."""
        reader = asyncio.create_task(self._read(client, publish, clock))
        stopper = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({reader, stopper}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            reader.cancel()
            stopper.cancel()
            await asyncio.gather(reader, stopper, return_exceptions=True)
        error = None if reader.cancelled() else reader.exception()
        if error is not None:
            raise error
        return stop.is_set()

    async def _read(self, client: aiomqtt.Client, publish: Publish, clock: Clock) -> None:
        async for message in client.messages:
            await self._on_message(client, message, publish, clock)
        raise aiomqtt.MqttError("message stream ended")

    def _come_up(self, clock: Clock) -> None:
        self.stats.connected = True
        self.session.reset()
        self._rebirth_asked_at = None
        if self._down:
            log.info("Sparkplug %s: broker %s reachable again", self.name, self.device.address)
        self._down = False
        self._record(clock(), "out", state_topic(self.device.host_id), 0, "STATE online")

    async def _go_down(self, exc: ConnectError, publish: Publish, clock: Clock) -> None:
        self.stats.last_error = str(exc)
        if self._down:
            return
        self._down = True
        log.warning("Sparkplug %s down: %s", self.name, exc)
        batch = self.session.lost(clock())
        if len(batch):
            await publish(batch)

    # -- messages ---------------------------------------------------------------------

    async def _on_message(
        self, client: aiomqtt.Client, message: aiomqtt.Message, publish: Publish, clock: Clock
    ) -> None:
        topic = message.topic.value
        data = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        now = clock()
        if len(data) > self.device.max_payload_bytes:
            self.stats.oversized += 1
            self._record(now, "in", topic, len(data), "dropped: over max_payload_bytes")
            return
        outcome = self.session.handle(topic, bytes(data), now)
        self._record(now, "in", topic, len(data), outcome.rebirth or "ok")
        if self.stats.births != self._births_seen:
            self._births_seen = self.stats.births
            self._rebirth_asked_at = None
        if outcome.batch is not None and len(outcome.batch):
            await publish(outcome.batch)
        if outcome.rebirth is not None:
            await self._ask_rebirth(client, clock, outcome.rebirth)

    async def _ask_rebirth(
        self, client: aiomqtt.Client, clock: Clock, reason: str, *, force: bool = False
    ) -> None:
        """Send ``Node Control/Rebirth`` unless a request is outstanding (no birth since)
        and younger than ``rebirth_interval_s``."""
        asked = self._rebirth_asked_at
        if not force and asked is not None and time.monotonic() - asked < self._rebirth_interval_s:
            return
        d = self.device
        topic = edge_topic(d.group_id, MessageType.NCMD, d.edge_node_id)
        now = clock()
        await client.publish(topic, encode_rebirth_request(ts_ms=now // 1_000_000), qos=0)
        self._rebirth_asked_at = time.monotonic()
        self.stats.rebirth_requests += 1
        self._record(now, "out", topic, 0, f"rebirth: {reason}")
        if not force:
            log.info("Sparkplug %s: asked for a rebirth (%s)", self.name, reason)

    def _record(self, ts_ns: int, direction: str, topic: str, size: int, note: str) -> None:
        self._recent.append(MessageRecord(ts_ns, direction, topic, size, note))


def _password(device: SparkplugDevice) -> str | None:
    if device.password_env is None:
        return None
    value = os.environ.get(device.password_env)
    if value is None:
        raise ConfigError(f"device {device.name}: variable {device.password_env} is not set")
    return value


def _tls_context(device: SparkplugDevice) -> ssl.SSLContext | None:
    if not device.tls:
        return None
    try:
        return ssl.create_default_context(cafile=device.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"device {device.name}: cannot load CA {device.ca_file}: {exc}") from exc


def build_sparkplug_drivers(
    site: SiteFile,
    tag_ids: Mapping[str, int],
    *,
    max_backoff_s: float = 30.0,
    rebirth_interval_s: float = 5.0,
) -> list[SparkplugHostDriver]:
    """One host driver per Sparkplug B device serving at least one tag with a ``sparkplug``
    address. ``tag_ids`` maps each tag's Unified Namespace path to its storage id."""
    return [
        SparkplugHostDriver(
            d, points, max_backoff_s=max_backoff_s, rebirth_interval_s=rebirth_interval_s
        )
        for d, points in device_points(site, tag_ids, SparkplugDevice)
    ]
