"""The Sparkplug B edge node against a real Mosquitto, watched by a plain MQTT client:
births, bdSeq, seq, chunking, quality, rebirth on command, and an unreachable broker."""

import asyncio
import contextlib
import socket
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import aiomqtt
import numpy as np
import pytest

from factoryos.connect.sparkplug_b import (
    BDSEQ,
    QUALITY,
    REBIRTH,
    MessageType,
    Payload,
    bdseq_of,
    decode_payload,
    edge_topic,
    encode_rebirth_request,
)
from factoryos.edge.errors import EdgeError, UplinkError
from factoryos.edge.sparkplug_node import SparkplugEdgeNode
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from support.ports import free_port

BROKER = ("127.0.0.1", 1883)
NODE = "gw1"
T0_NS = 1_700_000_000_000 * 1_000_000


@pytest.fixture
def group() -> str:
    try:
        socket.create_connection(BROKER, timeout=1).close()
    except OSError:
        pytest.skip("Mosquitto is not running on 127.0.0.1:1883")
    return f"t{uuid.uuid4().hex[:10]}"


async def until(condition: Callable[[], bool], within_s: float = 5.0) -> None:
    async with asyncio.timeout(within_s):
        while not condition():  # noqa: ASYNC110 (the broker's deliveries have no event)
            await asyncio.sleep(0.01)


class Wire:
    """Every message of a group, decoded, in arrival order."""

    def __init__(self, client: aiomqtt.Client, group: str) -> None:
        self.client = client
        self.group = group
        self.messages: list[tuple[MessageType, str | None, Payload]] = []

    async def read(self) -> None:
        async for m in self.client.messages:
            assert isinstance(m.payload, bytes)
            parts = m.topic.value.split("/")
            device = parts[4] if len(parts) == 5 else None
            self.messages.append((MessageType(parts[2]), device, decode_payload(m.payload)))

    def of(self, kind: MessageType) -> list[Payload]:
        return [p for k, _, p in self.messages if k is kind]


@contextlib.asynccontextmanager
async def wire(group: str) -> AsyncIterator[Wire]:
    async with aiomqtt.Client(*BROKER) as client:
        w = Wire(client, group)
        await client.subscribe(f"spBv1.0/{group}/#", qos=1)
        reader = asyncio.create_task(w.read())
        try:
            yield w
        finally:
            reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader


async def test_birth_declares_metrics_with_bdseq_and_seq_zero(group: str) -> None:
    node = SparkplugEdgeNode(
        *BROKER,
        group,
        NODE,
        metrics={3: "cnc/power", 1: "cnc/rpm"},
        units={3: "kW"},
        devices={"press": {9: "force"}},
    )
    async with wire(group) as w:
        async with node:
            await until(lambda: len(w.of(MessageType.DBIRTH)) == 1)
        await until(lambda: len(w.of(MessageType.NDEATH)) == 1)
    [nbirth] = w.of(MessageType.NBIRTH)
    assert nbirth.seq == 0 and bdseq_of(nbirth) == 0
    by_name = {m.name: m for m in nbirth.metrics}
    assert list(by_name) == [BDSEQ, REBIRTH, "cnc/rpm", "cnc/power"]
    assert (by_name["cnc/power"].alias, by_name["cnc/rpm"].alias) == (3, 1)
    power = by_name["cnc/power"]
    properties = dict(zip(power.properties.keys, power.properties.values, strict=True))
    assert properties["engUnit"].string_value == "kW"
    assert power.is_null and properties[QUALITY].int_value == 0  # nothing known yet: BAD
    [dbirth] = w.of(MessageType.DBIRTH)
    assert dbirth.seq == 1 and [(m.name, m.alias) for m in dbirth.metrics] == [("force", 9)]
    [ndeath] = w.of(MessageType.NDEATH)  # close() says it, as a clean disconnect drops the will
    assert bdseq_of(ndeath) == 0


async def test_bdseq_goes_up_per_connection_and_survives_restart(
    group: str, tmp_path: Path
) -> None:
    path = tmp_path / "bdseq"
    async with wire(group) as w:
        for _ in range(3):
            async with SparkplugEdgeNode(*BROKER, group, NODE, metrics={1: "m"}, bdseq_path=path):
                pass
        await until(lambda: len(w.of(MessageType.NDEATH)) == 3)
    assert [bdseq_of(p) for p in w.of(MessageType.NBIRTH)] == [0, 1, 2]
    assert [bdseq_of(p) for p in w.of(MessageType.NDEATH)] == [0, 1, 2]
    assert path.read_text().strip() == "2"


async def test_data_by_alias_with_own_timestamps_seq_and_chunks(group: str) -> None:
    node = SparkplugEdgeNode(
        *BROKER, group, NODE, metrics={1: "a", 2: "b"}, max_metrics_per_payload=2
    )
    ts = T0_NS + np.arange(5, dtype=np.int64) * 1_000_000
    async with wire(group) as w, node:
        await node.publish_batch(SampleBatch.build([1, 2, 1, 2, 1], ts, [1, 2, 3, 4, 5]))
        await until(lambda: len(w.of(MessageType.NDATA)) == 3)
    ndata = w.of(MessageType.NDATA)
    assert [p.seq for p in ndata] == [1, 2, 3]
    metrics = [m for p in ndata for m in p.metrics]
    assert [m.alias for m in metrics] == [1, 2, 1, 2, 1]
    assert [m.timestamp for m in metrics] == (ts // 1_000_000).tolist()
    assert [m.double_value for m in metrics] == [1, 2, 3, 4, 5]
    assert not any(m.name or m.HasField("datatype") for m in metrics)
    assert node.stats.payloads == 3 and node.stats.samples == 5


async def test_seq_wraps_after_255(group: str) -> None:
    async with wire(group) as w, SparkplugEdgeNode(*BROKER, group, NODE, metrics={1: "a"}) as node:
        for i in range(257):
            await node.publish_batch(SampleBatch.build([1], T0_NS + i, [float(i)]))
        await until(lambda: len(w.of(MessageType.NDATA)) == 257)
    seqs = [p.seq for p in w.of(MessageType.NDATA)]
    assert seqs[254:] == [255, 0, 1]


async def test_quality_travels_as_is_null_and_quality_property(group: str) -> None:
    node = SparkplugEdgeNode(*BROKER, group, NODE, metrics={1: "a", 2: "b", 3: "c"})
    batch = SampleBatch.build(
        [1, 2, 3], T0_NS, [1.0, np.nan, 7.0], [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN]
    )
    async with wire(group) as w, node:
        await node.publish_batch(batch)
        await until(lambda: len(w.of(MessageType.NDATA)) == 1)
    good, bad, uncertain = w.of(MessageType.NDATA)[0].metrics
    assert good.double_value == 1.0 and not good.HasField("properties")
    assert bad.is_null and list(bad.properties.keys) == [QUALITY]
    assert bad.properties.values[0].int_value == 0
    assert uncertain.double_value == 7.0 and uncertain.properties.values[0].int_value == 64


async def test_rebirth_command_gets_new_births_with_last_values(group: str) -> None:
    node = SparkplugEdgeNode(*BROKER, group, NODE, metrics={1: "a"}, devices={"d": {2: "b"}})
    ncmd = edge_topic(group, MessageType.NCMD, NODE)
    async with wire(group) as w, node:
        await node.publish_batch(SampleBatch.build([1, 2], [T0_NS, T0_NS + 5_000_000], [4.0, 5.0]))
        await w.client.publish(ncmd, encode_rebirth_request(ts_ms=1))
        await until(lambda: len(w.of(MessageType.DBIRTH)) == 2)
        await node.publish_batch(SampleBatch.build([1], T0_NS + 9_000_000, [6.0]))
        await until(lambda: len(w.of(MessageType.NDATA)) == 2)
    first, again = w.of(MessageType.NBIRTH)
    assert again.seq == 0 and bdseq_of(again) == bdseq_of(first)
    assert [(m.name, m.double_value, m.timestamp) for m in again.metrics[2:]] == [
        ("a", 4.0, T0_NS // 1_000_000)
    ]
    assert w.of(MessageType.DBIRTH)[1].metrics[0].double_value == 5.0
    assert w.of(MessageType.DBIRTH)[1].seq == 1 and w.of(MessageType.NDATA)[1].seq == 2
    assert node.stats.rebirth_requests == 1 and node.stats.births == 2


async def test_unknown_tags_and_pre_1970_samples_are_counted_not_sent(group: str) -> None:
    async with wire(group) as w, SparkplugEdgeNode(*BROKER, group, NODE, metrics={1: "a"}) as node:
        await node.publish_batch(SampleBatch.build([1, 5, 1], [T0_NS, T0_NS, -5], [1.0, 2.0, 3.0]))
        await until(lambda: len(w.of(MessageType.NDATA)) == 1)
    assert [m.double_value for m in w.of(MessageType.NDATA)[0].metrics] == [1.0]
    assert node.stats.unknown_tag_samples == 1 and node.stats.invalid_samples == 1


async def test_unreachable_broker_raises_uplink_error_and_backs_off() -> None:
    node = SparkplugEdgeNode("127.0.0.1", free_port(), "g", NODE, metrics={1: "a"}, timeout_s=1)
    batch = SampleBatch.build([1], T0_NS, [1.0])
    with pytest.raises(UplinkError, match="cannot connect"):
        await node.publish_batch(batch)
    with pytest.raises(UplinkError, match="broker down"):  # within the back-off: no attempt
        await node.publish_batch(batch)
    assert node.stats.connects == 0 and not node.stats.connected
    await node.close()


def test_a_tag_belongs_to_one_producer() -> None:
    with pytest.raises(EdgeError, match="more than one"):
        SparkplugEdgeNode(*BROKER, "g", NODE, metrics={1: "a"}, devices={"d": {1: "b"}})
    with pytest.raises(EdgeError, match="ids"):
        SparkplugEdgeNode(*BROKER, "g/x", NODE, metrics={1: "a"})
