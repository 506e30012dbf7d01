"""The Sparkplug B uplink and the platform's host application end to end on the shared
Mosquitto: gateway outbox → edge node → broker → host → bus → ingest → DuckDB, the primary
host rule, and the uplink's config."""

import asyncio
import uuid
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from edge.harness import ids_of_platform
from factoryos.connect.sparkplug_b import UNIT, MessageType, decode_payload, edge_topic
from factoryos.edge import Gateway, GatewayConfigError, Outbox, edge_tag_ids, load_gateway_config
from factoryos.edge.config import SparkplugUplinkConfig
from factoryos.edge.errors import UplinkError
from factoryos.edge.gateway import build_uplink
from factoryos.edge.uplink_sparkplug import SparkplugUplink
from factoryos.model import Quality, SampleBatch, parse_site
from support.mqtt import HOST, SparkplugPlatform, reachable
from support.sites import POWER, RPM, TEMP, site_yaml

PORT = 1883
T0_NS = 1_800_000_000_000 * 1_000_000
WAIT_S = 10.0
SITE = parse_site(site_yaml())
EDGE_IDS = edge_tag_ids(SITE)
PLATFORM_IDS = ids_of_platform(SITE)
PATH_OF = {i: p for p, i in EDGE_IDS.items()}


@pytest.fixture
def group() -> str:
    if not reachable(PORT):
        pytest.skip(f"no MQTT broker at {HOST}:{PORT} (start Mosquitto)")
    return f"t{uuid.uuid4().hex[:10]}"


def _uplink(group: str, tmp_path: Path, **fields: object) -> SparkplugUplink:
    config = SparkplugUplinkConfig.model_validate(
        {
            "kind": "sparkplug",
            "port": PORT,
            "group_id": group,
            "primary_host_id": f"h{group}",
            "bdseq_path": tmp_path / "bdseq",
            "timeout_s": 2,
            "max_backoff_s": 0.5,
            **fields,
        }
    )
    return SparkplugUplink(config, gateway="gw-1", site=SITE, path_of=PATH_OF)


async def test_gateway_to_store_every_sample_exactly_once(group: str, tmp_path: Path) -> None:
    platform = SparkplugPlatform(PORT, group, PLATFORM_IDS, tmp_path, host_id=f"h{group}")
    await platform.start()
    uplink = _uplink(group, tmp_path)
    outbox = await Outbox.open(tmp_path / "outbox.sqlite", max_bytes=10 * 2**20)
    gateway = Gateway("gw-1", outbox, uplink, EDGE_IDS, max_backoff_s=0.2)
    stop = asyncio.Event()
    published = [
        SampleBatch.build(
            [EDGE_IDS[POWER], EDGE_IDS[RPM], EDGE_IDS[TEMP]],
            T0_NS + k * 10**9,
            [float(k), 100.0 + k, np.nan if k % 7 == 3 else 20.0],
            [Quality.GOOD, Quality.UNCERTAIN if k % 5 == 0 else Quality.GOOD, Quality.GOOD],
        )
        for k in range(50)
    ]
    published = [
        SampleBatch(b.tag_ids, b.ts, b.values, np.where(np.isnan(b.values), Quality.BAD, b.quality))
        for b in published
    ]
    async with aiomqtt.Client(HOST, PORT, timeout=5) as wire:
        await wire.subscribe(edge_topic(group, MessageType.NBIRTH, "gw-1"), qos=1)
        sender = asyncio.create_task(gateway.run_sender(stop))
        try:
            for batch in published:
                await gateway.publish(batch)
            async with asyncio.timeout(WAIT_S):
                birth = decode_payload(bytes((await anext(wire.messages)).payload))  # type: ignore[arg-type]
            await platform.stored(150)
            await uplink.send(range(1, 2), published[0])  # a resend: stored once all the same
            await asyncio.sleep(0.3)
            await platform.ingestor.flush()
        finally:
            stop.set()
            await sender
            await uplink.close()
            await outbox.close()
            store = platform.store
            counts = store.count()
            got = {p: store.raw(PLATFORM_IDS[p], 0, 2**62) for p in (POWER, RPM, TEMP)}
            await platform.close()
    assert counts == 150 and outbox.stats.pending_records == 0
    everything = SampleBatch.concat(published)
    for path, stored in got.items():
        mine = everything.take(everything.tag_ids == EDGE_IDS[path])
        np.testing.assert_array_equal(stored.ts, mine.ts)
        np.testing.assert_array_equal(stored.values, mine.values)
        np.testing.assert_array_equal(stored.quality, mine.quality)
    units = {
        m.name: m.properties.values[list(m.properties.keys).index(UNIT)].string_value
        for m in birth.metrics
        if UNIT in m.properties.keys
    }
    assert units == {POWER: "kW", RPM: "rpm", TEMP: "degC"}
    assert {m.alias for m in birth.metrics if m.name in PATH_OF.values()} == set(PATH_OF)


async def test_data_goes_out_only_while_the_primary_host_is_online(
    group: str, tmp_path: Path
) -> None:
    uplink = _uplink(group, tmp_path)
    batch = SampleBatch.build([EDGE_IDS[POWER]], T0_NS, [1.0])
    platform = SparkplugPlatform(PORT, group, PLATFORM_IDS, tmp_path, host_id=f"h{group}")
    try:
        with pytest.raises(UplinkError, match="not online"):
            await uplink.send(range(1, 2), batch)
        assert not uplink.node.stats.connected
        await platform.start()
        async with asyncio.timeout(WAIT_S):
            while not uplink.host_online:  # noqa: ASYNC110 (the STATE arrives by itself)
                await asyncio.sleep(0.02)
        await uplink.send(range(1, 2), batch)
        assert uplink.node.stats.connected and uplink.node.stats.births == 1
        await platform.stored(1)
    finally:
        await platform.close()  # STATE offline: the node says NDEATH and disconnects
    async with asyncio.timeout(WAIT_S):
        while uplink.node.stats.connected:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    with pytest.raises(UplinkError, match="not online"):
        await uplink.send(range(2, 3), batch)
    await uplink.close()


def test_sparkplug_uplink_config(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "gateway: line1-gw\nsite_file: site.yaml\noutbox:\n  path: state/o.sqlite\n"
        "uplink:\n  kind: sparkplug\n  host: broker\n  group_id: plant1\n"
        "  bdseq_path: state/gw.bdseq\n"
    )
    config = load_gateway_config(path)
    uplink = config.uplink
    assert isinstance(uplink, SparkplugUplinkConfig)
    assert (uplink.host, uplink.port, uplink.tls, uplink.edge_node_id) == (
        "broker",
        1883,
        False,
        None,
    )
    assert uplink.primary_host_id == "factoryos-platform"
    assert uplink.bdseq_path == tmp_path / "state" / "gw.bdseq"
    built, where = build_uplink(config, SITE, EDGE_IDS)
    assert isinstance(built, SparkplugUplink) and built.edge_node_id == "line1-gw"
    assert where == "mqtt://broker:1883 spBv1.0/plant1/line1-gw"


def test_the_bdseq_file_defaults_to_beside_the_outbox(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "gateway: gw\nsite_file: s.yaml\noutbox:\n  path: o.sqlite\n"
        "uplink:\n  kind: sparkplug\n  group_id: g\n  edge_node_id: node-7\n"
    )
    built, _ = build_uplink(load_gateway_config(path), SITE, EDGE_IDS)
    assert isinstance(built, SparkplugUplink)
    assert built.config.bdseq_path == tmp_path / "o.sqlite.bdseq"
    assert built.edge_node_id == "node-7"


def test_a_bad_sparkplug_uplink_names_the_line(tmp_path: Path) -> None:
    path = tmp_path / "gw.yaml"
    path.write_text(
        "gateway: gw\nsite_file: s.yaml\noutbox:\n  path: o.sqlite\n"
        "uplink:\n  kind: sparkplug\n  group_id: a/b\n  colour: red\n"
    )
    with pytest.raises(GatewayConfigError) as err:
        load_gateway_config(path)
    message = str(err.value)
    assert f"{path}:7: uplink.group_id" in message
    assert f"{path}:8: uplink.colour: unknown field" in message


def test_a_missing_password_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FOS_TEST_NO_SUCH_PASSWORD", raising=False)
    config = SparkplugUplinkConfig(
        kind="sparkplug", group_id="g", password_env="FOS_TEST_NO_SUCH_PASSWORD"
    )
    with pytest.raises(GatewayConfigError, match="FOS_TEST_NO_SUCH_PASSWORD"):
        SparkplugUplink(config, gateway="gw", site=SITE, path_of=PATH_OF)
