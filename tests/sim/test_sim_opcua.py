"""The factory served over OPC UA, read back with a real asyncua client."""

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
import yaml
from asyncua import ua
from asyncua.client.client import Client

from factoryos.model.site import SiteFile, parse_site
from factoryos.sim import SimServerError, VirtualFactory
from factoryos.sim.opcua import OpcUaFactoryServer, node_id, ns_to_datetime, opcua_site
from support.ports import free_port

CNC = "demo/machining/line1/cell1/cnc-01"

SHARED = pytest.mark.asyncio(loop_scope="module")  # tests on the module's server


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def served(demo_site: SiteFile) -> AsyncIterator[OpcUaFactoryServer]:
    factory = VirtualFactory(demo_site, seed=5, step_s=10.0)
    factory.advance(9 * 360)  # 09:00: the machines are at work
    server = OpcUaFactoryServer(factory, f"opc.tcp://127.0.0.1:{free_port()}/")
    async with server:
        yield server


async def _read(server: OpcUaFactoryServer, path: str) -> ua.DataValue:
    async with Client(server.endpoint, timeout=2) as client:
        return await client.get_node(node_id(path)).read_data_value(raise_on_bad_status=False)


@SHARED
async def test_every_simulated_tag_is_a_variable_with_the_factory_value(
    served: OpcUaFactoryServer,
) -> None:
    factory = served.factory
    async with Client(served.endpoint, timeout=2) as client:
        nodes = [client.get_node(node_id(ref.path)) for ref in factory.tag_refs()]
        values = await client.read_values(nodes)
    assert len(values) == len(factory.tag_refs()) > 50
    for ref, value in zip(factory.tag_refs(), values, strict=True):
        assert float(value) == factory.value(ref.path), ref.path


@SHARED
async def test_sync_writes_changes_stamped_with_simulated_time(
    served: OpcUaFactoryServer,
) -> None:
    factory = served.factory
    power = f"{CNC}/power_kw"
    before = await _read(served, power)
    factory.advance(3)
    await served.sync()
    after = await _read(served, power)
    assert after.Value is not None and after.Value.Value == factory.value(power)
    assert after.SourceTimestamp == ns_to_datetime(factory.now_ns)
    assert before.SourceTimestamp is not None and before.SourceTimestamp < after.SourceTimestamp


@SHARED
async def test_isa95_folders_units_and_descriptions(served: OpcUaFactoryServer) -> None:
    async with Client(served.endpoint, timeout=2) as client:
        objects = client.nodes.objects
        machine = await objects.get_child(
            [f"2:{name}" for name in ("demo", "machining", "line1", "cell1", "cnc-01")]
        )
        power = await machine.get_child("2:power_kw")
        unit = await (await power.get_child("0:EngineeringUnits")).read_value()
        description = await power.read_description()
        assert power.nodeid.to_string() == node_id(f"{CNC}/power_kw")
    assert unit.DisplayName.Text == "kW"
    assert description.Text == "Active power of the machine"


@SHARED
async def test_scaled_tags_are_served_as_engineering_doubles(served: OpcUaFactoryServer) -> None:
    temp = f"{CNC}/spindle_temp_c"  # int16 with scale 0.1 in the demo site
    dv = await _read(served, temp)
    assert dv.Value is not None and dv.Value.VariantType == ua.VariantType.Double
    assert dv.Value.Value == served.factory.value(temp)


@SHARED
async def test_restart_on_the_same_port_serves_again(served: OpcUaFactoryServer) -> None:
    await served.stop()
    assert not served.running
    with pytest.raises((OSError, TimeoutError)):
        async with Client(served.endpoint, timeout=1):
            pass
    served.factory.advance(2)
    await served.start()
    power = f"{CNC}/power_kw"
    dv = await _read(served, power)
    assert dv.Value is not None and dv.Value.Value == served.factory.value(power)
    assert dv.SourceTimestamp == ns_to_datetime(served.factory.now_ns)


@SHARED
async def test_port_in_use_is_a_clear_error(served: OpcUaFactoryServer) -> None:
    second = OpcUaFactoryServer(served.factory, served.endpoint)
    with pytest.raises(SimServerError, match="cannot listen"):
        await second.start()


@SHARED
async def test_set_status_reports_a_bad_value(served: OpcUaFactoryServer) -> None:
    power = f"{CNC}/power_kw"
    await served.set_status(power, 0x80000000)
    dv = await _read(served, power)
    assert dv.StatusCode is not None and not dv.StatusCode.is_good()
    await served.sync()  # a sync makes it good again
    dv = await _read(served, power)
    assert dv.StatusCode is not None and dv.StatusCode.is_good()


def test_opcua_site_moves_simulated_equipment_to_the_server(demo_site: SiteFile) -> None:
    site = opcua_site(demo_site, "opc.tcp://127.0.0.1:4840/", publishing_interval_s=0.1)
    text = yaml.safe_dump(site.model_dump(mode="json", exclude_none=True))
    reparsed = parse_site(text)  # the cross-checks of a site file hold
    opcua = [ref for ref in reparsed.tags() if ref.tag.opcua is not None]
    assert len(opcua) == len(VirtualFactory(demo_site).tag_refs())
    power = next(ref for ref in opcua if ref.path == f"{CNC}/power_kw")
    assert power.tag.opcua is not None and power.tag.opcua.node_id == node_id(power.path)
    assert power.equipment.device == "sim-opcua" and power.tag.modbus is None
    assert all(ref.tag.scale == 1.0 and ref.tag.offset == 0.0 for ref in opcua)
    assert reparsed.device("sim-opcua").protocol == "opcua"
