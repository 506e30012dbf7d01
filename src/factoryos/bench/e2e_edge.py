"""The edge half of ``factoryos bench e2e``, run in its own process.

A synthetic driver polls ``tags`` tags at a fixed rate, stamping each poll with the current
time (whole milliseconds, as Sparkplug B carries them), and hands every poll to the real
:class:`~factoryos.edge.gateway.Gateway`: durable outbox, sender loop, Sparkplug B uplink.
When the offered period is over the gateway drains its outbox, and the process prints one
JSON report (the poll times, so the platform can check what arrived) on stdout.

``python -m factoryos.bench.e2e_edge '<EdgeParams as JSON>'``
"""

import asyncio
import json
import logging
import resource
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from factoryos.bench.errors import BenchError
from factoryos.connect.mqtt_client import BrokerSettings
from factoryos.connect.polling import next_slot
from factoryos.edge.config import OutboxConfig, SparkplugUplinkConfig
from factoryos.edge.gateway import Gateway, edge_tag_ids
from factoryos.edge.outbox import Outbox
from factoryos.edge.uplink_sparkplug import SparkplugUplink
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile

log = logging.getLogger(__name__)

SITE = "bench"
GATEWAY = "bench-gw"
TAGS_PER_EQUIPMENT = 100
EQUIPMENT_PER_CELL = 100
_NS_PER_MS = 1_000_000
DRAIN_TIMEOUT_S = 120.0
"""How long the gateway may take to deliver its backlog once the driver stops."""
_DRAIN_POLL_S = 0.05


@dataclass(frozen=True, slots=True)
class EdgeParams:
    """What the edge process offers and where it sends it."""

    broker: str
    group_id: str
    host_id: str
    """The platform's Sparkplug host id: the gateway publishes only while it is online."""
    rate: float
    """Offered points per second."""
    seconds: float
    tags: int
    """Tags per poll."""
    workdir: str
    """Where the outbox lives."""

    @property
    def period_s(self) -> float:
        return self.tags / self.rate

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "EdgeParams":
        return cls(**json.loads(text))


def bench_site(tags: int) -> SiteFile:
    """A site of ``tags`` unaddressed float tags, 100 per equipment, 100 equipment per cell
    (paths like ``bench/plant/line/c0/e00/t00``)."""
    cells = []
    for c in range(0, tags, TAGS_PER_EQUIPMENT * EQUIPMENT_PER_CELL):
        in_cell = min(tags - c, TAGS_PER_EQUIPMENT * EQUIPMENT_PER_CELL)
        equipment = [
            {
                "name": f"e{e // TAGS_PER_EQUIPMENT:02d}",
                "tags": [
                    {"name": f"t{t:02d}", "unit": "kW"}
                    for t in range(min(TAGS_PER_EQUIPMENT, in_cell - e))
                ],
            }
            for e in range(0, in_cell, TAGS_PER_EQUIPMENT)
        ]
        cells.append(
            {"name": f"c{c // (TAGS_PER_EQUIPMENT * EQUIPMENT_PER_CELL)}", "equipment": equipment}
        )
    area = {"name": "plant", "lines": [{"name": "line", "cells": cells}]}
    return SiteFile.model_validate({"site": {"name": SITE, "areas": [area]}})


class SyntheticDriver:
    """Polls every tag once per period on the schedule real pollers keep
    (:func:`~factoryos.connect.polling.next_slot`): a poll that overruns skips the missed
    slots rather than bursting, so the offered load drops when the gateway cannot take it."""

    def __init__(self, tag_ids: npt.NDArray[np.int32], period_s: float) -> None:
        self._ids = tag_ids
        self._base = np.arange(len(tag_ids), dtype=np.float64)
        self._period_s = period_s
        self.polls: list[int] = []
        self.publish_s: list[float] = []
        """How long each ``publish`` (encode + durable append to the outbox) took."""
        self.skipped = 0

    def poll(self, ts_ns: int) -> SampleBatch:
        n = len(self._ids)
        values = self._base + len(self.polls) * 0.5
        self.polls.append(ts_ns)
        return SampleBatch(
            self._ids, np.full(n, ts_ns, dtype=np.int64), values, np.zeros(n, dtype=np.uint8)
        )

    async def run(self, publish: Callable[[SampleBatch], Awaitable[None]], seconds: float) -> None:
        loop = asyncio.get_running_loop()
        slot = started = loop.time()
        last_ms = 0
        while slot < started + seconds:
            last_ms = max(time.time_ns() // _NS_PER_MS, last_ms + 1)  # distinct poll times
            begun = loop.time()
            await publish(self.poll(last_ms * _NS_PER_MS))
            self.publish_s.append(loop.time() - begun)
            slot, missed = next_slot(slot, self._period_s, loop.time())
            self.skipped += missed
            await asyncio.sleep(slot - loop.time())


async def run_edge(params: EdgeParams) -> dict[str, Any]:
    """Offer the load through a real gateway; returns the edge report."""
    site = bench_site(params.tags)
    tag_ids = edge_tag_ids(site)
    ids = np.fromiter(tag_ids.values(), dtype=np.int32, count=len(tag_ids))
    outbox_config = OutboxConfig(path=Path(params.workdir) / "edge.outbox")
    outbox = await Outbox.open(
        outbox_config.path, max_bytes=outbox_config.max_bytes, policy=outbox_config.policy
    )
    uplink = _uplink(params, site, tag_ids)
    gateway = Gateway(GATEWAY, outbox, uplink, tag_ids)
    driver = SyntheticDriver(ids, params.period_s)
    stop = asyncio.Event()
    cpu_before = cpu_s()
    sender = asyncio.create_task(gateway.run_sender(stop))
    try:
        await driver.run(gateway.publish, params.seconds)
        drained = await _drained(outbox, sender)
    finally:
        stop.set()
        await sender
        await uplink.close()
        await outbox.close()
    return {
        "polls": driver.polls,
        "tags": params.tags,
        "skipped_polls": driver.skipped,
        "publish_ms": [round(x * 1e3, 3) for x in driver.publish_s],
        "drained": drained,
        "cpu_s": cpu_s() - cpu_before,
        "outbox_dropped_samples": outbox.stats.dropped_samples,
    }


def _uplink(params: EdgeParams, site: SiteFile, tag_ids: dict[str, int]) -> SparkplugUplink:
    """The gateway's Sparkplug uplink with its default settings, pointed at the bench broker
    and waiting for the bench's host application to be online."""
    broker = BrokerSettings.from_url(params.broker)
    config = SparkplugUplinkConfig(
        kind="sparkplug",
        host=broker.host,
        port=broker.port,
        tls=broker.tls,
        username=broker.username,
        group_id=params.group_id,
        primary_host_id=params.host_id,
        bdseq_path=Path(params.workdir) / "edge.bdseq",
    )
    return SparkplugUplink(
        config, gateway=GATEWAY, site=site, path_of={i: p for p, i in tag_ids.items()}
    )


async def _drained(outbox: Outbox, sender: "asyncio.Task[None]") -> bool:
    """Wait until the sender delivered the whole outbox (or gave up, or the timeout)."""
    for _ in range(int(DRAIN_TIMEOUT_S / _DRAIN_POLL_S)):
        if not outbox.stats.pending_records or sender.done():
            break
        await asyncio.sleep(_DRAIN_POLL_S)
    if outbox.stats.pending_records:
        log.warning("bench edge: %d records never left the outbox", outbox.stats.pending_records)
        return False
    return True


def cpu_s() -> float:
    """CPU seconds of this process (all its threads) so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        raise BenchError("usage: python -m factoryos.bench.e2e_edge '<EdgeParams JSON>'")
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    report = asyncio.run(run_edge(EdgeParams.from_json(argv[0])))
    sys.stdout.write(json.dumps(report) + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
