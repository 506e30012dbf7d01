"""Fault (a): the MQTT broker goes away for 30 seconds in the middle of a run.

Virtual factory → Modbus TCP → gateway (outbox) → Sparkplug B edge node → a private Mosquitto
→ the platform's Sparkplug host → bus → ingest → DuckDB, in lockstep on the simulated clock.
The broker is stopped (SIGTERM: it sends every will, so the platform sees the gateway's
NDEATH) and started again 30 s later. The devices stay readable all along, so the store must
end with every sample the simulator produced exactly once, and not one BAD sample.
"""

import asyncio
import time
import uuid
from pathlib import Path

import numpy as np
import pytest

from edge.harness import ids_of_platform
from factoryos.connect import build_pollers
from factoryos.edge import Gateway, Outbox, edge_tag_ids
from factoryos.edge.config import SparkplugUplinkConfig
from factoryos.edge.uplink_sparkplug import SparkplugUplink
from factoryos.model import Quality, SampleBatch, SiteFile
from factoryos.sim import (
    DEFAULT_START_NS,
    SimulatorHost,
    VirtualFactory,
    load_demo_site,
    with_ports,
)
from support.mqtt import MOSQUITTO, MOSQUITTO_FOUND, Mosquitto, SparkplugPlatform
from support.ports import free_ports

pytestmark = pytest.mark.e2e

STEPS, OUTAGE_FROM, OUTAGE_UNTIL = 30, 8, 20  # simulated seconds; the broker is away between
OUTAGE_S = 30.0  # wall-clock seconds without a broker
EIGHT_AM = 8 * 3600 * 10**9


def _site() -> SiteFile:
    site = load_demo_site()
    return with_ports(site, dict(zip([d.name for d in site.devices], free_ports(8), strict=True)))


async def test_a_30_second_broker_outage_loses_nothing_and_marks_nothing_bad(
    tmp_path: Path,
) -> None:
    if not MOSQUITTO_FOUND:
        pytest.skip(f"{MOSQUITTO} is not installed")
    broker = Mosquitto(tmp_path)
    await broker.start()
    group, host = f"t{uuid.uuid4().hex[:10]}", "platform-e2e"
    site = _site()
    edge_ids = edge_tag_ids(site)
    platform_ids = ids_of_platform(site)
    factory = VirtualFactory(site, seed=7, start_ns=DEFAULT_START_NS + EIGHT_AM)
    platform = SparkplugPlatform(
        broker.port, group, platform_ids, tmp_path, host_id=host, max_backoff_s=0.5
    )
    config = SparkplugUplinkConfig(
        kind="sparkplug",
        port=broker.port,
        group_id=group,
        primary_host_id=host,
        bdseq_path=tmp_path / "bdseq",
        timeout_s=1,
        keepalive_s=5,
        max_backoff_s=0.5,
    )
    path_of = {i: p for p, i in edge_ids.items()}
    uplink = SparkplugUplink(config, gateway="gw-1", site=site, path_of=path_of)
    outbox = await Outbox.open(tmp_path / "outbox.sqlite", max_bytes=50 * 2**20)
    gateway = Gateway("gw-1", outbox, uplink, edge_ids, max_backoff_s=0.5)
    stop = asyncio.Event()
    pollers = build_pollers(site, edge_ids)
    published: list[SampleBatch] = []
    await platform.start()
    sender = asyncio.create_task(gateway.run_sender(stop))
    try:
        async with SimulatorHost(factory) as host_servers:
            stopped_at = 0.0
            for step in range(STEPS):
                host_servers.advance(1)
                if step == OUTAGE_FROM:
                    broker.stop()
                    stopped_at = time.monotonic()
                if step == OUTAGE_UNTIL:
                    await asyncio.sleep(stopped_at + OUTAGE_S - time.monotonic())
                    await broker.start()
                if OUTAGE_FROM <= step < OUTAGE_UNTIL:
                    await asyncio.sleep(OUTAGE_S / (OUTAGE_UNTIL - OUTAGE_FROM) * 0.9)
                else:
                    await asyncio.sleep(0.05)
                batches = await asyncio.gather(
                    *(p.poll_once(factory.now_ns, retry_now=True) for p in pollers)
                )
                for batch in batches:
                    await gateway.publish(batch)
                    published.append(batch)
        everything = SampleBatch.concat(published)
        async with asyncio.timeout(20):
            while outbox.stats.pending_records:  # noqa: ASYNC110 (a counter)
                await asyncio.sleep(0.05)
        await platform.stored(len(everything))
        await asyncio.sleep(0.5)  # anything more (a duplicate) would show now
        await platform.ingestor.flush()
        store = platform.store
        assert gateway.stats.send_failures > 0  # the outage was felt
        assert platform.source.stats.deaths >= 1  # SIGTERM: the broker sent the NDEATH will
        assert (everything.quality != Quality.BAD).all()  # the devices were readable
        assert store.count() == len(everything)
        for edge_id in np.unique(everything.tag_ids):
            mine = everything.take(everything.tag_ids == edge_id)
            got = store.raw(platform_ids[path_of[int(edge_id)]], 0, 2**62)
            np.testing.assert_array_equal(got.ts, mine.ts)
            np.testing.assert_array_equal(got.values, mine.values)
            np.testing.assert_array_equal(got.quality, mine.quality)
    finally:
        stop.set()
        await sender
        for p in pollers:
            await p.close()
        await uplink.close()
        await outbox.close()
        await platform.close()
        broker.stop()
