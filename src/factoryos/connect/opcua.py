"""OPC UA driver: one subscription per server, one monitored item per tag.

The server samples each tag at its sampling interval (``tag.opcua.sampling_interval_s`` or
the device's), applies the tag's deadband itself (an absolute ``DataChangeFilter``) and
reports changes once per publishing interval. Each publish response becomes one
:class:`SampleBatch`: values scaled, status codes mapped to quality, stamped with the
source timestamp (else the server timestamp, else the receive time).

Connection loss (socket closed, watchdog read failing, subscription ended or silent past
its keep-alive) gives one BAD NaN sample per tag at the moment of loss, logged once; the
driver then reconnects with capped exponential back-off and subscribes again, and the
server's initial report of each tag makes it GOOD again. A tag's first sample after a loss
is never stamped at or before its BAD sample, so the store sees the recovery.

Tags marked ``writable`` take setpoints through :meth:`OpcUaDriver.write`, on the session
the subscription runs on, in the node's own data type (read once per node and cached).
"""

import asyncio
import contextlib
import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from asyncua import ua
from asyncua.client.client import Client
from asyncua.common.ua_utils import data_type_to_variant_type
from asyncua.ua.attribute_ids import AttributeIds
from asyncua.ua.uaerrors._base import UaError

from factoryos.connect.codec import to_engineering
from factoryos.connect.errors import (
    BadStatusError,
    CodecError,
    ConfigError,
    ConnectError,
    DriverError,
    ProtocolError,
    WriteError,
)
from factoryos.connect.opcua_samples import Notifications, decode, quality_of, to_variant
from factoryos.connect.opcua_session import (
    LostCallback,
    close_client,
    open_client,
    translate,
)
from factoryos.connect.points import Point, device_points
from factoryos.connect.polling import (
    Clock,
    PointColumns,
    Publish,
    RequestLog,
    RequestRecord,
    raw_for_write,
)
from factoryos.model.devices import OpcUaDevice
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import TS_DTYPE, SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.tags import Tag

log = logging.getLogger(__name__)

KEEPALIVE_S = 5.0  # the server sends an empty publish at least this often
MAX_QUEUE_SIZE = 100  # most values a monitored item buffers between two publishes
_NEVER = np.iinfo(np.int64).min


OpcUaPoint = Point  # the name it had before the drivers shared one


@dataclass
class OpcUaStats:
    """Counters of one driver."""

    connects: int = 0
    losses: int = 0
    failed_attempts: int = 0
    batches: int = 0
    samples: int = 0
    bad_items: int = 0  # monitored items the server refused at the last subscribe
    last_error: str | None = None
    connected: bool = False


def queue_size(sampling_s: float, publishing_s: float) -> int:
    """Values a monitored item keeps between publishes, so none sampled is dropped."""
    if sampling_s <= 0:
        return MAX_QUEUE_SIZE
    return max(1, min(MAX_QUEUE_SIZE, math.ceil(publishing_s / sampling_s)))


def _item_request(
    handle: int, node_id: ua.NodeId, tag: Tag, device: OpcUaDevice
) -> ua.MonitoredItemCreateRequest:
    assert tag.opcua is not None
    sampling = tag.opcua.sampling_interval_s
    sampling_s = device.sampling_interval_s if sampling is None else sampling
    params = ua.MonitoringParameters(
        ClientHandle=handle,
        SamplingInterval=sampling_s * 1000.0,
        QueueSize=queue_size(sampling_s, device.publishing_interval_s),
        DiscardOldest=True,
    )
    if tag.deadband is not None:
        # The server compares raw values: the engineering deadband divided by the scale.
        params.Filter = ua.DataChangeFilter(
            Trigger=ua.DataChangeTrigger.StatusValue,
            DeadbandType=int(ua.DeadbandType.Absolute),
            DeadbandValue=tag.deadband / abs(tag.scale),
        )
    return ua.MonitoredItemCreateRequest(
        ItemToMonitor=ua.ReadValueId(NodeId=node_id, AttributeId=AttributeIds.Value),
        MonitoringMode=ua.MonitoringMode.Reporting,
        RequestedParameters=params,
    )


def _node_id(device: OpcUaDevice, tag: Tag) -> ua.NodeId:
    if tag.opcua is None:
        raise ConfigError(f"device {device.name}: tag {tag.name} has no opcua address")
    try:
        return ua.NodeId.from_string(tag.opcua.node_id)
    except (ValueError, UaError) as exc:
        raise ConfigError(
            f"device {device.name}: tag {tag.name}: node_id {tag.opcua.node_id!r} is not an "
            f"OPC UA node id (e.g. ns=2;s=Line1.Power or ns=3;i=1001): {exc}"
        ) from exc


class OpcUaDriver:
    """Subscribes to the tags of one OPC UA server and publishes their samples."""

    def __init__(
        self,
        device: OpcUaDevice,
        points: Sequence[Point],
        *,
        max_backoff_s: float = 30.0,
        watchdog_s: float = 1.0,
        max_queued: int = 64,
    ) -> None:
        if max_backoff_s <= 0 or watchdog_s <= 0 or max_queued < 1:
            raise ConfigError(f"device {device.name}: back-off, watchdog and queue must be > 0")
        self.device = device
        self.points = tuple(points)
        self.stats = OpcUaStats()
        self._max_backoff_s = max_backoff_s
        self._watchdog_s = watchdog_s
        node_ids = [_node_id(device, p.tag) for p in self.points]
        self._index = {p.tag_id: i for i, p in enumerate(self.points)}
        self._variants: dict[int, ua.VariantType] = {}  # point index → its node's type
        self._requests = [
            _item_request(i + 1, nid, p.tag, device)
            for i, (nid, p) in enumerate(zip(node_ids, self.points, strict=True))
        ]
        self._columns = PointColumns(self.points)
        self._last_ts = np.full(len(self.points), _NEVER, dtype=TS_DTYPE)
        self._floor = np.full(len(self.points), _NEVER, dtype=TS_DTYPE)  # the last loss, per tag
        self._recent = RequestLog()
        self._queue: asyncio.Queue[Notifications] = asyncio.Queue(maxsize=max_queued)
        self._wakeup = asyncio.Event()
        self._client: Client | None = None
        self._generation = 0  # bumps per connection: callbacks of an old one are ignored
        self._lost: DriverError | None = None
        self._last_publish = 0.0
        self._stale_after_s = 2 * KEEPALIVE_S + device.timeout_s
        self._down = False
        self._failing: set[int] = set()
        self._clock: Clock = time.time_ns

    @property
    def name(self) -> str:
        return self.device.name

    def recent(self) -> list[RequestRecord]:
        """The last service calls and connection events, oldest first."""
        return self._recent.records()

    # -- running ----------------------------------------------------------------------

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = time.time_ns) -> None:
        """Subscribe and publish batches until ``stop`` is set, reconnecting after a loss.

        ``publish`` is awaited inline; while it blocks, the server buffers the changes
        (up to each item's queue). Raises :class:`ConfigError` for settings that cannot
        work (a password variable that is not set, a missing certificate file).
        """
        self._clock = clock
        watcher = asyncio.create_task(self._wake_on(stop))
        backoff = min(1.0, self._max_backoff_s)
        try:
            while not stop.is_set():
                try:
                    await self.connect()
                except ConfigError:
                    raise
                except DriverError as exc:
                    await self._go_down(exc, publish)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), backoff)
                    backoff = min(2 * backoff, self._max_backoff_s)
                    continue
                backoff = min(1.0, self._max_backoff_s)
                lost = await self._pump(publish, stop)
                if lost is not None:
                    self._record(self._clock(), "connection", str(lost), time.monotonic())
                    await self._go_down(lost, publish)
        finally:
            watcher.cancel()
            await self.close()

    async def connect(self) -> None:
        """Open a session and subscribe every tag; raises a :class:`DriverError` (a
        :class:`SecurityError` when the server refuses our certificate or user)."""
        await self.close()
        self._generation += 1
        generation, self._lost = self._generation, None
        started, ts = time.monotonic(), self._clock()
        try:
            client = await open_client(
                self.device, watchdog_s=self._watchdog_s, on_lost=self._lost_callback(generation)
            )
        except DriverError as exc:
            self._record(ts, f"connect {self.device.endpoint}", str(exc), started)
            raise
        self._record(ts, f"connect {self.device.endpoint}", "ok", started)
        started = time.monotonic()
        try:
            await asyncio.wait_for(self._subscribe(client, generation), self.device.timeout_s)
        except (Exception, TimeoutError) as exc:
            await close_client(client, self.device.timeout_s)
            error = translate(exc, self.device, "subscribe")
            self._record(ts, f"subscribe {len(self.points)} items", str(error), started)
            raise error from exc
        self._record(ts, f"subscribe {len(self.points)} items", "ok", started)
        self._variants.clear()  # the server may have been reconfigured while we were away
        self._client = client
        self.stats.connects += 1
        self.stats.connected = True
        self._come_up()

    async def close(self) -> None:
        """Close the session; callbacks still in flight are ignored from now on."""
        self._generation += 1
        client, self._client = self._client, None
        self.stats.connected = False
        if client is not None:
            await close_client(client, self.device.timeout_s)

    async def _wake_on(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._wakeup.set()

    async def _pump(self, publish: Publish, stop: asyncio.Event) -> DriverError | None:
        """Publish what arrives until stop (None) or a loss (its error)."""
        while True:
            await self._drain(publish)
            if stop.is_set():
                return None
            if self._lost is not None:
                return self._lost
            silent = time.monotonic() - self._last_publish
            if silent > self._stale_after_s:
                return ConnectError(
                    f"device {self.name} ({self.device.endpoint}): no publish response for "
                    f"{silent:.1f} s"
                )
            self._wakeup.clear()
            if self._queue.empty():
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), self._stale_after_s / 4)

    async def _drain(self, publish: Publish) -> None:
        while not self._queue.empty():
            batch = self._samples(self._queue.get_nowait())
            if len(batch):
                self.stats.batches += 1
                self.stats.samples += len(batch)
                await publish(batch)

    # -- subscription -----------------------------------------------------------------

    async def _subscribe(self, client: Client, generation: int) -> None:
        d = self.device
        keepalive = max(1, math.ceil(KEEPALIVE_S / d.publishing_interval_s))
        params = ua.CreateSubscriptionParameters(
            RequestedPublishingInterval=d.publishing_interval_s * 1000.0,
            RequestedLifetimeCount=10 * keepalive,
            RequestedMaxKeepAliveCount=keepalive,
            MaxNotificationsPerPublish=10_000,
            PublishingEnabled=True,
            Priority=0,
        )
        self._last_publish = time.monotonic()
        result = await client.uaclient.create_subscription(
            params, self._publish_callback(generation)
        )
        revised_s = result.RevisedPublishingInterval / 1000.0
        self._stale_after_s = 2 * revised_s * result.RevisedMaxKeepAliveCount + d.timeout_s
        items = ua.CreateMonitoredItemsParameters(
            SubscriptionId=result.SubscriptionId,
            ItemsToCreate=self._requests,
            TimestampsToReturn=ua.TimestampsToReturn.Both,
        )
        results = await client.uaclient.create_monitored_items(items)
        self._refused([r.StatusCode for r in results])

    def _refused(self, codes: Sequence[ua.StatusCode]) -> None:
        """Log items the server refused (once while they keep failing) and queue a BAD
        sample for each: they cannot be read."""
        bad = [i for i, code in enumerate(codes) if not code.is_good()]
        for i in sorted(set(bad) - self._failing):
            log.warning(
                "device %s: tag %s (node %s) cannot be monitored: %s",
                self.name,
                self.points[i].tag.name,
                self._requests[i].ItemToMonitor.NodeId.to_string(),
                codes[i].name,
            )
        self._failing = set(bad)
        self.stats.bad_items = len(bad)
        if bad:
            n = len(bad)
            status = np.array([codes[i].value for i in bad], dtype=np.uint32)
            notes = Notifications(
                np.array(bad, dtype=np.int64) + 1,
                np.full(n, self._clock(), dtype=TS_DTYPE),
                np.full(n, np.nan),
                status,
            )
            self._queue.put_nowait(notes)

    def _publish_callback(self, generation: int) -> Callable[[ua.PublishResult], Awaitable[None]]:
        async def on_publish(result: ua.PublishResult) -> None:
            if generation != self._generation:
                return
            self._last_publish = time.monotonic()
            items: list[ua.MonitoredItemNotification] = []
            for notification in result.NotificationMessage.NotificationData or ():
                if isinstance(notification, ua.DataChangeNotification):
                    items.extend(notification.MonitoredItems)
                elif isinstance(notification, ua.StatusChangeNotification):
                    self._subscription_ended(generation, notification.Status)
            if items:
                # Blocks the publish loop while we are behind: the server buffers meanwhile.
                await self._queue.put(decode(items, self._clock()))
                self._wakeup.set()

        return on_publish

    def _subscription_ended(self, generation: int, status: ua.StatusCode) -> None:
        if generation == self._generation and self._lost is None and not status.is_good():
            self._lost = ConnectError(
                f"device {self.name} ({self.device.endpoint}): subscription ended: {status.name}"
            )
            self._wakeup.set()

    def _lost_callback(self, generation: int) -> LostCallback:
        async def on_lost(exc: Exception) -> None:
            if generation == self._generation and self._lost is None:
                self._lost = translate(exc, self.device, "connection lost")
                self._wakeup.set()

        return on_lost

    # -- write-back -------------------------------------------------------------------

    async def write(self, tag_id: int, value: float) -> float:
        """Write the engineering ``value`` to the writable tag stored as ``tag_id``, on
        the running subscription's session, in the node's own data type.

        Returns the engineering value the node now holds (an integer type rounds to
        nearest, Float to float32). Raises :class:`WriteError` (nothing sent) for an
        unknown or read-only tag, a value that is not finite or outside the tag's range, or
        a bool that is not 0 or 1; :class:`CodecError` for a value the node's type cannot
        hold; :class:`ConnectError` while not connected; :class:`DriverTimeout` when the
        server does not answer in ``timeout_s``; :class:`BadStatusError` when it refuses
        (BadUserAccessDenied, BadTypeMismatch, BadOutOfRange …).
        """
        index = self._index.get(tag_id)
        if index is None:
            raise WriteError(f"device {self.name}: no tag with id {tag_id}")
        tag = self.points[index].tag
        if not tag.writable:
            raise WriteError(f"device {self.name}: tag {tag.name} is not writable")
        raw = raw_for_write(tag, value)
        client = self._session()
        node_id = self._requests[index].ItemToMonitor.NodeId
        request = f"write {tag.name} ({node_id.to_string()})"
        ts, started = self._clock(), time.monotonic()
        try:
            held = await asyncio.wait_for(
                self._send_write(client, index, raw), self.device.timeout_s
            )
        except DriverError as exc:
            self._record(ts, request, str(exc), started)
            raise
        except (Exception, TimeoutError) as exc:
            error = translate(exc, self.device, request)
            self._record(ts, request, str(error), started)
            raise error from exc
        self._record(ts, request, "ok", started)
        log.info("device %s: wrote %s to tag %s", self.name, value, tag.name)
        return float(to_engineering(np.array([held]), tag.scale, tag.offset)[0])

    def _session(self) -> Client:
        """The running subscription's client; :class:`ConnectError` while there is none."""
        if self._client is None or self._lost is not None:
            last = self._lost or self.stats.last_error
            detail = f"; last error: {last}" if last else " (the driver is not running)"
            raise ConnectError(
                f"device {self.name} ({self.device.endpoint}): not connected, nothing "
                f"written{detail}"
            )
        return self._client

    async def _send_write(self, client: Client, index: int, raw: float) -> float:
        """Write ``raw`` to point ``index``'s node; the raw value it now holds."""
        tag = self.points[index].tag
        node_id = self._requests[index].ItemToMonitor.NodeId
        vtype = await self._variant_type(client, index)
        try:
            variant, held = to_variant(raw, vtype)
        except CodecError as exc:
            raise CodecError(
                f"device {self.name}: tag {tag.name} ({node_id.to_string()}): {exc}"
            ) from exc
        [status] = await client.uaclient.write_attributes([node_id], [ua.DataValue(variant)])
        if not status.is_good():
            raise BadStatusError(self.device, f"write {tag.name} ({node_id.to_string()})", status)
        return held

    async def _variant_type(self, client: Client, index: int) -> ua.VariantType:
        """The built-in type of point ``index``'s node, from its DataType attribute (read
        the first time only: a node does not change type while the server runs)."""
        cached = self._variants.get(index)
        if cached is not None:
            return cached
        node_id = self._requests[index].ItemToMonitor.NodeId
        doing = f"read DataType of {self.points[index].tag.name} ({node_id.to_string()})"
        [dv] = await client.uaclient.read_attributes([node_id], AttributeIds.DataType)
        if dv.StatusCode is not None and not dv.StatusCode.is_good():
            raise BadStatusError(self.device, doing, dv.StatusCode)
        dtype = dv.Value.Value if dv.Value is not None else None
        if not isinstance(dtype, ua.NodeId):
            raise ProtocolError(f"device {self.name}: {doing}: got {dtype!r}, not a NodeId")
        if (
            dtype.NamespaceIndex == 0
            and isinstance(dtype.Identifier, int)
            and dtype.Identifier <= 25
        ):
            vtype = ua.VariantType(dtype.Identifier)
        else:  # a derived type (Duration, an enumeration …): walk up to its built-in type
            vtype = await data_type_to_variant_type(client.get_node(dtype))
        self._variants[index] = vtype
        return vtype

    # -- state ------------------------------------------------------------------------

    async def _go_down(self, exc: DriverError, publish: Publish) -> None:
        """Publish what was received before the loss, then (on the first failure only)
        one BAD NaN sample per tag."""
        await self._drain(publish)
        await self.close()
        self.stats.last_error = str(exc)
        self.stats.failed_attempts += 1
        if self._down:
            return
        log.warning("device %s down: %s", self.name, exc)
        self._down = True
        self.stats.losses += 1
        ts = np.maximum(self._clock(), self._last_ts + 1)
        self._floor = ts.copy()
        self._last_ts = ts.copy()
        n = len(self.points)
        batch = SampleBatch(
            self._columns.tag_ids.copy(),
            ts,
            np.full(n, np.nan),
            np.full(n, Quality.BAD, QUALITY_DTYPE),
        )
        if n:
            await publish(batch)

    def _come_up(self) -> None:
        if self._down:
            log.info("device %s recovered (%d attempts)", self.name, self.stats.failed_attempts)
        self._down = False
        self.stats.failed_attempts = 0

    def _samples(self, notes: Notifications) -> SampleBatch:
        idx = notes.handles - 1
        known = (idx >= 0) & (idx < len(self.points))
        if not known.all():
            idx = idx[known]
            notes = Notifications(
                idx + 1, notes.ts[known], notes.values[known], notes.status[known]
            )
        c = self._columns
        quality = quality_of(notes.status)
        values = notes.values * c.scale[idx] + c.offset[idx]
        quality[np.isnan(values)] = Quality.BAD  # no number (a string, an array): unreadable
        values[quality == Quality.BAD] = np.nan
        quality = c.grade(values, quality, idx)
        ts = np.maximum(notes.ts, self._floor[idx] + 1)
        np.maximum.at(self._last_ts, idx, ts)
        return SampleBatch(c.tag_ids[idx], ts, values, quality)

    def _record(self, ts_ns: int, request: str, outcome: str, started: float) -> None:
        self._recent.record(ts_ns, request, outcome, started)


def build_opcua_drivers(
    site: SiteFile,
    tag_ids: Mapping[str, int],
    *,
    max_backoff_s: float = 30.0,
    watchdog_s: float = 1.0,
) -> list[OpcUaDriver]:
    """One driver per OPC UA device serving at least one tag with an ``opcua`` address.

    ``tag_ids`` maps each tag's Unified Namespace path to its storage id.
    """
    return [
        OpcUaDriver(d, points, max_backoff_s=max_backoff_s, watchdog_s=watchdog_s)
        for d, points in device_points(site, tag_ids, OpcUaDevice)
    ]
