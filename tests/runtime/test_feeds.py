"""The platform's optional feeds, running inside `Platform.run` against the real brokers:
edge gateways arriving over NATS JetStream, and every tag republished to its UNS topic."""

import asyncio
import json
import time
import uuid
from pathlib import Path

import aiomqtt
import numpy as np

from factoryos.edge.config import NatsUplinkConfig
from factoryos.edge.gateway import edge_tag_ids
from factoryos.edge.uplink_nats import NatsUplink
from factoryos.model import Quality, SampleBatch, SiteFile
from factoryos.runtime.feeds import Feeds
from factoryos.runtime.platform import Platform
from factoryos.sim import SimulatorHost, VirtualFactory, load_demo_site, with_ports
from support.nats_server import NatsProcess
from support.ports import free_ports

POWER = "demo/machining/line1/cell1/cnc-01/power_kw"


def _site() -> SiteFile:
    site = load_demo_site()
    names = [d.name for d in site.devices]
    return with_ports(site, dict(zip(names, free_ports(len(names)), strict=True)))


async def test_every_tag_is_republished_to_its_uns_topic(tmp_path: Path) -> None:
    prefix = f"test-{uuid.uuid4().hex[:8]}/v1"
    site = _site()
    platform = Platform(site, tmp_path)
    stop = asyncio.Event()
    seen: dict[str, dict[str, object]] = {}
    async with aiomqtt.Client("127.0.0.1", 1883) as client:
        await client.subscribe(f"{prefix}/#")
        async with SimulatorHost(VirtualFactory(site, start_ns=time.time_ns())):
            (port,) = free_ports(1)
            feeds = Feeds(uns_broker="mqtt://127.0.0.1:1883", uns_prefix=prefix)
            running = asyncio.create_task(
                platform.run("127.0.0.1", port, stop, lambda: None, feeds)
            )
            async with asyncio.timeout(20):
                async for message in client.messages:
                    seen[str(message.topic)] = json.loads(bytes(message.payload))  # type: ignore[arg-type]
                    if f"{prefix}/{POWER}" in seen:
                        break
            stop.set()
            await running
    platform.close()
    power = seen[f"{prefix}/{POWER}"]
    assert power["unit"] == "kW"
    assert power["quality"] == "good"
    assert isinstance(power["value"], float)


async def test_a_gateway_arrives_over_nats_under_the_platforms_tag_ids(
    nats_process: NatsProcess, tmp_path: Path
) -> None:
    site = load_demo_site()
    stream = f"TEST_{uuid.uuid4().hex[:8].upper()}"
    platform = Platform(site, tmp_path)
    gateway_ids = edge_tag_ids(site)
    path_of = {i: p for p, i in gateway_ids.items()}
    uplink = NatsUplink(
        NatsUplinkConfig(url=nats_process.url, stream=stream),
        gateway="gw-1",
        site=site.site.name,
        path_of=path_of,
    )
    t0 = time.time_ns() - 3600 * 10**9  # clear of the samples the site's own drivers store
    sent = SampleBatch.build(
        [gateway_ids[POWER]] * 3, t0 + np.arange(3) * 10**9, [1.0, 2.0, 3.0], [Quality.GOOD] * 3
    )
    tag = platform.tag_ids[POWER]
    stop = asyncio.Event()
    try:
        await uplink.send(range(1, 2), sent)
        feeds = Feeds(nats_url=nats_process.url, nats_stream=stream)
        run = platform.run("127.0.0.1", free_ports(1)[0], stop, lambda: None, feeds)
        running = asyncio.create_task(run)
        async with asyncio.timeout(20):
            while len(platform.store.raw(tag, t0, t0 + 3 * 10**9)) < 3:  # noqa: ASYNC110
                await asyncio.sleep(0.1)
        stop.set()
        await running
        got = platform.store.raw(tag, t0, t0 + 3 * 10**9)
    finally:
        await uplink.close()
        platform.close()
    assert got.values.tolist() == [1.0, 2.0, 3.0]
    assert got.ts.tolist() == sent.ts.tolist()
