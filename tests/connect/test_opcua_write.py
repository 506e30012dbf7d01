"""Write-back of setpoints through the OPC UA driver, against the simulator's real server."""

import asyncio
import math
import time
from collections.abc import AsyncIterator, Callable

import numpy as np
import pytest
import pytest_asyncio
from asyncua import ua
from asyncua.client.client import Client
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors import UaStatusCodeError

from factoryos.connect.errors import BadStatusError, CodecError, ConnectError, WriteError
from factoryos.connect.opcua import OpcUaDriver
from factoryos.connect.opcua_samples import to_variant
from factoryos.connect.points import Point
from factoryos.connect.registry import build_drivers
from factoryos.model.devices import OpcUaDevice
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile, parse_site
from factoryos.model.tags import Tag
from factoryos.sim import VirtualFactory
from factoryos.sim.opcua import OpcUaFactoryServer, node_id, opcua_site
from support.ports import free_port
from support.sites import Cell, Equipment, site_yaml

CNC = "plant1/machining/line1/cell1/cnc-01"
SPEED = f"{CNC}/speed_sp"  # Float, writable
TEMP = f"{CNC}/temp_sp"  # Int16, writable
POWER = f"{CNC}/power_kw"  # Float, read-only on the server
TAGS = (
    "{name: speed_sp, unit: rpm, signal: spindle_speed_rpm, writable: true}",
    "{name: temp_sp, type: int16, unit: degC, signal: spindle_temp_c, writable: true}",
    "{name: power_kw, unit: kW}",
)
CELL = Cell("machining", "line1", "cell1", (Equipment("cnc-01", TAGS, simulate="{model: cnc}"),))
WAIT_S = 5.0
SHARED = pytest.mark.asyncio(loop_scope="module")  # the loop of the module's server

# The driver's tags; POWER_FORCED claims writable, which the server does not agree with.
SPEED_ID, TEMP_ID, POWER_FORCED_ID, POWER_ID = 1, 2, 3, 4


def _tag(name: str, path: str, **fields: object) -> Tag:
    return Tag.model_validate({"name": name, "opcua": {"node_id": node_id(path)}, **fields})


POINTS = [
    Point(SPEED_ID, _tag("speed", SPEED, writable=True, range=[0, 15000])),
    Point(TEMP_ID, _tag("temp", TEMP, type="int16", scale=0.1, writable=True)),
    Point(POWER_FORCED_ID, _tag("power_forced", POWER, writable=True)),
    Point(POWER_ID, _tag("power", POWER)),
]


@pytest.fixture(scope="module")
def site() -> SiteFile:
    return parse_site(site_yaml(cells=(CELL,)))


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def server(site: SiteFile) -> AsyncIterator[OpcUaFactoryServer]:
    """One server for the module: building one takes seconds."""
    factory = VirtualFactory(site, seed=7, step_s=10.0)
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/"
    async with OpcUaFactoryServer(factory, endpoint) as running:
        yield running


@pytest.fixture
def device(server: OpcUaFactoryServer) -> OpcUaDevice:
    return OpcUaDevice(
        name="sim",
        protocol="opcua",
        endpoint=server.endpoint,
        publishing_interval_s=0.05,
        sampling_interval_s=0.05,
        timeout_s=2.0,
    )


class Subscribed:
    """A driver running its subscription (``async with``: connected on entry, stopped on
    exit), and every batch it published."""

    def __init__(self, driver: OpcUaDriver) -> None:
        self.driver = driver
        self.batches: list[SampleBatch] = []
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def __aenter__(self) -> "Subscribed":
        self._task = asyncio.create_task(self.driver.run(self._publish, self._stop))
        await self.until(lambda: self.driver.stats.connected, "the subscription")
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._stop.set()
        if self._task is not None:
            await asyncio.wait_for(self._task, WAIT_S)

    async def _publish(self, batch: SampleBatch) -> None:
        self.batches.append(batch)

    def values(self, tag_id: int) -> list[float]:
        got = SampleBatch.concat(self.batches)
        return [float(v) for v in got.values[got.tag_ids == tag_id]]

    async def until(self, check: Callable[[], bool], what: str) -> None:
        deadline = time.monotonic() + WAIT_S
        while not check():
            if time.monotonic() > deadline:
                pytest.fail(f"timed out waiting for {what}")
            await asyncio.sleep(0.02)


@pytest_asyncio.fixture(loop_scope="module")
async def running(device: OpcUaDevice) -> AsyncIterator[Subscribed]:
    async with Subscribed(OpcUaDriver(device, POINTS)) as sub:
        yield sub


def _writes(driver: OpcUaDriver) -> list[str]:
    """The outcomes of the write requests the driver sent."""
    return [r.outcome for r in driver.recent() if r.request.startswith("write")]


@SHARED
async def test_float_round_trip_on_the_subscribed_session(
    server: OpcUaFactoryServer, running: Subscribed
) -> None:
    written = await running.driver.write(SPEED_ID, 1234.5)
    assert written == 1234.5
    assert await server.read(SPEED) == 1234.5
    # The subscription on the same session reports it, stamped with the simulated time.
    await running.until(lambda: 1234.5 in running.values(SPEED_ID), "the written value")
    got = SampleBatch.concat(running.batches)
    assert got.ts[got.tag_ids == SPEED_ID][-1] == server.factory.now_ns
    # The simulated machine holds a setpoint: stepping the factory does not overwrite it.
    server.factory.advance(30)
    await server.sync()
    assert await server.read(SPEED) == 1234.5
    assert _writes(running.driver) == ["ok"]
    assert running.driver.stats.connected


@SHARED
async def test_int16_node_gets_an_int16_with_the_tag_scale(
    server: OpcUaFactoryServer, running: Subscribed
) -> None:
    """42.36 °C at scale 0.1 is raw 423.6, which an Int16 holds as 424 (the server would
    refuse a Double: BadTypeMismatch)."""
    written = await running.driver.write(TEMP_ID, 42.36)
    assert written == pytest.approx(42.4)
    assert await server.read(TEMP) == 424.0
    await running.until(lambda: any(math.isclose(v, 42.4) for v in running.values(TEMP_ID)), "42.4")
    assert await running.driver.write(TEMP_ID, -3.0) == pytest.approx(-3.0)
    assert await server.read(TEMP) == -30.0
    assert _writes(running.driver) == ["ok", "ok"]


@SHARED
async def test_a_value_the_node_type_cannot_hold_is_refused_before_sending(
    server: OpcUaFactoryServer, running: Subscribed
) -> None:
    before = await server.read(TEMP)
    with pytest.raises(CodecError, match=r"tag temp .*40000.0 does not fit .*Int16"):
        await running.driver.write(TEMP_ID, 4000.0)  # raw 40000 > 32767
    assert await server.read(TEMP) == before
    assert _writes(running.driver) == [
        "device sim: tag temp (ns=2;s=plant1/machining/line1/cell1/cnc-01/temp_sp): 40000.0 "
        "does not fit the node's type Int16 (-32768..32767)"
    ]


@SHARED
async def test_the_server_refuses_a_node_that_is_not_writable(
    server: OpcUaFactoryServer, running: Subscribed
) -> None:
    """Our tag says writable, the server's does not: the refusal comes from the server."""
    before = await server.read(POWER)
    with pytest.raises(BadStatusError, match=r"write power_forced .* refused: BadUserAccessDenied"):
        await running.driver.write(POWER_FORCED_ID, 1.0)
    assert await server.read(POWER) == before
    assert "BadUserAccessDenied" in _writes(running.driver)[-1]
    assert running.driver.stats.connected  # a refused write does not end the session


@SHARED
async def test_an_unknown_node_is_refused_when_its_type_is_read(device: OpcUaDevice) -> None:
    ghost = OpcUaDriver(device, [Point(1, _tag("ghost", f"{CNC}/ghost", writable=True))])
    async with Subscribed(ghost):
        with pytest.raises(BadStatusError, match=r"read DataType of ghost .* BadNodeIdUnknown"):
            await ghost.write(1, 1.0)


@SHARED
async def test_other_clients_are_refused_too(server: OpcUaFactoryServer) -> None:
    """A plain asyncua client, without our driver's checks: read-only nodes and writes in
    the wrong type are refused by the server itself."""
    async with Client(server.endpoint, timeout=WAIT_S) as client:
        power = client.get_node(node_id(POWER))
        with pytest.raises(UaStatusCodeError) as denied:
            await power.write_value(ua.DataValue(ua.Variant(1.0, ua.VariantType.Float)))
        assert denied.value.code == StatusCodes.BadUserAccessDenied
        temp = client.get_node(node_id(TEMP))
        with pytest.raises(UaStatusCodeError) as mismatch:
            await temp.write_value(ua.DataValue(ua.Variant(5.0, ua.VariantType.Double)))
        assert mismatch.value.code == StatusCodes.BadTypeMismatch


@SHARED
@pytest.mark.parametrize(
    ("tag_id", "value", "message"),
    [
        (SPEED_ID, 20000.0, "20000.0 is outside its range 0.0..15000.0"),
        (SPEED_ID, -1.0, "-1.0 is outside its range"),
        (SPEED_ID, math.nan, "cannot write nan"),
        (TEMP_ID, math.inf, "cannot write inf"),
        (POWER_ID, 1.0, "tag power is not writable"),
        (99, 1.0, "no tag with id 99"),
    ],
)
async def test_refused_locally_with_nothing_sent(
    server: OpcUaFactoryServer, running: Subscribed, tag_id: int, value: float, message: str
) -> None:
    before = await server.read(SPEED)
    with pytest.raises(WriteError, match=message):
        await running.driver.write(tag_id, value)
    assert await server.read(SPEED) == before
    assert _writes(running.driver) == []


@SHARED
async def test_write_while_disconnected_is_a_connect_error(
    server: OpcUaFactoryServer, device: OpcUaDevice
) -> None:
    idle = OpcUaDriver(device, POINTS)
    with pytest.raises(ConnectError, match=r"nothing written \(the driver is not running\)"):
        await idle.write(SPEED_ID, 10.0)
    async with Subscribed(OpcUaDriver(device, POINTS)) as sub:
        try:
            await server.stop()
            await sub.until(lambda: not sub.driver.stats.connected, "the loss")
            with pytest.raises(ConnectError, match="not connected, nothing written; last error"):
                await sub.driver.write(SPEED_ID, 10.0)
        finally:
            await server.start()  # the next tests share it
        await sub.until(lambda: sub.driver.stats.connected, "the reconnection")
        assert await sub.driver.write(SPEED_ID, 10.0) == 10.0
        assert await server.read(SPEED) == 10.0


@SHARED
async def test_the_registry_writes_opcua_tags(site: SiteFile, server: OpcUaFactoryServer) -> None:
    """``opcua_site`` keeps ``writable``: the registry routes those tags to the driver."""
    served = opcua_site(site, server.endpoint)
    ids = {ref.path: i for i, ref in enumerate(served.tags())}
    drivers = build_drivers(served, ids)
    assert sorted(drivers.writers) == [ids[SPEED], ids[TEMP]]
    assert all(isinstance(w, OpcUaDriver) for w in drivers.writers.values())
    with pytest.raises(WriteError, match="not writable"):
        await drivers.write(ids[POWER], 1.0)


@pytest.mark.parametrize(
    ("raw", "vtype", "value", "held"),
    [
        (1.0, ua.VariantType.Boolean, True, 1.0),
        (-2.6, ua.VariantType.Int16, -3, -3.0),
        (65535.0, ua.VariantType.UInt16, 65535, 65535.0),
        (0.1, ua.VariantType.Float, float(np.float32(0.1)), float(np.float32(0.1))),
        (0.1, ua.VariantType.Double, 0.1, 0.1),
        (7.0, ua.VariantType.Variant, 7.0, 7.0),  # a node typed Number takes a Double
    ],
)
def test_to_variant(raw: float, vtype: ua.VariantType, value: object, held: float) -> None:
    variant, got = to_variant(raw, vtype)
    assert variant.Value == value and type(variant.Value) is type(value)
    assert got == held


@pytest.mark.parametrize(
    ("raw", "vtype", "message"),
    [
        (0.5, ua.VariantType.Boolean, "takes 0 or 1"),
        (-1.0, ua.VariantType.UInt32, "does not fit the node's type UInt32"),
        (1e39, ua.VariantType.Float, "does not fit the node's type Float"),
        (math.inf, ua.VariantType.Double, "not a number"),
        (1.0, ua.VariantType.String, "String holds no number"),
    ],
)
def test_to_variant_refuses(raw: float, vtype: ua.VariantType, message: str) -> None:
    with pytest.raises(CodecError, match=message):
        to_variant(raw, vtype)
