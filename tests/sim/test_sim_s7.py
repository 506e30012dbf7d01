"""The factory served over S7 by snap7's server, read back with the S7 poller."""

import logging
from collections.abc import AsyncIterator

import numpy as np
import pytest

from factoryos.connect.errors import ProtocolError
from factoryos.connect.s7 import S7Poller, build_s7_drivers
from factoryos.connect.s7_plan import encode_bytes, size_of
from factoryos.model.devices import S7Device
from factoryos.model.quality import Quality
from factoryos.model.site import SiteFile, parse_site
from factoryos.model.tags import DataType, S7Area
from factoryos.sim import SimServerError, VirtualFactory
from factoryos.sim.s7 import S7FactoryServer
from support.ports import bound_socket, free_ports
from support.sites import Cell, Equipment, site_yaml

T0 = 1_700_000_000_000_000_000
CNC_TAGS = (
    "{name: state, type: uint16, s7: {db: 1, offset: 0}, range: [0, 20]}",
    "{name: cycle_count, type: uint32, s7: {db: 1, offset: 2}}",
    "{name: good_count, type: int32, s7: {db: 1, offset: 6}}",
    "{name: power_kw, unit: kW, s7: {db: 1, offset: 10}, range: [0, 60]}",
    "{name: spindle_temp_c, type: int16, scale: 0.1, s7: {db: 1, offset: 14}}",
    "{name: alarm_active, type: bool, s7: {area: M, offset: 0, bit: 3}}",
    "{name: spindle_speed_rpm, s7: {area: Q, offset: 4}}",
    "{name: coolant_temp_c, type: int16, scale: 0.1, s7: {area: I, offset: 2}}",
)
COMPRESSOR_TAGS = (
    "{name: pressure_bar, unit: bar, writable: true, s7: {db: 5, offset: 0}}",
    "{name: loaded, type: bool, s7: {area: Q, offset: 0, bit: 0}}",
    "{name: power_kw, unit: kW, s7: {db: 5, offset: 4}, deadband: 0.5}",
)


def s7_site(ports: list[int]) -> SiteFile:
    """Two machines, each with its own S7 PLC on a local port."""
    cell = Cell(
        "machining",
        "line1",
        "cell1",
        (
            Equipment("cnc-01", CNC_TAGS, device="cnc-plc", simulate="{model: cnc}"),
            Equipment(
                "comp-01", COMPRESSOR_TAGS, device="comp-plc", simulate="{model: compressor}"
            ),
        ),
    )
    common = "protocol: s7, host: 127.0.0.1, poll_interval_s: 0.1, timeout_s: 0.5"
    devices = [
        f"{{name: cnc-plc, {common}, port: {ports[0]}, rack: 0, slot: 1}}",
        f"{{name: comp-plc, {common}, port: {ports[1]}, rack: 0, slot: 2}}",
    ]
    return parse_site(site_yaml(None, name="plant", cells=[cell], devices=devices))


@pytest.fixture
async def served() -> AsyncIterator[tuple[VirtualFactory, dict[str, S7FactoryServer]]]:
    site = s7_site(free_ports(2))
    factory = VirtualFactory(site, seed=3, step_s=10.0)
    factory.advance(9 * 360)  # 09:00: the machines are at work
    servers = {d.name: S7FactoryServer(factory, d) for d in site.devices if isinstance(d, S7Device)}
    for server in servers.values():
        server.sync()
        await server.start()
    yield factory, servers
    for server in servers.values():
        await server.stop()


def _pollers(factory: VirtualFactory) -> tuple[list[S7Poller], dict[int, str]]:
    ids = {ref.path: i for i, ref in enumerate(factory.site.tags())}
    return build_s7_drivers(factory.site, ids), {i: p for p, i in ids.items()}


async def test_memory_holds_every_tag_big_endian_where_the_site_says(
    served: tuple[VirtualFactory, dict[str, S7FactoryServer]],
) -> None:
    factory, servers = served
    server = servers["cnc-plc"]
    assert sorted(server.areas()) == sorted(
        [(S7Area.DB, 1), (S7Area.M, 0), (S7Area.Q, 0), (S7Area.I, 0)]
    )
    assert len(server.memory(S7Area.DB, 1)) == 16  # up to the end of the last tag
    for ref in factory.tag_refs():
        a = ref.tag.s7
        if ref.equipment.device != "cnc-plc" or a is None:
            continue
        raw = (factory.value(ref.path) - ref.tag.offset) / ref.tag.scale
        memory = server.memory(a.area, a.db)
        if ref.tag.type == DataType.BOOL:
            assert (memory[a.offset] >> (a.bit or 0)) & 1 == raw, ref.path
        else:
            held = memory[a.offset : a.offset + size_of(ref.tag.type)]
            assert held == encode_bytes([raw], ref.tag.type).tobytes(), ref.path


async def test_the_poller_reads_what_the_factory_simulates(
    served: tuple[VirtualFactory, dict[str, S7FactoryServer]],
) -> None:
    factory, _ = served
    pollers, paths = _pollers(factory)
    assert [p.name for p in pollers] == ["cnc-plc", "comp-plc"]
    assert [len(p.plan.blocks) for p in pollers] == [4, 2]  # DB1, M, I, Q / DB5, Q
    for poller in pollers:
        batch = await poller.poll_once(T0)
        await poller.close()
        assert len(batch) == len(poller.points)
        assert set(batch.quality.tolist()) <= {Quality.GOOD, Quality.UNCERTAIN}
        for tag_id, value in zip(batch.tag_ids.tolist(), batch.values.tolist(), strict=True):
            assert value == pytest.approx(factory.value(paths[tag_id]), rel=1e-6), paths[tag_id]
    power = next(p for p in paths.values() if p.endswith("cnc-01/power_kw"))
    assert factory.value(power) > 1.0  # at work: not a zero page that would pass anyway


async def test_sync_moves_the_values_clients_read(
    served: tuple[VirtualFactory, dict[str, S7FactoryServer]],
) -> None:
    factory, servers = served
    pollers, paths = _pollers(factory)
    cnc = pollers[0]
    assert len(await cnc.poll_once(T0)) == len(cnc.points)
    cycles = next(i for i, p in paths.items() if p.endswith("cnc-01/cycle_count"))
    first = factory.value(paths[cycles])
    factory.advance(360)  # an hour later
    servers["cnc-plc"].sync()
    batch = await cnc.poll_once(T0 + 1)
    await cnc.close()
    got = dict(zip(batch.tag_ids.tolist(), batch.values.tolist(), strict=True))
    assert got[cycles] == factory.value(paths[cycles]) > first


async def test_a_stopped_plc_gives_bad_at_once_and_recovers_on_the_same_port(
    served: tuple[VirtualFactory, dict[str, S7FactoryServer]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="factoryos.connect.s7")
    factory, servers = served
    pollers, _ = _pollers(factory)
    cnc, comp = pollers
    assert Quality.BAD not in (await cnc.poll_once(T0)).quality.tolist()
    await servers["cnc-plc"].stop()  # the poller is still connected: the PLC drops it
    assert not servers["cnc-plc"].running
    for n in range(3):
        batch = await cnc.poll_once(T0 + n, retry_now=True)
        assert set(batch.quality.tolist()) == {Quality.BAD}
        assert np.isnan(batch.values).all()
    assert Quality.BAD not in (await comp.poll_once(T0)).quality.tolist()  # its neighbour
    await servers["cnc-plc"].start()
    batch = await cnc.poll_once(T0 + 10, retry_now=True)
    assert Quality.BAD not in batch.quality.tolist()
    assert cnc.stats.connected and comp.stats.failures == 0
    messages = [r.getMessage() for r in caplog.records]
    assert len([m for m in messages if "cnc-plc down" in m]) == 1
    assert [m for m in messages if "recovered" in m] == ["device cnc-plc recovered after 3 polls"]
    for poller in pollers:
        await poller.close()


async def test_the_simulated_plc_refuses_writes(
    served: tuple[VirtualFactory, dict[str, S7FactoryServer]],
) -> None:
    factory, servers = served
    pollers, paths = _pollers(factory)
    comp = pollers[1]
    pressure = next(i for i, p in paths.items() if p.endswith("comp-01/pressure_bar"))
    before = servers["comp-plc"].memory(S7Area.DB, 5)
    with pytest.raises(ProtocolError, match=r"write DB5 bytes 0\.\.3 refused"):
        await comp.write(pressure, 7.5)
    assert servers["comp-plc"].memory(S7Area.DB, 5) == before
    assert Quality.BAD not in (await comp.poll_once(T0)).quality.tolist()  # still connected
    await comp.close()


async def test_a_port_in_use_is_a_clear_error() -> None:
    with bound_socket() as taken:
        taken.listen()
        port = taken.getsockname()[1]
        site = s7_site([port, free_ports(1)[0]])
        device = site.devices[0]
        assert isinstance(device, S7Device)
        server = S7FactoryServer(VirtualFactory(site), device)
        with pytest.raises(
            SimServerError, match=f"device cnc-plc: cannot listen on 127.0.0.1:{port}"
        ):
            await server.start()
        assert not server.running
