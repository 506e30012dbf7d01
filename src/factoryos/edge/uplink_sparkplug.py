"""The MQTT Sparkplug B uplink: the gateway is one edge node, its tags are the node's metrics.

Metric names are the tags' UNS paths and aliases the gateway's tag ids, so the NBIRTH tells a
host which path each alias is, and every NDATA after it carries only aliases. Data goes with
QoS 1: :meth:`SparkplugUplink.send` returns once the broker acknowledged every payload of the
record (PUBACK), and only then does the gateway ack its outbox. A record that fails half way
is sent again whole; the platform's idempotent write on (tag, ts) stores it once.

Primary host (Sparkplug 3.0): with ``primary_host_id`` set, a second connection watches that
host's STATE and the node publishes only while the host is online. When it goes offline the
node says NDEATH and disconnects, and the next send connects again with a fresh NBIRTH. So a
birth always reaches a subscribed host and nothing is published that no host would read; the
outbox holds the data meanwhile.

The NBIRTH also declares the metric :data:`~factoryos.bus.sparkplug_ingest.STORE_FORWARD`
(no value: its presence is the declaration). It tells the platform that this node replays
everything it polls while disconnected and marks its own holes, so its deaths and the values
repeated in its births are not data.
"""

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import Awaitable, Callable, Mapping

import aiomqtt

from factoryos.bus.sparkplug_ingest import STORE_FORWARD
from factoryos.connect.errors import ConnectError
from factoryos.connect.mqtt_client import Backoff, BrokerSettings, connected
from factoryos.connect.sparkplug_b import SparkplugDecodeError, decode_state, state_topic
from factoryos.edge.config import SparkplugUplinkConfig
from factoryos.edge.errors import GatewayConfigError, UplinkError
from factoryos.edge.sparkplug_node import SparkplugEdgeNode
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile

log = logging.getLogger(__name__)

_FIRST_BACKOFF_S = 0.25
_STATE_QUEUE = 16  # STATE messages of one host: a few per session


class SparkplugUplink:
    """Implements the gateway's ``Uplink`` as a Sparkplug B edge node.

    ``path_of`` maps the gateway's tag ids to UNS paths (the metric names); units come from
    the site file. Connects on the first send.
    """

    def __init__(
        self,
        config: SparkplugUplinkConfig,
        *,
        gateway: str,
        site: SiteFile,
        path_of: Mapping[int, str],
    ) -> None:
        self.config = config
        self.edge_node_id = config.edge_node_id or gateway
        self.broker = _broker_settings(config, gateway)
        unit_of = {ref.path: ref.tag.unit for ref in site.tags() if ref.tag.unit}
        metrics = dict(path_of)
        metrics[max(path_of, default=0) + 1] = STORE_FORWARD  # an alias no tag uses
        self.node = SparkplugEdgeNode(
            config.host,
            config.port,
            config.group_id,
            self.edge_node_id,
            metrics=metrics,
            units={i: unit_of[p] for i, p in path_of.items() if p in unit_of},
            bdseq_path=config.bdseq_path,
            username=config.username,
            password=self.broker.password,
            tls_context=_tls_context(config),
            data_qos=1,
            timeout_s=config.timeout_s,
            keepalive_s=config.keepalive_s,
            max_metrics_per_payload=config.max_metrics_per_payload,
            max_backoff_s=config.max_backoff_s,
        )
        self._lock = asyncio.Lock()  # a send and a host-offline close never interleave
        self._host = (
            None
            if config.primary_host_id is None
            else HostWatch(
                self.broker, config.primary_host_id, self._host_went_offline, config.max_backoff_s
            )
        )

    @property
    def address(self) -> str:
        return f"{self.broker.address} spBv1.0/{self.config.group_id}/{self.edge_node_id}"

    @property
    def host_online(self) -> bool:
        """Whether data may go out: the primary host is online (or none is configured)."""
        return self._host is None or self._host.online

    async def send(self, seqs: range, batch: SampleBatch) -> None:
        """Publish the record(s) ``seqs`` as NDATA and wait for the broker's PUBACKs.

        Raises :class:`UplinkError` when the broker is unreachable or the primary host is not
        online; the gateway retries the same record later.
        """
        async with self._lock:
            if self._host is not None:
                if self._host.start():  # the first send: give the retained STATE a moment
                    with contextlib.suppress(TimeoutError):
                        async with asyncio.timeout(self.config.timeout_s):
                            await self._host.until_online()
                if not self._host.online:
                    raise UplinkError(
                        f"{self.address}: primary host {self._host.host_id} is not online"
                    )
            await self.node.send(seqs, batch)

    async def close(self) -> None:
        """NDEATH, disconnect, stop watching the host."""
        if self._host is not None:
            await self._host.stop()
        async with self._lock:
            await self.node.close()

    async def _host_went_offline(self) -> None:
        async with self._lock:
            await self.node.close()


class HostWatch:
    """Follows a host application's STATE (``spBv1.0/STATE/<host_id>``) on its own
    connection; ``online`` is False while it is offline, unknown or the broker unreachable.

    A STATE older than the newest one seen (a late will of an earlier session) is ignored.
    ``on_offline`` runs on each online → offline change.
    """

    def __init__(
        self,
        broker: BrokerSettings,
        host_id: str,
        on_offline: Callable[[], Awaitable[None]],
        max_backoff_s: float,
    ) -> None:
        self.broker = broker
        self.host_id = host_id
        self.online = False
        self._online = asyncio.Event()
        self._topic = state_topic(host_id)
        self._on_offline = on_offline
        self._backoff = Backoff(_FIRST_BACKOFF_S, max(max_backoff_s, _FIRST_BACKOFF_S))
        self._newest_ms = -1
        self._task: asyncio.Task[None] | None = None
        self._broker_down = False
        self._logged_bad = False

    def start(self) -> bool:
        """Start watching (once); True if this call started it."""
        if self._task is not None:
            return False
        self._task = asyncio.create_task(self._run(), name=f"sparkplug-state-{self.host_id}")
        return True

    async def until_online(self) -> None:
        await self._online.wait()

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self) -> None:
        while True:
            try:
                async with connected(self.broker, log, max_queued=_STATE_QUEUE) as client:
                    await client.subscribe(self._topic, qos=1)
                    self._up()
                    async for message in client.messages:
                        await self._on_message(message)
            except (ConnectError, aiomqtt.MqttError) as exc:
                await self._down(exc)
            await asyncio.sleep(self._backoff.failed())

    def _up(self) -> None:
        self._backoff.reset()
        if self._broker_down:
            log.info("STATE of %s: broker %s reachable again", self.host_id, self.broker.address)
        self._broker_down = False

    async def _down(self, exc: Exception) -> None:
        if not self._broker_down:
            log.warning("STATE of %s: broker %s lost: %s", self.host_id, self.broker.address, exc)
        self._broker_down = True
        await self._set(False)

    async def _on_message(self, message: aiomqtt.Message) -> None:
        data = message.payload if isinstance(message.payload, bytes | bytearray) else b""
        try:
            state = decode_state(bytes(data))
        except SparkplugDecodeError as exc:
            if not self._logged_bad:
                self._logged_bad = True
                log.warning("%s: ignored: %s", self._topic, exc)
            return
        if state.timestamp_ms < self._newest_ms:
            return
        self._newest_ms = state.timestamp_ms
        await self._set(state.online)

    async def _set(self, online: bool) -> None:
        if online == self.online:
            return
        self.online = online
        if online:
            self._online.set()
        else:
            self._online.clear()
        log.info("primary host %s is %s", self.host_id, "online" if online else "offline")
        if not online:
            await self._on_offline()


def _broker_settings(config: SparkplugUplinkConfig, gateway: str) -> BrokerSettings:
    password = None
    if config.password_env is not None:
        password = os.environ.get(config.password_env)
        if password is None:
            raise GatewayConfigError(
                f"gateway {gateway}: uplink.password_env: variable {config.password_env} is not set"
            )
    return BrokerSettings(
        host=config.host,
        port=config.port,
        username=config.username,
        password=password,
        tls=config.tls,
        ca_file=config.ca_file,
        keepalive_s=config.keepalive_s,
        timeout_s=config.timeout_s,
    )


def _tls_context(config: SparkplugUplinkConfig) -> ssl.SSLContext | None:
    if not config.tls:
        return None
    try:
        return ssl.create_default_context(cafile=config.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise GatewayConfigError(f"uplink.ca_file: cannot load {config.ca_file}: {exc}") from exc
