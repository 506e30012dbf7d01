"""The Unified Namespace publisher: payload text, topics, and a FactoryOS reading another
FactoryOS through the real broker on 127.0.0.1:1883."""

import asyncio
import json
import socket
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from factoryos.bus.errors import BusError
from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.uns import (
    DEFAULT_PREFIX,
    UnsPublisher,
    check_prefix,
    encode_batch,
    site_paths,
    uns_topics,
)
from factoryos.connect.mqtt import MqttDriver, MqttPoint
from factoryos.connect.mqtt_client import BrokerSettings
from factoryos.model.devices import MqttDevice
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.model.tags import Tag
from support.mqtt import MOSQUITTO, MOSQUITTO_FOUND, Mosquitto
from support.ports import free_port
from support.sites import POWER, RPM, TEMP, site_yaml

HOST, PORT = "127.0.0.1", 1883
GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
T0 = 1_795_507_200_000_000_000  # 2026-11-24T08:00:00Z
WAIT_S = 10.0


@pytest.fixture
def broker() -> BrokerSettings:
    with socket.socket() as s:
        s.settimeout(0.5)
        if s.connect_ex((HOST, PORT)) != 0:
            pytest.skip(f"no MQTT broker at {HOST}:{PORT} (start Mosquitto)")
    return BrokerSettings(HOST, PORT)


@pytest.fixture
async def prefix(broker: BrokerSettings) -> AsyncIterator[str]:
    """A topic prefix of its own; retained messages under it are cleared afterwards."""
    prefix = f"factoryos-test/{uuid.uuid4().hex[:12]}"
    yield prefix
    async with aiomqtt.Client(HOST, PORT, timeout=5) as client:
        await client.subscribe(f"{prefix}/#")
        topics: list[str] = []
        try:
            async with asyncio.timeout(0.5):
                async for message in client.messages:
                    topics.append(message.topic.value)
        except TimeoutError:
            pass
        for topic in topics:
            await client.publish(topic, b"", retain=True)


def test_encode_batch() -> None:
    batch = SampleBatch.build(
        [1, 2, 3, 9],
        [T0, T0 + 1_000_000, T0 + 2_000_000, T0],
        [4.25, 1e20, np.nan, 1.0],
        [GOOD, UNCERTAIN, BAD, GOOD],
    )
    topics = uns_topics({1: "s/a/l/c/e/power", 2: "s/a/l/c/e/rpm", 3: "s/a/l/c/e/temp"})
    messages, unmapped = encode_batch(batch, topics, {1: "kW", 3: 'deg"C'})
    assert unmapped == 1
    assert messages == [
        (
            "factoryos/v1/s/a/l/c/e/power",
            b'{"value":4.25,"timestamp":"2026-11-24T08:00:00.000Z","quality":"good","unit":"kW"}',
        ),
        (
            "factoryos/v1/s/a/l/c/e/rpm",
            b'{"value":1e+20,"timestamp":"2026-11-24T08:00:00.001Z","quality":"uncertain"}',
        ),
        (
            "factoryos/v1/s/a/l/c/e/temp",
            b'{"value":null,"timestamp":"2026-11-24T08:00:00.002Z","quality":"bad",'
            b'"unit":"deg\\"C"}',
        ),
    ]
    for _, payload in messages:
        json.loads(payload)  # strict JSON, whatever the value


def test_timestamps_keep_sub_millisecond_digits_when_there_are_any() -> None:
    batch = SampleBatch.build([1], [T0 + 1_500], [1.0])
    [(_, payload)] = encode_batch(batch, {1: "x"}, {})[0]
    assert json.loads(payload)["timestamp"] == "2026-11-24T08:00:00.000001500Z"


def test_topics_and_prefixes() -> None:
    assert uns_topics({1: "a/b"}, "") == {1: "a/b"}
    assert uns_topics({1: "a/b"}, "acme/uns") == {1: "acme/uns/a/b"}
    assert DEFAULT_PREFIX == "factoryos/v1"
    for bad in ("a/+/b", "a/#", "$SYS", "/a", "a/", "a//b"):
        with pytest.raises(BusError, match="UNS prefix"):
            check_prefix(bad)


def test_site_paths() -> None:
    site = parse_site(site_yaml())
    paths, units = site_paths(site, {POWER: 1, TEMP: 3})
    assert paths == {1: POWER, 3: TEMP}
    assert units == {1: "kW", 3: "degC"}
    assert RPM not in paths.values()


async def test_a_factoryos_reads_another_factoryos_through_the_broker(
    broker: BrokerSettings, prefix: str
) -> None:
    paths = {1: "plant1/machining/line1/cell1/cnc-01/power_kw", 2: "plant1/utilities/air/c1/bar"}
    bus = InProcessBus()
    uns = UnsPublisher(bus, broker, paths, units={1: "kW"}, prefix=prefix, qos=1)
    device = MqttDevice(name="other", protocol="mqtt", port=PORT)
    points = [
        MqttPoint(11 + i, Tag(name=f"t{i}", mqtt={"topic": topic, "quality": "$.quality"}))
        for i, topic in enumerate(uns_topics(paths, prefix).values())
    ]
    reader = MqttDriver(device, points)
    received: list[SampleBatch] = []
    stop = asyncio.Event()

    async def collect(batch: SampleBatch) -> None:
        received.append(batch)

    tasks = [
        asyncio.create_task(uns.run(stop)),
        asyncio.create_task(reader.run(collect, stop)),
    ]
    sent = SampleBatch.build(
        [1, 2, 1, 2, 1],
        [T0, T0, T0 + 1_000_000, T0 + 1_000_000, T0 + 2_000_000],
        [4.5, 6.25, 5.0, np.nan, -1.5],
        [GOOD, UNCERTAIN, GOOD, BAD, GOOD],
    )
    async with asyncio.timeout(WAIT_S):
        await reader.wait_ready()
        await uns.wait_ready()
        await bus.publish(sent)
        while sum(len(b) for b in received) < len(sent):  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    stop.set()
    await asyncio.wait_for(asyncio.gather(*tasks), WAIT_S)

    got = SampleBatch.concat(received)
    order = np.lexsort((got.tag_ids, got.ts))
    assert got.tag_ids[order].tolist() == [11, 12, 11, 12, 11]
    assert got.ts[order].tolist() == sent.ts.tolist()
    assert got.quality[order].tolist() == sent.quality.tolist()
    np.testing.assert_array_equal(got.values[order], sent.values)  # NaN where BAD
    assert uns.stats.published == 5 and uns.stats.unmapped == 0
    assert not reader.stats.rejected

    # Retained: a client arriving later gets each tag's last value at once.
    async with aiomqtt.Client(HOST, PORT, timeout=5) as late:
        await late.subscribe(f"{prefix}/plant1/machining/line1/cell1/cnc-01/power_kw")
        async with asyncio.timeout(WAIT_S):
            message = await anext(late.messages)
    assert message.retain
    assert json.loads(bytes(message.payload)) == {  # type: ignore[arg-type]
        "value": -1.5,
        "timestamp": "2026-11-24T08:00:00.002Z",
        "quality": "good",
        "unit": "kW",
    }


async def test_an_absent_broker_never_holds_up_the_bus() -> None:
    bus = InProcessBus()
    uns = UnsPublisher(
        bus,
        BrokerSettings(HOST, free_port(), timeout_s=1),
        {1: "a/b"},
        maxsize=8,
        first_backoff_s=0.05,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(uns.run(stop))
    started = time.perf_counter()
    for i in range(100):
        await bus.publish(SampleBatch.build([1], [T0 + i], [float(i)]))
    assert time.perf_counter() - started < 1.0
    assert uns.dropped == 92
    async with asyncio.timeout(WAIT_S):
        while uns.stats.last_error is None:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
    assert "cannot connect" in uns.stats.last_error
    stop.set()
    await asyncio.wait_for(task, WAIT_S)
    assert uns.stats.published == 0 and not uns.stats.connected


async def test_publisher_reconnects_after_losing_its_broker(tmp_path: Path) -> None:
    if not MOSQUITTO_FOUND:
        pytest.skip(f"{MOSQUITTO} is not installed")
    mosquitto = Mosquitto(tmp_path)
    port = mosquitto.port
    await mosquitto.start()
    bus = InProcessBus()
    broker = BrokerSettings(HOST, port, timeout_s=1)
    uns = UnsPublisher(bus, broker, {1: "a/b"}, prefix="t", first_backoff_s=0.05, max_backoff_s=0.2)
    stop = asyncio.Event()
    task = asyncio.create_task(uns.run(stop))
    try:
        async with asyncio.timeout(WAIT_S):
            await uns.wait_ready()
        await bus.publish(SampleBatch.build([1], [T0], [1.0]))
        async with asyncio.timeout(WAIT_S):
            while uns.stats.published < 1:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        mosquitto.stop()
        await bus.publish(SampleBatch.build([1], [T0 + 1], [2.0]))  # the publish that fails
        async with asyncio.timeout(WAIT_S):
            while uns.stats.connected:  # noqa: ASYNC110
                await asyncio.sleep(0.02)
        await mosquitto.start()
        async with asyncio.timeout(WAIT_S):
            await uns.wait_ready()
        async with aiomqtt.Client(HOST, port, timeout=5) as client:
            await client.subscribe("t/a/b")
            await bus.publish(SampleBatch.build([1], [T0 + 2], [3.0]))
            async with asyncio.timeout(WAIT_S):
                message = await anext(client.messages)
        assert json.loads(bytes(message.payload))["value"] == 3.0  # type: ignore[arg-type]
        assert uns.stats.connects == 2 and uns.stats.failed == 1
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)
        mosquitto.stop()
