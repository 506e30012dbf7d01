"""FactoryOS's own MQTT clients on the secured broker, over TLS with the local CA and the
generated passwords: the platform (Sparkplug host STATE, the Unified Namespace) and a gateway's
Sparkplug B uplink, configured as docs/security-devices.md says."""

import asyncio
import time
from pathlib import Path

import pytest

from factoryos.edge.config import SparkplugUplinkConfig
from factoryos.edge.gateway import edge_tag_ids
from factoryos.edge.uplink_sparkplug import SparkplugUplink
from factoryos.model import Quality, SampleBatch, parse_site
from factoryos.runtime.feeds import Feeds
from factoryos.runtime.platform import Platform
from factoryos.sim import SimulatorHost, VirtualFactory, load_demo_site, with_ports
from support.mqtt import HOST
from support.ports import free_ports
from support.secure_broker import GATEWAY, GROUP, SecuredBroker
from support.sites import POWER as SITE_POWER
from support.sites import site_yaml

POWER = "demo/machining/line1/cell1/cnc-01/power_kw"


async def test_the_platform_publishes_state_and_the_uns_as_its_user(
    tmp_path: Path, secured: SecuredBroker
) -> None:
    site = load_demo_site()
    *device_ports, api_port = free_ports(len(site.devices) + 1)
    site = with_ports(site, dict(zip([d.name for d in site.devices], device_ports, strict=True)))
    url = f"mqtts://factoryos@{HOST}:{secured.port}"
    feeds = Feeds(
        sparkplug_broker=url,
        sparkplug_group=GROUP,
        uns_broker=url,
        mqtt_password=secured.password("factoryos"),
        mqtt_ca_file=secured.pki.ca[0],
    )
    wanted = {"spBv1.0/STATE/factoryos-platform", f"factoryos/v1/{POWER}"}
    platform = Platform(site, tmp_path / "data")
    stop = asyncio.Event()
    seen: set[str] = set()
    async with secured.client("factoryos") as watcher:
        await watcher.subscribe("#", qos=1)
        async with SimulatorHost(VirtualFactory(site, start_ns=time.time_ns())):
            run = platform.run(HOST, api_port, stop, lambda: None, feeds)
            running = asyncio.create_task(run)
            try:
                async with asyncio.timeout(8):
                    async for message in watcher.messages:
                        seen.add(str(message.topic))
                        if wanted <= seen:
                            break
            finally:
                stop.set()
                await running
                platform.close()
    assert wanted <= seen


async def test_a_gateway_uplinks_as_its_user(
    tmp_path: Path, secured: SecuredBroker, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FACTORYOS_MQTT_PASSWORD", secured.password(GATEWAY))
    config = SparkplugUplinkConfig(
        kind="sparkplug",
        host=HOST,
        port=secured.port,
        tls=True,
        ca_file=secured.pki.ca[0],
        username=GATEWAY,
        password_env="FACTORYOS_MQTT_PASSWORD",
        group_id=GROUP,
        primary_host_id=None,  # publish as soon as the broker is reachable
        bdseq_path=tmp_path / "bdseq",
        timeout_s=3,
    )
    site = parse_site(site_yaml())
    ids = edge_tag_ids(site)
    uplink = SparkplugUplink(
        config, gateway=GATEWAY, site=site, path_of={i: p for p, i in ids.items()}
    )
    batch = SampleBatch.build([ids[SITE_POWER]], [time.time_ns()], [4.2], [Quality.GOOD])
    async with secured.client("factoryos") as watcher:
        await watcher.subscribe(f"spBv1.0/{GROUP}/+/{GATEWAY}", qos=1)
        try:
            await uplink.send(range(1, 2), batch)
            kinds = []
            async with asyncio.timeout(5):
                async for message in watcher.messages:
                    kinds.append(str(message.topic).split("/")[2])
                    if "NDATA" in kinds:
                        break
        finally:
            await uplink.close()
    assert kinds == ["NBIRTH", "NDATA"]
