"""Sparkplug B 3.0 edge node: publishes FactoryOS tags as metrics of one node and its devices.

The gateway's MQTT uplink. :meth:`SparkplugEdgeNode.publish_batch` is the entry: it connects
when needed, then sends the batch as NDATA (and DDATA for device tags), many samples per
payload, each metric with its own timestamp and, after the birth, only its alias (the tag id).

Session rules: the connection's will is an NDEATH carrying ``bdSeq``, which goes up by one
(mod 256) per connection and survives restarts when ``bdseq_path`` is given; the NBIRTH
right after connecting repeats that ``bdSeq``, declares every metric (name, alias, Double,
``engUnit`` property, last known value) with seq 0, and each DBIRTH, NDATA and DDATA after it
takes the next seq (mod 256). An NCMD ``Node Control/Rebirth`` = true gets a new NBIRTH and
DBIRTHs. :meth:`close` publishes the NDEATH itself, since a clean disconnect drops the will.

Quality: a BAD sample goes out with ``is_null`` and the property ``Quality`` = 0, an
UNCERTAIN one with its value and ``Quality`` = 64 (OPC DA codes; GOOD carries no property).

NDATA goes with QoS 0 as the specification says; the gateway may ask for ``data_qos=1`` so
that :meth:`send` returns only once the broker has the data (what its outbox needs).
"""

import asyncio
import contextlib
import logging
import os
import ssl
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Self

import aiomqtt
import numpy as np
import numpy.typing as npt

from factoryos.connect.sparkplug_b import (
    MessageType,
    MetricDef,
    SparkplugDecodeError,
    SparkplugEncodeError,
    asks_rebirth,
    decode_payload,
    edge_topic,
    encode_birth,
    encode_data,
    encode_node_death,
    is_id,
)
from factoryos.edge.errors import EdgeError, UplinkError
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import SampleBatch

log = logging.getLogger(__name__)

_NS_PER_MS = 1_000_000
_FIRST_BACKOFF_S = 0.25
_CONNECT_MARGIN_S = 1.0
_INCOMING_QUEUE = 100  # commands only: a host sends a few


@dataclass
class EdgeNodeStats:
    payloads: int = 0
    samples: int = 0
    births: int = 0
    rebirth_requests: int = 0
    connects: int = 0
    unknown_tag_samples: int = 0  # samples of tags that are no metric of this node
    invalid_samples: int = 0  # samples before 1970, which Sparkplug cannot carry
    connected: bool = False
    bdseq: int | None = None
    last_error: str | None = None


class _Producer:
    """The node itself (``device_id`` None) or one device: its metrics and last values."""

    def __init__(self, device_id: str | None, metrics: Mapping[int, str], units: Mapping[int, str]):
        self.device_id = device_id
        ids = sorted(metrics)
        self.defs = [MetricDef(metrics[i], i, units.get(i, "")) for i in ids]
        n = len(ids)
        self.values = np.full(n, np.nan)
        self.ts_ms = np.zeros(n, dtype=np.int64)
        self.quality = np.full(n, Quality.BAD, dtype=QUALITY_DTYPE)

    def remember(
        self,
        slots: npt.NDArray[np.intp],
        values: npt.NDArray[np.float64],
        ts_ms: npt.NDArray[np.int64],
        quality: npt.NDArray[np.uint8],
    ) -> None:
        newer = ts_ms >= self.ts_ms[slots]
        self.values[slots[newer]] = values[newer]
        self.ts_ms[slots[newer]] = ts_ms[newer]
        self.quality[slots[newer]] = quality[newer]


class SparkplugEdgeNode:
    """One Sparkplug B edge node on one broker. ``metrics`` maps tag id → metric name of the
    node, ``devices`` device id → (tag id → metric name); a tag id is the metric's alias, so
    each belongs to one of them. Implements the gateway's ``Uplink`` (:meth:`send`)."""

    def __init__(
        self,
        host: str,
        port: int,
        group_id: str,
        edge_node_id: str,
        *,
        metrics: Mapping[int, str],
        units: Mapping[int, str] | None = None,
        devices: Mapping[str, Mapping[int, str]] | None = None,
        bdseq_path: Path | None = None,
        username: str | None = None,
        password: str | None = None,
        tls_context: ssl.SSLContext | None = None,
        data_qos: int = 0,
        timeout_s: float = 5.0,
        keepalive_s: int = 30,
        max_metrics_per_payload: int = 5000,
        max_backoff_s: float = 30.0,
    ) -> None:
        ids = [group_id, edge_node_id, *(devices or {})]
        if not all(is_id(i) for i in ids):
            raise EdgeError(f"Sparkplug ids must be non-empty without / + #: {ids}")
        if data_qos not in (0, 1) or max_metrics_per_payload < 1 or timeout_s <= 0:
            raise EdgeError("need data_qos 0 or 1, max_metrics_per_payload >= 1, timeout_s > 0")
        self.host, self.port = host, port
        self.group_id, self.edge_node_id = group_id, edge_node_id
        self.stats = EdgeNodeStats()
        self._producers = [_Producer(None, metrics, units or {})] + [
            _Producer(d, m, units or {}) for d, m in (devices or {}).items()
        ]
        self._index()
        self._bdseq_path = bdseq_path
        self._bdseq: int | None = None
        self._auth = (username, password)
        self._tls = tls_context
        self._qos = data_qos
        self._timeout_s = timeout_s
        self._keepalive_s = keepalive_s
        self._chunk = max_metrics_per_payload
        self._max_backoff_s = max_backoff_s
        self._backoff_s = 0.0
        self._retry_at = 0.0
        self._client: aiomqtt.Client | None = None
        self._reader: asyncio.Task[None] | None = None
        self._lock = asyncio.Lock()  # one payload at a time, so seq order is wire order
        self._seq = 0
        self._logged_unknown = False

    def _index(self) -> None:
        rows = [
            (d.alias, k, s) for k, p in enumerate(self._producers) for s, d in enumerate(p.defs)
        ]
        rows.sort()
        tag_ids = [r[0] for r in rows]
        if len(set(tag_ids)) != len(tag_ids):
            raise EdgeError("a tag id is a metric of more than one device (or of node and device)")
        self._ids = np.array(tag_ids, dtype=np.int64)
        self._owner = np.array([r[1] for r in rows], dtype=np.intp)
        self._slot = np.array([r[2] for r in rows], dtype=np.intp)

    @property
    def address(self) -> str:
        return f"mqtt://{self.host}:{self.port} {self.group_id}/{self.edge_node_id}"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def start(self) -> None:
        """Connect and publish the births now; raises :class:`UplinkError` if the broker is
        unreachable (``publish_batch`` connects by itself too)."""
        async with self._lock:
            await self._ensure_connected()

    async def send(self, seqs: range, batch: SampleBatch) -> None:
        """The gateway's ``Uplink.send``: publish the outbox record(s) ``seqs``."""
        await self.publish_batch(batch)

    async def publish_batch(self, batch: SampleBatch) -> None:
        """Publish ``batch`` as NDATA/DDATA; raises :class:`UplinkError` (nothing sent of
        the failing payload, the caller retries) when the broker is unreachable."""
        if not len(batch):
            return
        ids = batch.tag_ids.astype(np.int64)
        pos = np.minimum(np.searchsorted(self._ids, ids), max(len(self._ids) - 1, 0))
        known = self._ids[pos] == ids if len(self._ids) else np.zeros(len(ids), dtype=np.bool_)
        valid = batch.ts >= 0
        self._count_dropped(known, valid)
        keep = known & valid
        owner, slot = self._owner[pos[keep]], self._slot[pos[keep]]
        aliases, values, quality = ids[keep], batch.values[keep], batch.quality[keep]
        ts_ms = batch.ts[keep] // _NS_PER_MS
        async with self._lock:
            await self._ensure_connected()
            for k in np.unique(owner).tolist():
                mine = owner == k
                producer = self._producers[k]
                producer.remember(slot[mine], values[mine], ts_ms[mine], quality[mine])
                await self._send_data(
                    producer, aliases[mine], ts_ms[mine], values[mine], quality[mine]
                )

    async def close(self) -> None:
        """Publish NDEATH and disconnect cleanly."""
        async with self._lock:
            await self._drop(say_death=True)

    # -- connection -------------------------------------------------------------------

    async def _ensure_connected(self) -> None:
        if self._client is not None:
            return
        if time.monotonic() < self._retry_at:
            raise UplinkError(f"{self.address}: broker down ({self.stats.last_error})")
        try:
            await self._connect()
        except UplinkError as exc:
            self.stats.last_error = str(exc)
            if self._backoff_s == 0:
                log.warning("Sparkplug edge node %s: %s", self.address, exc)
            self._backoff_s = min(max(2 * self._backoff_s, _FIRST_BACKOFF_S), self._max_backoff_s)
            self._retry_at = time.monotonic() + self._backoff_s
            raise
        if self._backoff_s:
            log.info("Sparkplug edge node %s: broker reachable again", self.address)
        self._backoff_s = 0.0

    async def _connect(self) -> None:
        bdseq = self._next_bdseq()
        now_ms = time.time_ns() // _NS_PER_MS
        will = aiomqtt.Will(
            self._topic(MessageType.NDEATH),
            encode_node_death(ts_ms=now_ms, bdseq=bdseq),
            qos=1,
            retain=False,
        )
        client = aiomqtt.Client(
            self.host,
            self.port,
            username=self._auth[0],
            password=self._auth[1],
            identifier=f"{self.group_id}-{self.edge_node_id}-{uuid.uuid4().hex[:8]}",
            logger=log,
            will=will,
            timeout=self._timeout_s,
            keepalive=self._keepalive_s,
            tls_context=self._tls,
            max_queued_incoming_messages=_INCOMING_QUEUE,
        )
        try:
            async with asyncio.timeout(self._timeout_s + _CONNECT_MARGIN_S):
                await client.__aenter__()
        except (aiomqtt.MqttError, TimeoutError) as exc:
            raise UplinkError(f"cannot connect to {self.address}: {exc or 'timeout'}") from exc
        self._client = client
        self.stats.connects += 1
        try:
            async with asyncio.timeout(self._timeout_s):
                await client.subscribe(self._topic(MessageType.NCMD), qos=1)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            await self._drop(say_death=False)
            raise UplinkError(f"{self.address}: cannot subscribe to NCMD: {exc!r}") from exc
        self._reader = asyncio.create_task(self._read_commands(client), name="sparkplug-ncmd")
        await self._births()
        self.stats.connected = True

    async def _drop(self, *, say_death: bool) -> None:
        """Forget the connection; with ``say_death`` publish the NDEATH first (best effort)."""
        client, self._client = self._client, None
        self.stats.connected = False
        reader, self._reader = self._reader, None
        if reader is not None and reader is not asyncio.current_task():
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader
        if client is None:
            return
        with contextlib.suppress(aiomqtt.MqttError, TimeoutError):
            async with asyncio.timeout(self._timeout_s):
                if say_death and self._bdseq is not None:
                    death = encode_node_death(ts_ms=time.time_ns() // _NS_PER_MS, bdseq=self._bdseq)
                    await client.publish(self._topic(MessageType.NDEATH), death, qos=1)
                await client.__aexit__(None, None, None)

    async def _read_commands(self, client: aiomqtt.Client) -> None:
        try:
            async for message in client.messages:
                data = message.payload
                if not isinstance(data, bytes | bytearray):
                    continue
                try:
                    rebirth = asks_rebirth(decode_payload(bytes(data)))
                except SparkplugDecodeError as exc:
                    log.warning("%s: undecodable NCMD ignored: %s", message.topic.value, exc)
                    continue
                if rebirth:
                    self.stats.rebirth_requests += 1
                    async with self._lock:
                        if self._client is client:
                            await self._births()
        except (aiomqtt.MqttError, UplinkError) as exc:
            log.warning("Sparkplug edge node %s: connection lost: %s", self.address, exc)
            self.stats.last_error = str(exc)
            async with self._lock:
                if self._client is client:  # the next publish reconnects
                    await self._drop(say_death=False)

    # -- payloads ---------------------------------------------------------------------

    async def _births(self) -> None:
        if self._bdseq is None:
            raise UplinkError(f"{self.address}: no bdSeq before the birth")
        now_ms = time.time_ns() // _NS_PER_MS
        self._seq = 0
        for k, p in enumerate(self._producers):
            if k and not p.defs:
                continue
            payload = encode_birth(
                ts_ms=now_ms,
                seq=self._seq if k == 0 else self._next_seq(),
                defs=p.defs,
                values=p.values,
                ts_ms_col=np.where(p.ts_ms > 0, p.ts_ms, now_ms),
                quality=p.quality,
                bdseq=self._bdseq if k == 0 else None,
            )
            kind = MessageType.NBIRTH if k == 0 else MessageType.DBIRTH
            await self._publish(self._topic(kind, p.device_id), payload, qos=0)
        self.stats.births += 1

    async def _send_data(
        self,
        producer: _Producer,
        aliases: npt.NDArray[np.int64],
        ts_ms: npt.NDArray[np.int64],
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
    ) -> None:
        kind = MessageType.NDATA if producer.device_id is None else MessageType.DDATA
        topic = self._topic(kind, producer.device_id)
        for start in range(0, len(aliases), self._chunk):
            part = slice(start, start + self._chunk)
            try:
                payload = encode_data(
                    ts_ms=time.time_ns() // _NS_PER_MS,
                    seq=self._next_seq(),
                    aliases=aliases[part],
                    ts_ms_col=ts_ms[part],
                    values=values[part],
                    quality=quality[part],
                )
            except SparkplugEncodeError as exc:
                raise UplinkError(f"{self.address}: {exc}") from exc
            await self._publish(topic, payload, qos=self._qos)
            self.stats.payloads += 1
            self.stats.samples += len(aliases[part])

    async def _publish(self, topic: str, payload: bytes, *, qos: int) -> None:
        client = self._client
        if client is None:
            raise UplinkError(f"{self.address}: not connected")
        try:
            async with asyncio.timeout(self._timeout_s):
                await client.publish(topic, payload, qos=qos)
        except (aiomqtt.MqttError, TimeoutError) as exc:
            await self._drop(say_death=True)
            raise UplinkError(f"{self.address}: publish to {topic} failed: {exc!r}") from exc

    def _next_seq(self) -> int:
        self._seq = (self._seq + 1) % 256
        return self._seq

    def _topic(self, kind: MessageType, device_id: str | None = None) -> str:
        return edge_topic(self.group_id, kind, self.edge_node_id, device_id)

    def _count_dropped(self, known: npt.NDArray[np.bool_], valid: npt.NDArray[np.bool_]) -> None:
        unknown = int((~known).sum())
        self.stats.unknown_tag_samples += unknown
        self.stats.invalid_samples += int((known & ~valid).sum())
        if unknown and not self._logged_unknown:
            self._logged_unknown = True
            log.warning("Sparkplug edge node %s: %d samples of unknown tags", self.address, unknown)

    # -- bdSeq ------------------------------------------------------------------------

    def _next_bdseq(self) -> int:
        """The bdSeq of a new connection: one more than the last (mod 256), 0 the first time;
        stored in ``bdseq_path`` before it is used, so a restart never repeats it."""
        last = self._bdseq if self._bdseq is not None else _read_bdseq(self._bdseq_path)
        value = 0 if last is None else (last + 1) % 256
        if self._bdseq_path is not None:
            _write_bdseq(self._bdseq_path, value)
        self._bdseq = self.stats.bdseq = value
        return value


def _read_bdseq(path: Path | None) -> int | None:
    if path is None:
        return None
    try:
        text = path.read_text().strip()
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise UplinkError(f"cannot read bdSeq file {path}: {exc}") from exc
    if not text.isdigit() or int(text) > 255:
        log.warning("bdSeq file %s holds %r, not 0..255: starting again at 0", path, text[:20])
        return None
    return int(text)


def _write_bdseq(path: Path, value: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    try:
        tmp.write_text(f"{value}\n")
        os.replace(tmp, path)
    except OSError as exc:
        raise UplinkError(f"cannot write bdSeq file {path}: {exc}") from exc
