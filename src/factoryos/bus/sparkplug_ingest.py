"""Sparkplug B on the platform side: every edge node of a group onto the InProcessBus.

:class:`SparkplugIngestSource` is a Sparkplug B host application for one group. Each edge
node gets a :class:`~factoryos.connect.sparkplug_b.NodeSession` built from its NBIRTH: the
metric names the platform knows as UNS paths become points (their platform tag ids); other
names are counted and logged once per node. Each NDATA payload becomes one SampleBatch on
the bus, and the source awaits the bus, so a slow ingest slows the reader (back-pressure).
A seq gap, or data before a birth, gets the node a rebirth request (at most one per
``rebirth_interval_s`` until a birth answers).

Deaths: an NDEATH gives BAD NaN for that node's tags at the time it arrives. A node that
declares :data:`STORE_FORWARD` in its NBIRTH (the FactoryOS gateway) replays everything it
polls while disconnected and marks its own holes, so its deaths give no BAD samples and the
values its births repeat are not stored again; only its NDATA is data.

Session: STATE online (retained, QoS 1) once subscribed, with a will of offline carrying the
same timestamp; STATE offline on a clean stop. The MQTT session is persistent
(``clean_session`` False, client id ``<host_id>-<group_id>``, QoS 1 subscriptions), so the
broker queues QoS 1 messages while the platform reconnects, and node sessions are kept across
a reconnect: the queued messages continue their seq. A reconnect that lost messages shows as
a seq gap and gets a rebirth. When the broker is lost, nodes that do not store and forward
get BAD NaN for their tags, as their data of that time is gone.
"""

import asyncio
import dataclasses
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import aiomqtt

from factoryos.bus.errors import BusError
from factoryos.bus.inprocess import InProcessBus
from factoryos.connect.errors import ConnectError
from factoryos.connect.mqtt_client import Backoff, BrokerSettings, connected
from factoryos.connect.sparkplug_b import (
    BDSEQ,
    NAMESPACE,
    EdgeTopic,
    MessageType,
    NodeSession,
    PointSpec,
    SparkplugDecodeError,
    SparkplugStats,
    decode_payload,
    edge_topic,
    encode_rebirth_request,
    encode_state,
    is_id,
    parse_topic,
    state_topic,
)
from factoryos.model.samples import SampleBatch

log = logging.getLogger(__name__)

STORE_FORWARD = "Node Info/Store and Forward"
"""A metric an edge node declares in its NBIRTH when it replays what it polled while
disconnected: the platform then reads only its NDATA as data."""

Clock = Callable[[], int]

_RESERVED_PREFIXES = ("Node Control/", "Node Info/", "Properties/")
_FIRST_BACKOFF_S = 0.5
_QUIET_S = 0.2  # on stop: no message for this long means the nodes have stopped sending


@dataclass
class SparkplugIngestStats(SparkplugStats):
    """The host session's protocol counters (summed over nodes) and the source's own."""

    nodes: int = 0
    unknown_metrics: int = 0
    """Metric names in births that are no tag of the platform (their data is dropped)."""
    dropped_nodes: int = 0
    """Messages of nodes beyond ``max_nodes`` (ignored)."""
    dropped_messages: int = 0
    """Messages dropped because the incoming queue was full (then seen as a seq gap)."""
    batches: int = 0


@dataclass
class _Node:
    session: NodeSession
    store_forward: bool = False
    unknown_names: frozenset[str] = frozenset()
    rebirth_asked_at: float | None = None  # monotonic; None: no request outstanding


class SparkplugIngestSource:
    """Host application for every edge node of ``group_id``; publishes their data on ``bus``.

    ``tag_ids`` maps UNS path (the metric name) → platform tag id.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        group_id: str,
        *,
        bus: InProcessBus,
        tag_ids: Mapping[str, int],
        host_id: str = "factoryos-platform",
        qos: int = 1,
        max_nodes: int = 10_000,
        max_queued: int = 10_000,
        rebirth_interval_s: float = 5.0,
        max_backoff_s: float = 10.0,
        drain_s: float = 2.0,
        clock: Clock = time.time_ns,
    ) -> None:
        if not (is_id(group_id) and is_id(host_id)):
            raise BusError(f"sparkplug ingest: group {group_id!r} and host {host_id!r} need ids")
        if qos not in (0, 1) or max_nodes < 1 or max_queued < 1 or rebirth_interval_s <= 0:
            raise BusError("sparkplug ingest: need qos 0 or 1, max_nodes, max_queued >= 1")
        client_id = broker.client_id or f"{host_id}-{group_id}"
        self.broker = dataclasses.replace(broker, client_id=client_id)
        self.group_id, self.host_id = group_id, host_id
        self.stats = SparkplugIngestStats()
        self._bus = bus
        self._tag_ids = tag_ids
        self._qos = qos
        self._max_nodes = max_nodes
        self._max_queued = max_queued
        self._rebirth_interval_s = rebirth_interval_s
        self._backoff = Backoff(_FIRST_BACKOFF_S, max(max_backoff_s, _FIRST_BACKOFF_S))
        self._clock = clock
        self._nodes: dict[str, _Node] = {}
        self._down = False
        self._busy = False
        self._drain_s = drain_s
        self._ready = asyncio.Event()

    @property
    def nodes(self) -> tuple[str, ...]:
        """Edge node ids heard from."""
        return tuple(self._nodes)

    def store_forward(self, edge_node_id: str) -> bool:
        """Whether the node's last NBIRTH declared :data:`STORE_FORWARD`."""
        node = self._nodes.get(edge_node_id)
        return node is not None and node.store_forward

    async def wait_ready(self) -> None:
        """Return once subscribed and STATE online is published."""
        await self._ready.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Hold the host session until ``stop``; reconnect with capped back-off."""
        while not stop.is_set():
            try:
                await self._session(stop)
            except (ConnectError, aiomqtt.MqttError) as exc:
                await self._go_down(exc)
            if not stop.is_set():
                await _sleep_unless(stop, self._backoff.failed())
        self.stats.connected = False

    # -- connection -------------------------------------------------------------------

    async def _session(self, stop: asyncio.Event) -> None:
        born_ms = self._clock() // 1_000_000
        state = state_topic(self.host_id)
        will = aiomqtt.Will(state, encode_state(False, born_ms), qos=1, retain=True)
        async with connected(
            self.broker,
            log,
            max_queued=self._max_queued,
            on_drop=self._count_drop,
            will=will,
            clean_session=False,
        ) as client:
            await client.subscribe(f"{NAMESPACE}/{self.group_id}/#", qos=self._qos)
            await client.publish(state, encode_state(True, born_ms), qos=1, retain=True)
            self._come_up()
            reader = asyncio.create_task(self._read(client))
            stopping = asyncio.ensure_future(stop.wait())
            try:
                await _first(reader, stopping)
                if reader.done():
                    reader.result()  # raises why the connection ended
                # A clean disconnect drops the will: say offline ourselves.
                await client.publish(state, encode_state(False, born_ms), qos=1, retain=True)
                await self._drain(client, reader)
            finally:
                for task in (reader, stopping):
                    task.cancel()
                await asyncio.gather(reader, stopping, return_exceptions=True)
        self._ready.clear()

    async def _drain(self, client: aiomqtt.Client, reader: "asyncio.Task[None]") -> None:
        """On stop, after STATE offline: handle what already arrived, as the client acked
        it on arrival. Host-aware nodes stop sending on the offline; others may not, so this
        ends once nothing arrived for ``_QUIET_S``, or after ``drain_s``."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._drain_s
        quiet_since: float | None = None
        while not reader.done() and loop.time() < deadline:
            if len(client.messages) or self._busy:
                quiet_since = None
            elif quiet_since is None:
                quiet_since = loop.time()
            elif loop.time() - quiet_since >= _QUIET_S:
                return
            await asyncio.sleep(_QUIET_S / 10)

    def _come_up(self) -> None:
        self.stats.connected = True
        self._backoff.reset()
        self._ready.set()
        if self._down:
            log.info("sparkplug ingest %s: broker %s back", self.group_id, self.broker.address)
        else:
            log.info("sparkplug ingest %s: host %s online", self.group_id, self.host_id)
        self._down = False

    async def _go_down(self, exc: Exception) -> None:
        self.stats.connected = False
        self.stats.last_error = str(exc)
        self._ready.clear()
        if self._down:
            return
        self._down = True
        log.warning("sparkplug ingest %s: broker lost: %s", self.group_id, exc)
        now = self._clock()
        for node in self._nodes.values():
            if node.session.born and not node.store_forward:
                await self._publish(node.session.lost(now))

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            data = message.payload if isinstance(message.payload, bytes | bytearray) else b""
            self._busy = True
            try:
                await self._on_message(client, message.topic.value, bytes(data))
            finally:
                self._busy = False
        raise aiomqtt.MqttError("message stream ended")

    def _count_drop(self) -> None:
        self.stats.dropped_messages += 1

    # -- messages ---------------------------------------------------------------------

    async def _on_message(self, client: aiomqtt.Client, topic: str, data: bytes) -> None:
        try:
            parsed = parse_topic(topic)
        except SparkplugDecodeError:
            self.stats.decode_errors += 1
            return
        if not isinstance(parsed, EdgeTopic) or parsed.type in (MessageType.NCMD, MessageType.DCMD):
            return
        node = self._node(parsed, data)
        if node is None:
            return
        now = self._clock()
        outcome = node.session.handle(topic, data, now)
        if outcome.batch is not None and _is_data(parsed.type, node):
            await self._publish(outcome.batch)
        if outcome.rebirth is not None:
            await self._ask_rebirth(client, parsed.edge_node_id, node, outcome.rebirth)

    def _node(self, parsed: EdgeTopic, data: bytes) -> _Node | None:
        """The node's session; a new one from each NBIRTH (its metrics may have changed)."""
        name = parsed.edge_node_id
        node = self._nodes.get(name)
        if node is None and len(self._nodes) >= self._max_nodes:
            self.stats.dropped_nodes += 1
            return None
        if parsed.type is MessageType.NBIRTH:
            node = self._born(name, data, node)
        elif node is None:  # data before any birth: the session asks for one
            node = _Node(NodeSession(self.group_id, name, None, (), self.stats))
        if name not in self._nodes:
            self.stats.nodes += 1
        self._nodes[name] = node
        return node

    def _born(self, name: str, data: bytes, old: _Node | None) -> _Node:
        try:
            names = [m.name for m in decode_payload(data).metrics if m.name]
        except SparkplugDecodeError:
            names = []  # the session counts the bad payload
        points = [PointSpec(self._tag_ids[n], n) for n in names if n in self._tag_ids]
        unknown = [n for n in names if n not in self._tag_ids and not _reserved(n)]
        if unknown:
            self.stats.unknown_metrics += len(unknown)
            if old is None or set(unknown) - old.unknown_names:
                log.warning(
                    "sparkplug ingest: node %s/%s has %d metrics that are no tag (first %r): "
                    "their data is dropped",
                    self.group_id,
                    name,
                    len(unknown),
                    unknown[0],
                )
        session = NodeSession(self.group_id, name, None, points, self.stats)
        return _Node(session, STORE_FORWARD in names, frozenset(unknown))

    async def _publish(self, batch: SampleBatch) -> None:
        if len(batch):
            await self._bus.publish(batch)
            self.stats.batches += 1

    async def _ask_rebirth(
        self, client: aiomqtt.Client, name: str, node: _Node, reason: str
    ) -> None:
        asked = node.rebirth_asked_at
        if asked is not None and time.monotonic() - asked < self._rebirth_interval_s:
            return
        topic = edge_topic(self.group_id, MessageType.NCMD, name)
        payload = encode_rebirth_request(ts_ms=self._clock() // 1_000_000)
        await client.publish(topic, payload, qos=0)
        node.rebirth_asked_at = time.monotonic()
        self.stats.rebirth_requests += 1
        log.info("sparkplug ingest: asked %s/%s for a rebirth (%s)", self.group_id, name, reason)


def _is_data(kind: MessageType, node: _Node) -> bool:
    """Whether a message's samples are stored: all of them, except a store-and-forward
    node's births (repeated values) and deaths (it replays what it polls meanwhile)."""
    return not (node.store_forward and kind in (MessageType.NBIRTH, MessageType.NDEATH))


def _reserved(name: str) -> bool:
    return name == BDSEQ or name.startswith(_RESERVED_PREFIXES)


async def _first(*futures: "asyncio.Future[Any]") -> None:
    await asyncio.wait(futures, return_when=asyncio.FIRST_COMPLETED)


async def _sleep_unless(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), seconds)
    except TimeoutError:
        return
