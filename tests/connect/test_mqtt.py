"""The plain MQTT driver against real Mosquitto brokers: the shared one on 127.0.0.1:1883
(each test under its own topic prefix) and, to lose a broker, one started by the test."""

import asyncio
import contextlib
import json
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiomqtt
import pytest

from factoryos.bus.inprocess import InProcessBus
from factoryos.connect.errors import ConfigError
from factoryos.connect.mqtt import MqttDriver, MqttPoint, build_mqtt_drivers
from factoryos.connect.mqtt_payload import Reason
from factoryos.model.devices import MqttDevice
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.model.tags import Tag
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor
from support.mqtt import MOSQUITTO, MOSQUITTO_FOUND, Mosquitto, reachable
from support.ports import free_port
from support.sites import Cell, Equipment, site_yaml

HOST = "127.0.0.1"
SHARED_PORT = 1883
LOGGER = "factoryos.connect.mqtt"
GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
T_ISO = "2026-11-24T08:00:00.250Z"
T_NS = 1_795_507_200_250_000_000
WAIT_S = 10.0


@pytest.fixture
def shared_broker() -> int:
    if not reachable(SHARED_PORT):
        pytest.skip(f"no MQTT broker at {HOST}:{SHARED_PORT} (start Mosquitto)")
    return SHARED_PORT


@pytest.fixture
def prefix() -> str:
    return f"factoryos-test/{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def own_broker(tmp_path: Path) -> AsyncIterator[Mosquitto]:
    if not MOSQUITTO_FOUND:
        pytest.skip(f"{MOSQUITTO} is not installed")
    broker = Mosquitto(tmp_path)
    await broker.start()
    yield broker
    broker.stop()


def device(port: int, **settings: Any) -> MqttDevice:
    return MqttDevice.model_validate(
        {"name": "broker", "protocol": "mqtt", "port": port, **settings}
    )


def point(tag_id: int, topic: str, **fields: Any) -> MqttPoint:
    address = {"topic": topic}
    for key in ("value", "timestamp", "quality"):
        if key in fields:
            address[key] = fields.pop(key)
    return MqttPoint(tag_id, Tag.model_validate({"name": f"t{tag_id}", "mqtt": address, **fields}))


class Collector:
    """A ``publish`` callback that keeps every batch."""

    def __init__(self) -> None:
        self.batches: list[SampleBatch] = []
        self._arrived = asyncio.Event()

    async def __call__(self, batch: SampleBatch) -> None:
        self.batches.append(batch)
        self._arrived.set()

    def rows(self) -> list[tuple[int, int, float, int]]:
        b = SampleBatch.concat(self.batches)
        return list(
            zip(
                b.tag_ids.tolist(),
                b.ts.tolist(),
                b.values.tolist(),
                b.quality.tolist(),
                strict=True,
            )
        )

    async def until(self, done: Callable[[], bool]) -> None:
        async with asyncio.timeout(WAIT_S):
            while not done():
                self._arrived.clear()
                await self._arrived.wait()


@contextlib.asynccontextmanager
async def running(
    driver: MqttDriver, publish: Callable[[SampleBatch], Any]
) -> AsyncIterator[MqttDriver]:
    stop = asyncio.Event()
    task = asyncio.create_task(driver.run(publish, stop))
    try:
        async with asyncio.timeout(WAIT_S):
            await driver.wait_ready()
        yield driver
    finally:
        stop.set()
        await asyncio.wait_for(task, WAIT_S)


@contextlib.asynccontextmanager
async def publisher(
    port: int, protocol: aiomqtt.ProtocolVersion = aiomqtt.ProtocolVersion.V311
) -> AsyncIterator[Callable[..., Any]]:
    async with aiomqtt.Client(HOST, port, protocol=protocol, timeout=5) as client:

        async def send(topic: str, payload: object, qos: int = 1) -> None:
            data = payload if isinstance(payload, bytes | str) else json.dumps(payload)
            await client.publish(topic, data, qos=qos)

        yield send


async def until(done: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT_S):
        while not done():  # noqa: ASYNC110 (polls the driver's counters)
            await asyncio.sleep(0.01)


# -- values ---------------------------------------------------------------------------------


async def test_values_flow_into_sample_batches(shared_broker: int, prefix: str) -> None:
    points = [
        point(1, f"{prefix}/power", scale=0.001),  # W on the wire, kW stored
        point(2, f"{prefix}/temp", range=(0, 100)),
        point(3, f"{prefix}/cnc", value="$.spindle.rpm", timestamp="$.ts", quality="$.q"),
        point(4, f"{prefix}/cnc", value="$.state.running", timestamp="$.ts"),  # same topic
        point(5, f"{prefix}/clock", timestamp=None),
    ]
    collect = Collector()
    cnc = {"ts": T_ISO, "spindle": {"rpm": 3000}, "state": {"running": True}, "q": "uncertain"}
    batch = [
        {"ts": 1000, "spindle": {"rpm": 10}, "state": {"running": False}},
        {"ts": 2000, "spindle": {"rpm": 20}, "state": {"running": True}, "q": 0x80350000},
    ]
    async with running(MqttDriver(device(shared_broker), points), collect) as driver:
        assert driver.topics == (
            f"{prefix}/power",
            f"{prefix}/temp",
            f"{prefix}/cnc",
            f"{prefix}/clock",
        )
        async with publisher(shared_broker, aiomqtt.ProtocolVersion.V5) as send:  # a v5 client
            await send(f"{prefix}/power", {"value": 4500, "timestamp": T_ISO})
        async with publisher(shared_broker) as send:
            await send(f"{prefix}/temp", {"value": 150, "timestamp": 1_795_507_200_250})
            await send(f"{prefix}/cnc", cnc)
            await send(f"{prefix}/cnc", batch)
            await send(f"{prefix}/clock", {"value": 7, "timestamp": "ignored: no path"})
        await collect.until(lambda: len(collect.rows()) == 9)
    rows = collect.rows()
    (bad,) = [r for r in rows if r[0] == 3 and r[1] == 2_000_000_000]
    assert math.isnan(bad[2]) and bad[3] == BAD  # an OPC UA Bad_… StatusCode
    (clock,) = [r for r in rows if r[0] == 5]
    assert clock[2:] == (7.0, GOOD)
    assert abs(clock[1] - time.time_ns()) < 60 * 10**9  # no timestamp path: receive time
    assert set(rows) - {bad, clock} == {
        (1, T_NS, 4.5, GOOD),
        (2, T_NS, 150.0, UNCERTAIN),  # outside its range
        (3, T_NS, 3000.0, UNCERTAIN),
        (4, T_NS, 1.0, GOOD),
        (3, 1_000_000_000, 10.0, GOOD),
        (4, 1_000_000_000, 0.0, GOOD),
        (4, 2_000_000_000, 1.0, GOOD),
    }
    assert driver.stats.messages == 5 and not driver.stats.rejected
    assert driver.recent()[-1].outcome == "ok: 1 samples"


async def test_deadband(shared_broker: int, prefix: str) -> None:
    collect = Collector()
    driver = MqttDriver(device(shared_broker), [point(1, f"{prefix}/x", deadband=0.5)])
    async with running(driver, collect), publisher(shared_broker) as send:
        for i, v in enumerate([10.0, 10.2, 10.4, 10.6, 10.7, 9.0]):
            await send(f"{prefix}/x", {"value": v, "timestamp": 1000 + i})
        await until(lambda: driver.stats.messages == 6)
    await collect.until(lambda: len(collect.rows()) == 3)
    assert [r[2] for r in collect.rows()] == [10.0, 10.6, 9.0]


async def test_no_message_is_lost_at_the_end_of_a_batch_window(
    shared_broker: int, prefix: str
) -> None:
    """A message that arrives just as a batch window closes is kept. (aiomqtt takes messages
    off its queue in a task of its own; cancelling a read at the deadline dropped about one
    message in ten with 1 ms windows, one in 200 with the default 50 ms.)"""
    collect = Collector()
    n = 500
    driver = MqttDriver(device(shared_broker), [point(1, f"{prefix}/x")], window_s=0.001)
    async with running(driver, collect), publisher(shared_broker) as send:
        for i in range(n):
            await send(f"{prefix}/x", {"value": i, "timestamp": 1000 + i})
            if i % 7 == 0:  # a trickle, so windows open and close all the time
                await asyncio.sleep(0.001 * (i % 3) / 2)
        await collect.until(lambda: len(collect.rows()) >= n)
    assert [r[1] for r in collect.rows()] == [(1000 + i) * 10**6 for i in range(n)]
    assert driver.stats.messages == n


# -- bad input ------------------------------------------------------------------------------

BAD_INPUT: list[tuple[str, object, Reason]] = [
    ("garbage", b"\x00\xffnot json", Reason.NOT_JSON),
    ("scalar", b"17", Reason.NOT_OBJECT),
    ("missing", {"val": 1}, Reason.MISSING),
    ("string", {"value": "12"}, Reason.WRONG_TYPE),
    ("huge", b'{"value": 1e999}', Reason.NOT_FINITE),
    ("time", {"value": 1, "timestamp": "12:00"}, Reason.BAD_TIME),
    ("big", b'{"value": 1, "pad": "' + b"x" * 400 + b'"}', Reason.OVERSIZED),
]


async def test_a_persistent_session_keeps_what_was_published_while_away(
    shared_broker: int, prefix: str
) -> None:
    client_id = f"factoryos-test-{uuid.uuid4().hex[:12]}"
    settings = {"client_id": client_id, "persistent_session": True}
    points = [point(1, f"{prefix}/level")]
    collect = Collector()
    async with running(MqttDriver(device(shared_broker, **settings), points), collect):
        async with publisher(shared_broker) as send:
            await send(f"{prefix}/level", {"value": 1, "timestamp": 1000})
        await collect.until(lambda: len(collect.rows()) == 1)
    async with publisher(shared_broker) as send:  # FactoryOS is away (a restart)
        for i in (2, 3):
            await send(f"{prefix}/level", {"value": i, "timestamp": i * 1000})
    async with running(MqttDriver(device(shared_broker, **settings), points), collect):
        await collect.until(lambda: len(collect.rows()) == 3)
    assert [r[2] for r in collect.rows()] == [1.0, 2.0, 3.0]
    # the session is cleaned up: a clean connect under the same id drops it
    async with aiomqtt.Client(HOST, shared_broker, identifier=client_id, clean_session=True):
        pass
    with pytest.raises(ValueError, match="persistent_session needs a client_id"):
        device(shared_broker, persistent_session=True)


async def test_bad_input_is_counted_logged_once_and_never_stored(
    shared_broker: int, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    topics = [f"{prefix}/{name}" for name, _, _ in BAD_INPUT]
    points = [point(i + 1, topic) for i, topic in enumerate(topics)]
    bus = InProcessBus()
    store = DuckDBStore()
    ingest = Ingestor(store, bus, max_delay_s=0.05)
    stop = asyncio.Event()
    ingesting = asyncio.create_task(ingest.run(stop))
    driver = MqttDriver(device(shared_broker, max_payload_bytes=256), points)
    async with running(driver, bus.publish), publisher(shared_broker) as send:
        for topic in topics:
            await send(topic, {"value": 1.0, "timestamp": 1000})
        for _ in range(3):  # each bad message three times: one log line each
            for topic, (_, payload, _) in zip(topics, BAD_INPUT, strict=True):
                await send(topic, payload)
        for topic in topics:
            await send(topic, {"value": 2.0, "timestamp": 2000})
        await until(lambda: driver.stats.messages == 5 * len(topics))
        driver.accept(f"{prefix}/nobody", b"{}", time.time_ns())  # the broker only sends our topics
    await ingest.flush()
    stop.set()
    await ingesting

    assert driver.stats.rejected == {reason: 3 for _, _, reason in BAD_INPUT} | {
        Reason.UNKNOWN_TOPIC: 1
    }
    warnings = [
        r.getMessage() for r in caplog.records if r.name == LOGGER and r.levelno == logging.WARNING
    ]
    assert len(warnings) == len(BAD_INPUT) + 1, warnings  # once per (topic, reason)
    for topic, (_, _, reason) in zip(topics, BAD_INPUT, strict=True):
        assert sum(topic in w and reason in w for w in warnings) == 1
    assert any(f"{prefix}/nobody" in w for w in warnings)
    cleaned = [r.getMessage() for r in caplog.records if "read cleanly again" in r.getMessage()]
    assert len(cleaned) == len(topics)
    # Only the good samples were stored, and nothing else.
    assert store.count() == 2 * len(topics), (driver.stats, driver.recent())
    for tag_id in range(1, len(topics) + 1):
        stored = store.raw(tag_id, 0, 2**63 - 1)
        assert stored.ts.tolist() == [1_000_000_000, 2_000_000_000]
        assert stored.values.tolist() == [1.0, 2.0]
        assert stored.quality.tolist() == [GOOD, GOOD]
    store.close()


async def test_a_value_that_overflows_when_scaled_is_not_stored(
    shared_broker: int, prefix: str
) -> None:
    collect = Collector()
    driver = MqttDriver(device(shared_broker), [point(1, f"{prefix}/x", scale=1e300)])
    async with running(driver, collect), publisher(shared_broker) as send:
        await send(f"{prefix}/x", {"value": 1e300, "timestamp": 1000})
        await send(f"{prefix}/x", {"value": 2, "timestamp": 2000})
        await collect.until(lambda: len(collect.rows()) == 1)
    assert collect.rows() == [(1, 2_000_000_000, 2e300, GOOD)]
    assert driver.stats.rejected == {Reason.NOT_FINITE: 1}


# -- broker loss ----------------------------------------------------------------------------


async def test_lost_broker_gives_bad_samples_then_recovers(
    own_broker: Mosquitto, prefix: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    topics = [f"{prefix}/a", f"{prefix}/b"]
    collect = Collector()
    driver = MqttDriver(
        device(own_broker.port, timeout_s=1),
        [point(1, topics[0]), point(2, topics[1])],
        first_backoff_s=0.1,
        max_backoff_s=0.4,
    )
    async with running(driver, collect):
        async with publisher(own_broker.port) as send:
            await send(topics[0], {"value": 1, "timestamp": 1000})
        await collect.until(lambda: len(collect.rows()) == 1)

        lost_at = time.time_ns()
        own_broker.stop()
        await collect.until(lambda: len(collect.rows()) == 3)
        await asyncio.sleep(1.0)  # several failed reconnects: still one BAD sample per tag
        rows = collect.rows()
        assert len(rows) == 3
        for tag, (tag_id, ts, value, quality) in zip((1, 2), rows[1:], strict=True):
            assert tag_id == tag and math.isnan(value) and quality == BAD
            assert ts >= lost_at
        assert driver.stats.connected is False and driver.stats.disconnects == 1

        await own_broker.start()
        async with asyncio.timeout(WAIT_S):
            await driver.wait_ready()
        async with publisher(own_broker.port) as send:  # the driver subscribed again
            await send(topics[1], {"value": 5, "timestamp": 5000})
        await collect.until(lambda: len(collect.rows()) == 4)
    assert collect.rows()[-1] == (2, 5_000_000_000, 5.0, GOOD)
    assert driver.stats.connects == 2
    messages = [r.getMessage() for r in caplog.records]
    assert sum("lost" in m for m in messages) == 1
    assert sum("back after" in m for m in messages) == 1


async def test_unreachable_broker_at_start_gives_bad_samples_once(prefix: str) -> None:
    collect = Collector()
    driver = MqttDriver(
        device(free_port(), timeout_s=1),
        [point(1, f"{prefix}/a")],
        first_backoff_s=0.05,
        max_backoff_s=0.1,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(driver.run(collect, stop))
    await collect.until(lambda: len(collect.rows()) == 1)
    await asyncio.sleep(0.5)
    stop.set()
    await asyncio.wait_for(task, WAIT_S)
    [(tag_id, _, value, quality)] = collect.rows()
    assert tag_id == 1 and math.isnan(value) and quality == BAD
    assert driver.stats.connects == 0 and "cannot connect" in (driver.stats.last_error or "")
    assert any(r.outcome.startswith("down:") for r in driver.recent())


# -- building -------------------------------------------------------------------------------

MQTT_CELL = Cell(
    "machining",
    "line1",
    "cell1",
    (
        Equipment(
            "cnc-01",
            (
                "{name: power_kw, unit: kW, mqtt: {topic: plant1/cnc-01, value: $.power}}",
                "{name: rpm, mqtt: {topic: plant1/cnc-01, value: $.rpm, quality: $.q}}",
                "{name: manual}",
            ),
            device="broker",
        ),
    ),
)
PATHS = "plant1/machining/line1/cell1/cnc-01"


def test_build_mqtt_drivers() -> None:
    site = parse_site(
        site_yaml(cells=(MQTT_CELL,), devices=("{name: broker, protocol: mqtt, qos: 0}",))
    )
    [driver] = build_mqtt_drivers(site, {f"{PATHS}/power_kw": 7, f"{PATHS}/rpm": 8})
    assert driver.name == "broker" and driver.topics == ("plant1/cnc-01",)
    assert [p.tag_id for p in driver.points] == [7, 8]
    with pytest.raises(ConfigError, match=f"tag {PATHS}/rpm has an MQTT address but no tag id"):
        build_mqtt_drivers(site, {f"{PATHS}/power_kw": 7})


def test_a_tag_without_an_mqtt_address_is_a_config_error() -> None:
    tag = Tag(name="plain")
    with pytest.raises(ConfigError, match="tag plain has no mqtt address"):
        MqttDriver(device(1883), [MqttPoint(1, tag)])
