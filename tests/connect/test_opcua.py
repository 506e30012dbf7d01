"""The OPC UA driver against the simulator's real asyncua server on a free port."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field

import numpy as np
import pytest
import pytest_asyncio

from factoryos.bus.inprocess import InProcessBus
from factoryos.connect.errors import ConfigError
from factoryos.connect.opcua import OpcUaDriver, build_opcua_drivers, queue_size
from factoryos.connect.points import Point
from factoryos.model.devices import OpcUaDevice
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.tags import DataType, OpcUaAddress, Tag
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.opcua import OpcUaFactoryServer, node_id, opcua_site
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor
from support.ports import free_port

CNC = "demo/machining/line1/cell1/cnc-01"
POWER = f"{CNC}/power_kw"
SPEED = f"{CNC}/spindle_speed_rpm"
FAST = {"publishing_interval_s": 0.05, "sampling_interval_s": 0.05}
WAIT_S = 5.0
SHARED = pytest.mark.asyncio(loop_scope="module")  # the loop of the module's server


@pytest.fixture(scope="module")
def demo() -> SiteFile:
    return load_demo_site()


async def _serve(demo: SiteFile) -> AsyncIterator[OpcUaFactoryServer]:
    factory = VirtualFactory(demo, seed=7, step_s=10.0)
    factory.advance(9 * 360)  # 09:00: the machines are at work
    async with OpcUaFactoryServer(factory, f"opc.tcp://127.0.0.1:{free_port()}/") as running:
        yield running


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(demo: SiteFile) -> AsyncIterator[OpcUaFactoryServer]:
    """One server for the tests that only subscribe (building one takes seconds)."""
    async for running in _serve(demo):
        yield running


@pytest_asyncio.fixture(loop_scope="module")
async def fresh_server(demo: SiteFile) -> AsyncIterator[OpcUaFactoryServer]:
    async for running in _serve(demo):
        yield running


@dataclass
class Received:
    """Every batch a driver published, and waiting for what a test expects."""

    batches: list[SampleBatch] = field(default_factory=list)

    async def publish(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    @property
    def all(self) -> SampleBatch:
        return SampleBatch.concat(self.batches)

    async def until(self, check: Callable[[SampleBatch], bool], what: str) -> SampleBatch:
        deadline = time.monotonic() + WAIT_S
        while not check(self.all):
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}; got {len(self.all)} samples")
            await asyncio.sleep(0.02)
        return self.all


@dataclass
class Running:
    driver: OpcUaDriver
    received: Received
    stop: asyncio.Event
    task: "asyncio.Task[None]"


@pytest.fixture
def device(server: OpcUaFactoryServer) -> OpcUaDevice:
    return OpcUaDevice(name="sim", protocol="opcua", endpoint=server.endpoint, **FAST)


def _tag(name: str, path: str, **fields: object) -> Tag:
    return Tag.model_validate({"name": name, "opcua": {"node_id": node_id(path)}, **fields})


@pytest_asyncio.fixture(loop_scope="module")
async def start() -> AsyncIterator[Callable[..., Running]]:
    started: list[Running] = []

    def run(driver: OpcUaDriver, clock: Callable[[], int] = time.time_ns) -> Running:
        received, stop = Received(), asyncio.Event()
        task = asyncio.create_task(driver.run(received.publish, stop, clock))
        started.append(Running(driver, received, stop, task))
        return started[-1]

    yield run
    for r in started:
        r.stop.set()
        await asyncio.wait_for(r.task, WAIT_S)


def _values_of(batch: SampleBatch, tag_id: int) -> np.ndarray:
    return batch.values[batch.tag_ids == tag_id]


@SHARED
async def test_subscribed_values_follow_the_factory(
    server: OpcUaFactoryServer, device: OpcUaDevice, start: Callable[..., Running]
) -> None:
    factory = server.factory
    refs = [r for r in factory.tag_refs() if r.path.startswith(CNC)]
    points = [Point(i, _tag(r.tag.name, r.path)) for i, r in enumerate(refs)]
    run = start(OpcUaDriver(device, points), clock=lambda: factory.now_ns)
    initial = await run.received.until(lambda b: len(b) >= len(points), "initial values")
    assert sorted(initial.tag_ids.tolist()) == list(range(len(points)))
    for _ in range(3):
        factory.step()
        await server.sync()
        now = factory.now_ns
        await run.received.until(lambda b, now=now: bool((b.ts == now).any()), "a step")
    await asyncio.sleep(0.2)  # nothing more is coming
    got = run.received.all
    last = {int(i): (int(t), v) for i, t, v in zip(got.tag_ids, got.ts, got.values, strict=True)}
    for i, ref in enumerate(refs):
        assert last[i][1] == factory.value(ref.path), ref.path
        assert last[i][0] <= factory.now_ns
    assert (got.quality == Quality.GOOD).all()
    assert run.driver.stats.connected and run.driver.stats.samples == len(got)


@SHARED
async def test_scale_offset_and_range(
    server: OpcUaFactoryServer, device: OpcUaDevice, start: Callable[..., Running]
) -> None:
    power = server.factory.value(POWER)
    points = [
        Point(1, _tag("scaled", POWER, scale=2.0, offset=1.0)),
        Point(2, _tag("narrow", POWER, range=[0.0, power / 2])),
    ]
    run = start(OpcUaDriver(device, points))
    got = await run.received.until(lambda b: len(b) >= 2, "two samples")
    assert _values_of(got, 1).tolist() == [power * 2.0 + 1.0]
    assert got.quality[got.tag_ids == 1].tolist() == [Quality.GOOD]
    assert got.quality[got.tag_ids == 2].tolist() == [Quality.UNCERTAIN]


@SHARED
async def test_the_server_applies_the_deadband(
    server: OpcUaFactoryServer, device: OpcUaDevice, start: Callable[..., Running]
) -> None:
    """The spindle speed wanders by a few rpm a step: a 1e6 rpm deadband lets only the
    initial value through, no deadband lets every change through."""
    points = [Point(1, _tag("raw", SPEED)), Point(2, _tag("damped", SPEED, deadband=1e6))]
    run = start(OpcUaDriver(device, points))
    await run.received.until(lambda b: len(b) >= 2, "initial values")
    changes = 0
    for _ in range(4):
        before = server.factory.value(SPEED)
        server.factory.step()
        await server.sync()
        if server.factory.value(SPEED) != before:
            changes += 1
            now = server.factory.now_ns
            await run.received.until(lambda b, t=now: bool((b.ts == t).any()), "a change")
    assert changes >= 2
    await asyncio.sleep(0.2)
    got = run.received.all
    assert (got.tag_ids == 1).sum() == 1 + changes
    assert (got.tag_ids == 2).sum() == 1


@SHARED
async def test_status_codes_become_quality(
    server: OpcUaFactoryServer, device: OpcUaDevice, start: Callable[..., Running]
) -> None:
    run = start(OpcUaDriver(device, [Point(1, _tag("power", POWER))]))
    await run.received.until(lambda b: len(b) == 1, "initial value")
    await server.set_status(POWER, 0x40000000)  # Uncertain
    await run.received.until(lambda b: len(b) == 2, "uncertain")
    await server.set_status(POWER, 0x80000000)  # Bad
    got = await run.received.until(lambda b: len(b) == 3, "bad")
    assert got.quality.tolist() == [Quality.GOOD, Quality.UNCERTAIN, Quality.BAD]
    assert np.isnan(got.values[2]) and got.values[1] == server.factory.value(POWER)
    await server.sync()  # good again for the next tests


@SHARED
async def test_unknown_nodes_are_bad_and_the_rest_flows(
    server: OpcUaFactoryServer, device: OpcUaDevice, start: Callable[..., Running]
) -> None:
    points = [Point(1, _tag("power", POWER)), Point(2, _tag("ghost", "demo/nowhere/ghost"))]
    run = start(OpcUaDriver(device, points))
    got = await run.received.until(lambda b: len(b) >= 2, "both tags")
    assert got.quality[got.tag_ids == 2].tolist() == [Quality.BAD]
    assert got.quality[got.tag_ids == 1].tolist() == [Quality.GOOD]
    assert run.driver.stats.bad_items == 1


OFFLINE = OpcUaDevice(name="offline", protocol="opcua", endpoint="opc.tcp://127.0.0.1:9/")


def test_settings_it_cannot_use_are_config_errors() -> None:
    device = OFFLINE
    bad_id = Tag(name="x", opcua=OpcUaAddress(node_id="ns=2;q=what"))
    with pytest.raises(ConfigError, match="tag x: node_id 'ns=2;q=what'"):
        OpcUaDriver(device, [Point(1, bad_id)])
    with pytest.raises(ConfigError, match="has no opcua address"):
        OpcUaDriver(device, [Point(1, Tag(name="plain"))])


@SHARED
async def test_an_unset_password_variable_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FACTORYOS_TEST_OPCUA_PW", raising=False)
    secured = OFFLINE.model_copy(
        update={"username": "op", "password_env": "FACTORYOS_TEST_OPCUA_PW"}
    )
    driver = OpcUaDriver(secured, [Point(1, _tag("power", POWER))])
    with pytest.raises(ConfigError, match="FACTORYOS_TEST_OPCUA_PW"):
        await driver.run(Received().publish, asyncio.Event())


def test_queue_holds_a_publishing_interval_of_samples() -> None:
    assert queue_size(1.0, 1.0) == 1
    assert queue_size(0.1, 1.0) == 10
    assert queue_size(0.001, 60.0) == 100
    assert queue_size(0.0, 1.0) == 100


def test_build_opcua_drivers_from_a_site(demo: SiteFile) -> None:
    site = opcua_site(demo, "opc.tcp://127.0.0.1:4840/")
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    (driver,) = build_opcua_drivers(site, ids)
    assert driver.name == "sim-opcua"
    assert len(driver.points) == len(VirtualFactory(demo).tag_refs())
    assert {p.tag.type for p in driver.points} >= {DataType.FLOAT32, DataType.BOOL}
    with pytest.raises(ConfigError, match="no tag id"):
        build_opcua_drivers(site, {})


# -- fault (d): server restart ------------------------------------------------------------


@dataclass
class Ledger:
    """What the server reported, step by step: the samples the store must hold."""

    factory: VirtualFactory
    paths: list[str]
    expected: dict[str, list[tuple[int, float, int]]] = field(default_factory=dict)
    served: dict[str, float] = field(default_factory=dict)

    def report(self, *, everything: bool = False) -> int:
        """Record the values the server now reports (all of them at a (re)subscribe);
        returns how many changed."""
        changed = 0
        for path in self.paths:
            value = self.factory.value(path)
            if everything or self.served.get(path) != value:
                self.expected.setdefault(path, []).append((self.factory.now_ns, value, 0))
                changed += 1
            self.served[path] = value
        return changed

    def lost(self) -> None:
        """A BAD sample at the loss, just after the tag's last sample if that is now."""
        now = self.factory.now_ns
        for path in self.paths:
            ts = max(now, self.expected[path][-1][0] + 1)
            self.expected[path].append((ts, float("nan"), int(Quality.BAD)))

    def rows(self) -> Iterator[tuple[str, int, float, int]]:
        for path, samples in self.expected.items():
            for ts, value, quality in samples:
                yield path, ts, value, quality


@SHARED
async def test_restart_stores_every_sample_once_and_bad_at_the_loss(
    fresh_server: OpcUaFactoryServer, demo: SiteFile
) -> None:
    server = fresh_server
    factory = server.factory
    site = opcua_site(demo, server.endpoint, **FAST)
    tag_ids = {ref.path: i for i, ref in enumerate(site.tags()) if ref.tag.opcua is not None}
    (driver,) = build_opcua_drivers(site, tag_ids, max_backoff_s=0.2, watchdog_s=0.5)
    ledger = Ledger(factory, list(tag_ids))
    bus, store, stop = InProcessBus(), DuckDBStore(), asyncio.Event()
    ingest = Ingestor(store, bus, max_delay_s=0.05)
    published = Received()

    async def publish(batch: SampleBatch) -> None:
        await published.publish(batch)
        await bus.publish(batch)

    ingest_task = asyncio.create_task(ingest.run(stop))
    driver_task = asyncio.create_task(driver.run(publish, stop, lambda: factory.now_ns))
    try:
        expected = ledger.report(everything=True)
        await published.until(lambda b: len(b) == expected, "initial values")
        for _ in range(3):
            factory.step()
            await server.sync()
            expected += ledger.report()
            await published.until(lambda b, n=expected: len(b) == n, "a step")
        await server.stop()
        ledger.lost()
        expected += len(tag_ids)
        got = await published.until(lambda b, n=expected: len(b) == n, "BAD at the loss")
        assert (got.quality[-len(tag_ids) :] == Quality.BAD).all()
        factory.advance(2)  # steps nobody could read
        await server.start()
        expected += ledger.report(everything=True)
        await published.until(lambda b, n=expected: len(b) == n, "values after the restart")
        for _ in range(2):
            factory.step()
            await server.sync()
            expected += ledger.report()
            await published.until(lambda b, n=expected: len(b) == n, "a step")
        await ingest.flush()
    finally:
        stop.set()
        await asyncio.wait_for(asyncio.gather(driver_task, ingest_task), WAIT_S)
    sent = published.all
    keys = set(zip(sent.tag_ids.tolist(), sent.ts.tolist(), strict=True))
    assert len(keys) == len(sent), "a (tag, ts) was published twice"
    assert store.count() == len(sent) == expected
    for path, samples in ledger.expected.items():
        stored = store.raw(tag_ids[path], 0, 2**62)
        assert stored.ts.tolist() == [ts for ts, _, _ in samples], path
        assert stored.quality.tolist() == [q for _, _, q in samples], path
        np.testing.assert_array_equal(stored.values, [v for _, v, _ in samples], err_msg=path)
    assert driver.stats.losses == 1 and driver.stats.connects == 2
    store.close()
