"""The Sparkplug B host driver against a real Mosquitto: with our edge node, with crafted
messages from a raw client (seq gaps, unknown aliases, stale deaths), broker loss, and the
host's STATE and its will."""

import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from factoryos.connect.sparkplug import (
    SparkplugHostDriver,
    SparkplugPoint,
    build_sparkplug_drivers,
)
from factoryos.connect.sparkplug_b import (
    MessageType,
    MetricDef,
    asks_rebirth,
    decode_payload,
    decode_state,
    edge_topic,
    encode_birth,
    encode_data,
    encode_node_death,
    state_topic,
)
from factoryos.edge.sparkplug_node import SparkplugEdgeNode
from factoryos.model.devices import SparkplugDevice
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.tags import SparkplugAddress, Tag
from support.ports import free_port

BROKER = ("127.0.0.1", 1883)
MOSQUITTO = "/usr/sbin/mosquitto"
NODE = "gw1"
T0_NS = 1_700_000_000_000 * 1_000_000


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def group() -> str:
    """A group id of this test alone, on the shared broker."""
    if not _reachable(*BROKER):
        pytest.skip("Mosquitto is not running on 127.0.0.1:1883")
    return f"t{uuid.uuid4().hex[:10]}"


def _device(group: str, *, port: int = 1883, device_id: str | None = None) -> SparkplugDevice:
    return SparkplugDevice(
        name="spb",
        protocol="sparkplug_b",
        port=port,
        group_id=group,
        edge_node_id=NODE,
        device_id=device_id,
        host_id=f"h{group}",
        timeout_s=2.0,
    )


def _points(*metrics: str) -> list[SparkplugPoint]:
    return [
        SparkplugPoint(100 + i, Tag(name=f"t{i}", sparkplug=SparkplugAddress(metric=m)))
        for i, m in enumerate(metrics)
    ]


class Collector:
    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []

    async def __call__(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    @property
    def all(self) -> SampleBatch:
        return SampleBatch.concat(self.batches)


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    """Poll ``condition`` (state of other tasks and of the broker) until true."""
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 (conditions span objects with no shared event)
            await asyncio.sleep(0.01)


@contextlib.asynccontextmanager
async def running(driver: SparkplugHostDriver, publish: Collector) -> AsyncIterator[None]:
    stop = asyncio.Event()
    task = asyncio.create_task(driver.run(publish, stop))
    try:
        await until(lambda: driver.stats.connected)
        yield
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


class Raw:
    """A plain MQTT client: publishes crafted messages, records what arrives."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.received: list[tuple[str, bytes]] = []

    async def read(self) -> None:
        async for m in self.client.messages:
            assert isinstance(m.payload, bytes)
            self.received.append((m.topic.value, m.payload))

    def on(self, topic: str) -> list[bytes]:
        return [p for t, p in self.received if t == topic]


@contextlib.asynccontextmanager
async def raw(*subscriptions: str, port: int = 1883) -> AsyncIterator[Raw]:
    async with aiomqtt.Client("127.0.0.1", port) as client:
        r = Raw(client)
        for s in subscriptions:
            await client.subscribe(s, qos=1)
        reader = asyncio.create_task(r.read())
        try:
            yield r
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


def _birth(defs: list[MetricDef], *, bdseq: int, seq: int = 0) -> bytes:
    n = len(defs)
    return encode_birth(
        ts_ms=T0_NS // 1_000_000,
        seq=seq,
        defs=defs,
        values=np.arange(n, dtype=np.float64),
        ts_ms_col=np.full(n, T0_NS // 1_000_000, dtype=np.int64),
        quality=np.zeros(n, dtype=np.uint8),
        bdseq=bdseq,
    )


def _data(alias: int, value: float, seq: int, ts_ms: int) -> bytes:
    return encode_data(
        ts_ms=ts_ms,
        seq=seq,
        aliases=np.array([alias], dtype=np.int64),
        ts_ms_col=np.array([ts_ms], dtype=np.int64),
        values=np.array([value]),
        quality=np.zeros(1, dtype=np.uint8),
    )


# -- with our edge node ---------------------------------------------------------------


async def test_edge_node_to_host_round_trip_by_alias(group: str) -> None:
    collector = Collector()
    driver = SparkplugHostDriver(_device(group), _points("cnc/power", "cnc/rpm"))
    node = SparkplugEdgeNode(
        *BROKER, group, NODE, metrics={7: "cnc/power", 8: "cnc/rpm", 9: "cnc/unused"}
    )
    ndata = edge_topic(group, MessageType.NDATA, NODE)
    async with running(driver, collector), raw(ndata) as wire, node:
        await until(lambda: driver.session.born)
        ts = T0_NS + np.arange(4, dtype=np.int64) * 1_000_000
        await node.publish_batch(SampleBatch.build([7, 8, 7, 9], ts, [1.5, 1200, 2.5, 3]))
        await until(lambda: len(collector.all) >= 5)  # NBIRTH gives 2 (BAD: no values yet)
        await until(lambda: len(wire.on(ndata)) == 1)
    [got] = [b for b in collector.batches if len(b) == 3]
    assert got.tag_ids.tolist() == [100, 101, 100]
    assert got.values.tolist() == [1.5, 1200.0, 2.5]
    assert got.ts.tolist() == ts[:3].tolist()
    assert (got.quality == Quality.GOOD).all()
    first = collector.batches[0]
    assert first.tag_ids.tolist() == [100, 101] and (first.quality == Quality.BAD).all()
    sent = decode_payload(wire.on(ndata)[0])
    assert [m.alias for m in sent.metrics] == [7, 8, 7, 9]
    assert not any(m.name for m in sent.metrics)
    assert sent.seq == 1
    assert driver.stats.unknown_aliases == 0 and driver.stats.rebirth_requests == 1


async def test_device_birth_data_and_node_death(group: str) -> None:
    collector = Collector()
    driver = SparkplugHostDriver(_device(group, device_id="press"), _points("force"))
    node = SparkplugEdgeNode(
        *BROKER, group, NODE, metrics={1: "node/uptime"}, devices={"press": {5: "force"}}
    )
    async with running(driver, collector):
        await node.start()
        await until(lambda: len(collector.all) >= 1)  # DBIRTH: no value yet, BAD
        await node.publish_batch(SampleBatch.build([1, 5], T0_NS, [60.0, 12.5]))
        await until(lambda: len(collector.all) >= 2)
        assert collector.batches[-1].values.tolist() == [12.5]
        await node.close()  # NDEATH: the device's tags go BAD
        await until(lambda: len(collector.all) >= 3)
    dead = collector.batches[-1]
    assert dead.tag_ids.tolist() == [100] and (dead.quality == Quality.BAD).all()
    assert np.isnan(dead.values).all() and dead.ts[0] > T0_NS
    assert driver.stats.deaths == 1


# -- with crafted messages ------------------------------------------------------------


async def test_seq_gap_asks_rebirth_and_ignores_data_until_nbirth(group: str) -> None:
    collector = Collector()
    driver = SparkplugHostDriver(_device(group), _points("m"), rebirth_interval_s=60)
    ncmd = edge_topic(group, MessageType.NCMD, NODE)
    nbirth, ndata = (edge_topic(group, k, NODE) for k in (MessageType.NBIRTH, MessageType.NDATA))
    async with raw(ncmd) as node, running(driver, collector):
        await until(lambda: len(node.on(ncmd)) == 1)  # asked at connect
        await node.client.publish(nbirth, _birth([MetricDef("m", 1)], bdseq=0))
        await node.client.publish(ndata, _data(1, 10.0, seq=1, ts_ms=1))
        await until(lambda: len(collector.all) == 2)
        await node.client.publish(ndata, _data(1, 11.0, seq=5, ts_ms=2))  # 2..4 lost
        await until(lambda: len(node.on(ncmd)) == 2)
        assert asks_rebirth(decode_payload(node.on(ncmd)[1]))
        await node.client.publish(ndata, _data(1, 12.0, seq=6, ts_ms=3))
        await node.client.publish(nbirth, _birth([MetricDef("m", 1)], bdseq=0))
        await node.client.publish(ndata, _data(1, 13.0, seq=1, ts_ms=4))
        await until(lambda: 13.0 in collector.all.values.tolist())
    assert collector.all.values.tolist() == [0.0, 10.0, 0.0, 13.0]
    assert driver.stats.seq_gaps == 1 and driver.stats.ignored == 1
    assert len(node.on(ncmd)) == 2  # the ignored message did not ask again within 60 s


async def test_unknown_alias_is_counted_and_asks_rebirth(group: str) -> None:
    collector = Collector()
    driver = SparkplugHostDriver(_device(group), _points("m"))
    nbirth, ndata = (edge_topic(group, k, NODE) for k in (MessageType.NBIRTH, MessageType.NDATA))
    ncmd = edge_topic(group, MessageType.NCMD, NODE)
    async with raw(ncmd) as node, running(driver, collector):
        await node.client.publish(nbirth, _birth([MetricDef("m", 1)], bdseq=0))
        await until(lambda: driver.session.born)
        await node.client.publish(ndata, _data(42, 1.0, seq=1, ts_ms=1))
        await until(lambda: driver.stats.unknown_aliases == 1)
        await until(lambda: len(node.on(ncmd)) == 2)
    assert len(collector.all) == 1  # only the birth's value


async def test_stale_ndeath_is_ignored(group: str) -> None:
    collector = Collector()
    driver = SparkplugHostDriver(_device(group), _points("m"))
    nbirth, ndeath = (edge_topic(group, k, NODE) for k in (MessageType.NBIRTH, MessageType.NDEATH))
    async with raw() as node, running(driver, collector):
        await node.client.publish(nbirth, _birth([MetricDef("m", 1)], bdseq=7))
        await until(lambda: len(collector.all) == 1)
        await node.client.publish(ndeath, encode_node_death(ts_ms=1, bdseq=6), qos=1)
        await until(lambda: driver.stats.stale_deaths == 1)
        assert len(collector.all) == 1 and driver.session.born
        await node.client.publish(ndeath, encode_node_death(ts_ms=1, bdseq=7), qos=1)
        await until(lambda: len(collector.all) == 2)
    assert collector.batches[-1].quality.tolist() == [Quality.BAD]


# -- broker loss and the host's STATE -------------------------------------------------


@pytest.fixture
def own_broker(tmp_path: Path) -> Iterator[tuple[int, Callable[[], None], Callable[[], None]]]:
    """A private Mosquitto on a free port, with start() and stop()."""
    if not Path(MOSQUITTO).exists():
        pytest.skip(f"{MOSQUITTO} is not installed")
    port = free_port()
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    procs: list[subprocess.Popen[bytes]] = []

    def start() -> None:
        procs.append(subprocess.Popen([MOSQUITTO, "-c", str(conf)], stderr=subprocess.DEVNULL))
        deadline = time.monotonic() + 5
        while not _reachable("127.0.0.1", port):
            assert time.monotonic() < deadline, "private mosquitto did not start"
            time.sleep(0.02)

    def stop() -> None:
        for p in procs:
            p.kill()
            p.wait(5)
        procs.clear()

    start()
    yield port, start, stop
    stop()


async def test_broker_loss_makes_tags_bad_and_driver_reconnects(
    own_broker: tuple[int, Callable[[], None], Callable[[], None]],
) -> None:
    port, start, stop = own_broker
    collector = Collector()
    driver = SparkplugHostDriver(_device("loss", port=port), _points("a", "b"), max_backoff_s=0.5)
    async with running(driver, collector):
        stop()
        await until(lambda: len(collector.all) == 2)
        assert (collector.all.quality == Quality.BAD).all()
        assert not driver.stats.connected and driver.stats.last_error
        start()
        await until(lambda: driver.stats.connected, within_s=10)
    assert len(collector.batches) == 1  # one BAD batch per outage, not one per retry


HOST_SCRIPT = textwrap.dedent(
    """
    import asyncio, sys
    from factoryos.connect.sparkplug import SparkplugHostDriver
    from factoryos.model.devices import SparkplugDevice

    async def main():
        device = SparkplugDevice(name="spb", protocol="sparkplug_b", group_id=sys.argv[1],
                                 edge_node_id="gw1", host_id=sys.argv[2])
        driver = SparkplugHostDriver(device, [])
        async def publish(batch):
            pass
        await driver.run(publish, asyncio.Event())

    asyncio.run(main())
    """
)


async def test_state_online_retained_and_will_offline_on_unclean_exit(group: str) -> None:
    host_id = f"h{group}"
    topic = state_topic(host_id)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", HOST_SCRIPT, group, host_id, env=env
    )
    try:
        async with raw(topic) as watcher:
            await until(lambda: any(decode_state(p).online for p in watcher.on(topic)), within_s=20)
            online = decode_state(watcher.on(topic)[-1])
            proc.send_signal(signal.SIGKILL)
            await asyncio.wait_for(proc.wait(), 5)
            await until(lambda: not decode_state(watcher.on(topic)[-1]).online, within_s=10)
            offline = decode_state(watcher.on(topic)[-1])
        assert offline.timestamp_ms == online.timestamp_ms
        async with raw(topic) as late:  # retained: a newcomer sees the last state at once
            await until(lambda: len(late.on(topic)) == 1)
            assert json.loads(late.on(topic)[0]) == {
                "online": False,
                "timestamp": online.timestamp_ms,
            }
    finally:
        if proc.returncode is None:
            proc.kill()
            await asyncio.wait_for(proc.wait(), 5)
        async with aiomqtt.Client(*BROKER) as cleanup:
            await cleanup.publish(topic, b"", qos=1, retain=True)


async def test_clean_stop_publishes_offline(group: str) -> None:
    driver = SparkplugHostDriver(_device(group), _points("m"))
    topic = state_topic(driver.device.host_id)
    async with raw(topic) as watcher:
        async with running(driver, Collector()):
            await until(lambda: len(watcher.on(topic)) == 1)
        await until(lambda: len(watcher.on(topic)) == 2)
        states = [decode_state(p) for p in watcher.on(topic)]
        await watcher.client.publish(topic, b"", qos=1, retain=True)
    assert [s.online for s in states] == [True, False]
    sent = [r for r in driver.recent() if r.direction == "out"]
    assert [r.note for r in sent] == ["STATE online", "rebirth: host connected"]


def test_build_drivers_from_site_file() -> None:
    site = SiteFile.model_validate(
        {
            "site": {
                "name": "p1",
                "areas": [
                    {
                        "name": "a",
                        "lines": [
                            {
                                "name": "l",
                                "cells": [
                                    {
                                        "name": "c",
                                        "equipment": [
                                            {
                                                "name": "press",
                                                "device": "spb",
                                                "tags": [
                                                    {"name": "force", "sparkplug": {"metric": "F"}},
                                                    {"name": "plain"},
                                                ],
                                            }
                                        ],
                                    }
                                ],
                            }
                        ],
                    }
                ],
            },
            "devices": [
                {"name": "spb", "protocol": "sparkplug_b", "group_id": "g", "edge_node_id": "n"}
            ],
        }
    )
    [driver] = build_sparkplug_drivers(site, {"p1/a/l/c/press/force": 3, "p1/a/l/c/press/plain": 4})
    assert driver.name == "spb"
    assert [(p.tag_id, p.spec().metric) for p in driver.points] == [(3, "F")]
    assert driver.session.subscriptions == ("spBv1.0/g/+/n", "spBv1.0/g/+/n/+")
