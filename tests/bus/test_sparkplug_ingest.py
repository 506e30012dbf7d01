"""The platform's Sparkplug B host application against the shared Mosquitto: edge nodes'
data onto the bus by UNS path, unknown metrics, rebirth on a seq gap, deaths, STATE, and the
persistent session that keeps what was published while the platform was away."""

import asyncio
import math
import uuid
from collections.abc import AsyncIterator, Callable

import aiomqtt
import numpy as np
import pytest

from factoryos.bus.errors import BusError
from factoryos.bus.inprocess import InProcessBus, Subscription
from factoryos.bus.sparkplug_ingest import STORE_FORWARD, SparkplugIngestSource
from factoryos.connect.mqtt_client import BrokerSettings
from factoryos.connect.sparkplug_b import (
    MessageType,
    MetricDef,
    asks_rebirth,
    decode_payload,
    decode_state,
    edge_topic,
    encode_birth,
    encode_data,
    state_topic,
)
from factoryos.edge.sparkplug_node import SparkplugEdgeNode
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from support.mqtt import HOST, forget_host, reachable

PORT = 1883
A, B, C = "plant/area/line/cell/m1/temp", "plant/area/line/cell/m1/speed", "plant/area/m2/temp"
PLATFORM_IDS = {A: 101, B: 102, C: 103}
T0_MS = 1_800_000_000_000
WAIT_S = 10.0


@pytest.fixture
def group() -> str:
    if not reachable(PORT):
        pytest.skip(f"no MQTT broker at {HOST}:{PORT} (start Mosquitto)")
    return f"t{uuid.uuid4().hex[:10]}"


class Collector:
    """Every batch the source publishes on the bus, in order."""

    def __init__(self, bus: InProcessBus) -> None:
        self.sub: Subscription = bus.subscribe("test", maxsize=10_000)
        self.batches: list[SampleBatch] = []

    def drain(self) -> list[SampleBatch]:
        self.batches += self.sub.take_all()
        return self.batches

    async def until(self, done: Callable[[list[SampleBatch]], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not done(self.drain()):  # noqa: ASYNC110 (bus deliveries are polled)
                await asyncio.sleep(0.02)


@pytest.fixture
async def platform(group: str) -> AsyncIterator[tuple[SparkplugIngestSource, Collector]]:
    bus = InProcessBus()
    collector = Collector(bus)
    source = SparkplugIngestSource(
        BrokerSettings(HOST, PORT, timeout_s=2),
        group,
        bus=bus,
        tag_ids=PLATFORM_IDS,
        host_id=f"h{group}",
        rebirth_interval_s=0.2,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(stop))
    async with asyncio.timeout(WAIT_S):
        await source.wait_ready()
    yield source, collector
    stop.set()
    await asyncio.wait_for(task, WAIT_S)
    await forget_host(source)


def _node(group: str, name: str, metrics: dict[int, str]) -> SparkplugEdgeNode:
    return SparkplugEdgeNode(HOST, PORT, group, name, metrics=metrics, data_qos=1, timeout_s=2)


def _rows(batches: list[SampleBatch]) -> list[tuple[int, int, float, int]]:
    everything = SampleBatch.concat(batches)
    return list(
        zip(
            everything.tag_ids.tolist(),
            everything.ts.tolist(),
            everything.values.tolist(),
            everything.quality.tolist(),
            strict=True,
        )
    )


async def test_node_data_reaches_the_bus_under_platform_ids_one_batch_per_payload(
    platform: tuple[SparkplugIngestSource, Collector],
    group: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    source, bus = platform
    node = _node(group, "gw1", {1: A, 2: B, 3: "not/a/tag", 4: "nor/this"})
    ts = T0_MS * 1_000_000
    async with node:
        await bus.until(lambda b: len(b) == 1)  # the NBIRTH: its values are data
        birth = bus.batches[0]
        assert sorted(birth.tag_ids.tolist()) == [101, 102]
        assert (birth.quality == Quality.BAD).all()  # nothing polled yet: unknown
        batch = SampleBatch.build([1, 3, 2], ts, [1.5, 9.0, math.nan], [0, 0, Quality.BAD])
        await node.publish_batch(batch)
        await node.publish_batch(SampleBatch.build([2, 4], ts + 10**6, [7.0, 8.0], [0x40, 0]))
        await bus.until(lambda b: len(b) == 3)
    rows = _rows(bus.batches[1:])
    assert rows[0] == (101, ts, 1.5, Quality.GOOD)
    assert rows[1][:2] == (102, ts) and math.isnan(rows[1][2]) and rows[1][3] == Quality.BAD
    assert rows[2] == (102, ts + 10**6, 7.0, Quality.UNCERTAIN)
    assert len(bus.batches[1]) == 2 and len(bus.batches[2]) == 1
    assert source.stats.unknown_metrics == 2 and source.nodes == ("gw1",)
    warnings = [r for r in caplog.records if "metrics that are no tag" in r.getMessage()]
    assert len(warnings) == 1 and "'not/a/tag'" in warnings[0].getMessage()


async def test_a_death_makes_only_that_nodes_tags_bad(
    platform: tuple[SparkplugIngestSource, Collector], group: str
) -> None:
    source, bus = platform
    one, two = _node(group, "n1", {1: A, 2: B}), _node(group, "n2", {5: C})
    await one.start()
    await two.start()
    await bus.until(lambda b: len(b) == 2)
    await one.close()  # NDEATH
    await bus.until(lambda b: len(b) == 3)
    death = bus.batches[2]
    assert sorted(death.tag_ids.tolist()) == [101, 102]
    assert (death.quality == Quality.BAD).all() and np.isnan(death.values).all()
    assert source.stats.deaths == 1
    await two.close()


async def test_a_store_and_forward_node_gives_only_its_ndata(
    platform: tuple[SparkplugIngestSource, Collector], group: str
) -> None:
    source, bus = platform
    node = _node(group, "gw1", {1: A, 9: STORE_FORWARD})
    await node.start()
    await node.publish_batch(SampleBatch.build([1], T0_MS * 1_000_000, [3.0]))
    await bus.until(lambda b: len(b) == 1)
    await node.close()
    await node.start()  # a new session: a new NBIRTH repeating the last value
    await node.publish_batch(SampleBatch.build([1], (T0_MS + 1) * 1_000_000, [4.0]))
    await bus.until(lambda b: len(b) == 2)
    await node.close()
    await asyncio.sleep(0.3)
    assert [r[2] for r in _rows(bus.drain())] == [3.0, 4.0]
    assert source.store_forward("gw1") and source.stats.deaths == 2
    assert source.stats.unknown_metrics == 0


async def test_a_seq_gap_asks_for_a_rebirth_and_drops_data_until_it(
    platform: tuple[SparkplugIngestSource, Collector], group: str
) -> None:
    source, bus = platform
    defs = [MetricDef(A, 1)]
    one = np.ones(1)

    def data(seq: int, value: float) -> bytes:
        return encode_data(
            ts_ms=T0_MS,
            seq=seq,
            aliases=np.array([1]),
            ts_ms_col=np.array([T0_MS + seq]),
            values=one * value,
            quality=np.zeros(1, np.uint8),
        )

    birth = encode_birth(
        ts_ms=T0_MS,
        seq=0,
        defs=defs,
        values=one,
        ts_ms_col=np.array([T0_MS]),
        quality=np.zeros(1, np.uint8),
        bdseq=0,
    )
    async with aiomqtt.Client(HOST, PORT, timeout=5) as node:
        await node.subscribe(edge_topic(group, MessageType.NCMD, "raw"), qos=1)
        ndata = edge_topic(group, MessageType.NDATA, "raw")
        await node.publish(edge_topic(group, MessageType.NBIRTH, "raw"), birth, qos=1)
        await node.publish(ndata, data(1, 10.0), qos=1)
        await node.publish(ndata, data(3, 30.0), qos=1)  # seq 2 went missing
        await node.publish(ndata, data(4, 40.0), qos=1)  # ignored until the rebirth
        async with asyncio.timeout(WAIT_S):
            command = await anext(node.messages)
        assert asks_rebirth(decode_payload(bytes(command.payload)))  # type: ignore[arg-type]
        await node.publish(edge_topic(group, MessageType.NBIRTH, "raw"), birth, qos=1)
        await node.publish(ndata, data(1, 50.0), qos=1)
        await bus.until(lambda b: len(b) == 4)
    assert [r[2] for r in _rows(bus.batches)] == [1.0, 10.0, 1.0, 50.0]
    assert source.stats.seq_gaps == 1 and source.stats.rebirth_requests >= 1


async def test_state_online_with_a_will_and_offline_on_stop(group: str) -> None:
    host = f"h{group}"
    source = SparkplugIngestSource(
        BrokerSettings(HOST, PORT, timeout_s=2), group, bus=InProcessBus(), tag_ids={}, host_id=host
    )
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(stop))
    states = []
    try:
        async with aiomqtt.Client(HOST, PORT, timeout=5) as watcher:
            async with asyncio.timeout(WAIT_S):
                await source.wait_ready()
            await watcher.subscribe(state_topic(host), qos=1)
            async with asyncio.timeout(WAIT_S):
                messages = aiter(watcher.messages)
                states.append(decode_state(bytes((await anext(messages)).payload)))  # type: ignore[arg-type]
                stop.set()
                states.append(decode_state(bytes((await anext(messages)).payload)))  # type: ignore[arg-type]
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)
        await forget_host(source)
    assert [s.online for s in states] == [True, False]
    assert states[0].timestamp_ms == states[1].timestamp_ms


async def test_the_persistent_session_keeps_what_was_sent_while_the_platform_was_away(
    group: str,
) -> None:
    bus = InProcessBus()
    collector = Collector(bus)
    source = SparkplugIngestSource(
        BrokerSettings(HOST, PORT, timeout_s=2),
        group,
        bus=bus,
        tag_ids=PLATFORM_IDS,
        host_id=f"h{group}",
    )
    node = _node(group, "gw1", {1: A, 9: STORE_FORWARD})
    try:
        for step in range(3):
            stop = asyncio.Event()
            task = asyncio.create_task(source.run(stop))
            async with asyncio.timeout(WAIT_S):
                await source.wait_ready()
            if step == 0:
                await node.start()
                async with asyncio.timeout(WAIT_S):
                    while source.stats.births < 1:  # noqa: ASYNC110 (a counter)
                        await asyncio.sleep(0.02)
            await collector.until(lambda b, n=step: len(b) == n)
            stop.set()
            await asyncio.wait_for(task, WAIT_S)
            # The platform is away: QoS 1 NDATA waits in its session on the broker.
            await node.publish_batch(SampleBatch.build([1], (T0_MS + step) * 10**6, [step]))
        stop = asyncio.Event()
        task = asyncio.create_task(source.run(stop))
        await collector.until(lambda b: len(b) == 3)
        stop.set()
        await asyncio.wait_for(task, WAIT_S)
    finally:
        await node.close()
        await forget_host(source)
    assert [r[2] for r in _rows(collector.batches)] == [0.0, 1.0, 2.0]
    assert source.stats.seq_gaps == 0


def test_bad_settings_are_refused() -> None:
    bus = InProcessBus()
    with pytest.raises(BusError, match="ids"):
        SparkplugIngestSource(BrokerSettings(), "a/b", bus=bus, tag_ids={})
    with pytest.raises(BusError, match="qos"):
        SparkplugIngestSource(BrokerSettings(), "g", bus=bus, tag_ids={}, qos=2)
