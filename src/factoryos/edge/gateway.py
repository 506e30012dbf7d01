"""The edge gateway: drivers → durable outbox → uplink, next to the machines.

Every driver batch is encoded with a path table (:mod:`factoryos.bus.codec`) and appended to
the outbox before the driver polls again; a sender task delivers outbox records in sequence
order through an :class:`Uplink` and acks them only once the uplink confirmed them. An
outage just lets the outbox grow (bounded, see :mod:`factoryos.edge.outbox`); records are
replayed in order when the uplink is back.

Tag identity on the edge: the gateway has no catalog. It numbers the site file's tags in file
order (:func:`edge_tag_ids`) for its drivers, but what leaves the gateway carries UNS paths;
the platform resolves them to its catalog ids, so the two numberings never need to agree.

A restart leaves a hole in the data: nothing was polled while the gateway was down, and
samples polled but not yet durable when it died are lost. The restarted gateway marks the
hole with one BAD NaN sample per tag at ``high_ts + 1 ns`` (1 ns after the newest sample it
ever made durable), so the store shows bad quality from the end of the good data up to the
first new poll instead of holding the last good value.
"""

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from factoryos.bus.codec import BatchDecodeError, decode_batch, encode_batch, index_paths
from factoryos.connect.polling import run_all
from factoryos.connect.registry import build_drivers
from factoryos.edge.config import GatewayConfig, SparkplugUplinkConfig, load_gateway_config
from factoryos.edge.errors import GatewayConfigError, OutboxError, UplinkError
from factoryos.edge.inference import ModelFileError, ScoringPublisher, StreamScorer, load_models
from factoryos.edge.outbox import Outbox
from factoryos.edge.uplink_nats import NatsUplink
from factoryos.edge.uplink_sparkplug import SparkplugUplink
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import TAG_ID_DTYPE, TS_DTYPE, SampleBatch
from factoryos.model.site import SiteFile, load_site

log = logging.getLogger(__name__)

INITIAL_BACKOFF_S = 0.25
IDLE_WAIT_S = 1.0
_UNKNOWN = -1


class Uplink(Protocol):
    """Delivers outbox records upstream (NATS JetStream, MQTT Sparkplug B …)."""

    async def send(self, seqs: range, batch: SampleBatch) -> None:
        """Deliver the record(s) ``seqs``; return only once the receiver confirmed them,
        raise :class:`UplinkError` otherwise (the gateway retries the same seqs later).
        ``batch`` uses the gateway's tag ids (:func:`edge_tag_ids`)."""
        ...

    async def close(self) -> None: ...


@dataclass
class GatewayStats:
    records_sent: int = 0
    samples_sent: int = 0
    send_failures: int = 0
    uplink_up: bool = False
    lost_samples: int = 0
    """Samples the outbox could not store (disk full, REJECT policy)."""
    undecodable_records: int = 0
    unknown_path_samples: int = 0
    """Samples of stored records whose tag is no longer in the site file (not sent)."""


def edge_tag_ids(site: SiteFile) -> dict[str, int]:
    """The gateway's tag ids: the site file's tags numbered from 1 in file order."""
    return {ref.path: i for i, ref in enumerate(site.tags(), start=1)}


def gap_marker(tag_ids: Iterable[int], ts_ns: int) -> SampleBatch:
    """One BAD NaN sample per tag at ``ts_ns``: "no data from here until the next sample"."""
    ids = np.fromiter(tag_ids, dtype=TAG_ID_DTYPE)
    n = len(ids)
    return SampleBatch(
        ids,
        np.full(n, ts_ns, dtype=TS_DTYPE),
        np.full(n, np.nan),
        np.full(n, Quality.BAD, dtype=QUALITY_DTYPE),
    )


class Gateway:
    """The outbox and its sender; drivers hand their batches to :meth:`publish`."""

    def __init__(
        self,
        name: str,
        outbox: Outbox,
        uplink: Uplink,
        tag_ids: Mapping[str, int],
        *,
        max_batches_per_send: int = 64,
        max_backoff_s: float = 30.0,
        drain_timeout_s: float = 5.0,
    ) -> None:
        self.name = name
        self.outbox = outbox
        self.uplink = uplink
        self.stats = GatewayStats()
        self._id_of = dict(tag_ids)
        self._path_of = {i: p for p, i in tag_ids.items()}
        self._max_batches = max_batches_per_send
        self._max_backoff_s = max_backoff_s
        self._drain_timeout_s = drain_timeout_s
        self._appended = asyncio.Event()
        self._storing = True  # the outbox stores; flips on the first failed append
        self._backoff_s = INITIAL_BACKOFF_S

    async def publish(self, batch: SampleBatch) -> None:
        """Make ``batch`` durable in the outbox (returns after the fsync). Never raises for
        a full or failing disk: those samples are counted in ``stats.lost_samples``."""
        if not len(batch):
            return
        index, paths = index_paths(batch.tag_ids, self._path_of)
        payload = encode_batch(
            SampleBatch(index, batch.ts, batch.values, batch.quality),
            source=self.name,
            first_seq=0,  # the outbox assigns the seq; the uplink stamps it on the wire
            paths=paths,
        )
        try:
            await self.outbox.append(payload, samples=len(batch), max_ts=int(batch.ts.max()))
        except OutboxError as exc:
            self.stats.lost_samples += len(batch)
            if self._storing:
                self._storing = False
                log.error("gateway %s: outbox refuses samples, they are lost: %s", self.name, exc)
            return
        if not self._storing:
            self._storing = True
            log.info("gateway %s: outbox stores samples again", self.name)
        self._appended.set()

    async def mark_restart_gap(self, tag_ids: Iterable[int]) -> None:
        """After a restart: BAD at 1 ns past the newest sample ever made durable."""
        if self.outbox.high_ts is not None:
            await self.publish(gap_marker(tag_ids, self.outbox.high_ts + 1))

    async def run_sender(self, stop: asyncio.Event) -> None:
        """Deliver records in order until ``stop``; then keep delivering for at most
        ``drain_timeout_s`` while the uplink works, and leave the rest on disk."""
        loop = asyncio.get_running_loop()
        drain_until: float | None = None
        while True:
            if stop.is_set():
                drain_until = drain_until or loop.time() + self._drain_timeout_s
                if loop.time() >= drain_until:
                    return
            self._appended.clear()
            records = await self.outbox.peek(self._max_batches)
            if not records:
                if stop.is_set():
                    return
                await _wait_any(stop, self._appended, IDLE_WAIT_S)
                continue
            last, failed = await self._send(records)
            if last is not None:
                await self.outbox.ack(last)
            if failed:
                if stop.is_set():
                    return
                await _wait_any(stop, None, self._backoff_s)
                self._backoff_s = min(2 * self._backoff_s, self._max_backoff_s)

    async def _send(self, records: list[tuple[int, bytes]]) -> tuple[int | None, bool]:
        """Send in order until one fails; returns the last seq done and whether one failed."""
        last = None
        for seq, payload in records:
            batch = self._decode(seq, payload)
            if batch is not None and len(batch):
                try:
                    await self.uplink.send(range(seq, seq + 1), batch)
                except UplinkError as exc:
                    self._went_down(exc)
                    return last, True
                self._came_up()
                self.stats.records_sent += 1
                self.stats.samples_sent += len(batch)
            last = seq
        return last, False

    def _decode(self, seq: int, payload: bytes) -> SampleBatch | None:
        try:
            header, batch = decode_batch(payload)
        except BatchDecodeError as exc:
            self.stats.undecodable_records += 1
            log.error(
                "gateway %s: outbox record %d is unreadable, skipped: %s", self.name, seq, exc
            )
            return None
        ids = np.array([self._id_of.get(p, _UNKNOWN) for p in header.paths], dtype=TAG_ID_DTYPE)
        mapped = SampleBatch(ids[batch.tag_ids], batch.ts, batch.values, batch.quality)
        known = mapped.tag_ids != _UNKNOWN
        if known.all():
            return mapped
        self.stats.unknown_path_samples += int((~known).sum())
        log.warning("gateway %s: record %d has tags no longer in the site file", self.name, seq)
        return mapped.take(known)

    def _went_down(self, exc: UplinkError) -> None:
        self.stats.send_failures += 1
        if self.stats.uplink_up or self.stats.send_failures == 1:
            log.warning("gateway %s: uplink down: %s", self.name, exc)
        self.stats.uplink_up = False

    def _came_up(self) -> None:
        if not self.stats.uplink_up:
            if self.stats.send_failures:
                log.info("gateway %s: uplink up again", self.name)
            self.stats.uplink_up = True
        self._backoff_s = INITIAL_BACKOFF_S


async def _wait_any(stop: asyncio.Event, other: asyncio.Event | None, timeout_s: float) -> None:
    waits = [asyncio.ensure_future(stop.wait())]
    if other is not None:
        waits.append(asyncio.ensure_future(other.wait()))
    try:
        await asyncio.wait(waits, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for w in waits:
            w.cancel()


async def run_gateway(
    config: GatewayConfig, stop: asyncio.Event, *, clock: Callable[[], int] = time.time_ns
) -> GatewayStats:
    """Poll the site file's devices and forward their samples until ``stop`` is set."""
    site = load_site(config.site_file)
    tag_ids = edge_tag_ids(site)
    scorer = _scorer(config, tag_ids)  # a bad model file stops the start, before any I/O
    drivers = build_drivers(site, tag_ids).running
    connected = [tag_ids[r.path] for r in site.tags() if r.tag.protocol and r.equipment.device]
    uplink, where = build_uplink(config, site, tag_ids)
    outbox = await Outbox.open(
        config.outbox.path, max_bytes=config.outbox.max_bytes, policy=config.outbox.policy
    )
    gateway = Gateway(
        config.gateway,
        outbox,
        uplink,
        tag_ids,
        max_batches_per_send=config.max_batches_per_send,
        max_backoff_s=config.uplink.max_backoff_s,
        drain_timeout_s=config.drain_timeout_s,
    )
    publisher: Callable[[SampleBatch], Awaitable[None]] = gateway.publish
    if scorer is not None:
        score_tags = {str(m.model): tag_ids[m.score_tag] for m in config.inference}
        publisher = ScoringPublisher(gateway.publish, scorer, score_tags)
    try:
        await gateway.mark_restart_gap(connected)
        log.info("gateway %s: %d devices, uplink %s", config.gateway, len(drivers), where)
        tasks = [
            asyncio.create_task(run_all(drivers, publisher, stop, clock)),
            asyncio.create_task(gateway.run_sender(stop)),
        ]
        try:
            await asyncio.gather(*tasks)
        finally:
            stop.set()  # one part failed: stop the other and let it finish cleanly
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        await uplink.close()
        await outbox.close()
    return gateway.stats


def _scorer(config: GatewayConfig, tag_ids: Mapping[str, int]) -> StreamScorer | None:
    if not config.inference:
        return None
    unknown = [m.score_tag for m in config.inference if m.score_tag not in tag_ids]
    if unknown:
        raise GatewayConfigError(f"inference: score tags not in the site: {', '.join(unknown)}")
    try:
        return load_models([m.model for m in config.inference], tag_ids)
    except ModelFileError as exc:
        raise GatewayConfigError(f"inference: {exc}") from exc


def build_uplink(
    config: GatewayConfig, site: SiteFile, tag_ids: Mapping[str, int]
) -> tuple[Uplink, str]:
    """The uplink the config names, and where it sends (for the log)."""
    path_of = {i: p for p, i in tag_ids.items()}
    c = config.uplink
    if isinstance(c, SparkplugUplinkConfig):
        if c.bdseq_path is None:  # next to the outbox: it must survive restarts like it
            outbox = config.outbox.path
            c = c.model_copy(update={"bdseq_path": outbox.with_name(outbox.name + ".bdseq")})
        sparkplug = SparkplugUplink(c, gateway=config.gateway, site=site, path_of=path_of)
        return sparkplug, sparkplug.address
    nats = NatsUplink(c, gateway=config.gateway, site=site.site.name, path_of=path_of)
    return nats, f"{c.url} {nats.subject}"


def main(config_path: str) -> None:
    """Run a gateway from its config file until SIGINT or SIGTERM (``factoryos edge``)."""
    config = load_gateway_config(config_path)

    async def serve() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, stop.set)
        await run_gateway(config, stop)

    asyncio.run(serve())
