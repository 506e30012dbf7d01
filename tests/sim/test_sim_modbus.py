"""The factory served over Modbus TCP, read back with a real pymodbus client."""

import asyncio
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ModbusException

from factoryos.connect.codec import decode, encode, to_engineering, to_raw
from factoryos.model.site import SiteFile, TagRef
from factoryos.model.tags import ModbusTable
from factoryos.sim import (
    MachineState,
    SimServerError,
    SimulatorHost,
    VirtualFactory,
)

CNC_DEVICE = "cnc-01-plc"
TIMEOUT_S = 0.5


@pytest.fixture
async def host(demo_on_free_ports: SiteFile) -> AsyncIterator[SimulatorHost]:
    factory = VirtualFactory(demo_on_free_ports, seed=11, step_s=10.0)
    async with SimulatorHost(factory) as running:
        running.advance(9 * 360)  # 09:00: the machines are at work
        yield running


async def _client(host: SimulatorHost, device: str) -> AsyncModbusTcpClient:
    client = AsyncModbusTcpClient(
        "127.0.0.1", port=host.servers[device].device.port, timeout=TIMEOUT_S, retries=0
    )
    assert await client.connect()
    return client


async def _read(client: AsyncModbusTcpClient, table: ModbusTable, count: int) -> list[int]:
    """Every register (or bit, as 0/1) of a table from address 0."""
    readers = {
        ModbusTable.HOLDING: client.read_holding_registers,
        ModbusTable.INPUT: client.read_input_registers,
        ModbusTable.COIL: client.read_coils,
        ModbusTable.DISCRETE: client.read_discrete_inputs,
    }
    response = await readers[table](0, count=count, device_id=1)
    assert not response.isError(), response
    return [int(b) for b in response.bits[:count]] if table.is_bit else list(response.registers)


def _device_tags(host: SimulatorHost, device: str) -> list[TagRef]:
    return [ref for ref in host.factory.tag_refs() if ref.equipment.device == device]


async def _check_device(host: SimulatorHost, device: str) -> int:
    """Registers hold exactly the encoded ``factory.value`` of each tag; returns tags checked."""
    factory, dev = host.factory, host.servers[device].device
    client = await _client(host, device)
    try:
        tags = _device_tags(host, device)
        ends: dict[ModbusTable, int] = {}
        for ref in tags:
            assert ref.tag.modbus is not None
            m = ref.tag.modbus
            ends[m.table] = max(ends.get(m.table, 0), m.address + ref.tag.type.words)
        tables = {t: await _read(client, t, n) for t, n in ends.items()}
        for ref in tags:
            assert ref.tag.modbus is not None
            m = ref.tag.modbus
            order = m.word_order or dev.word_order
            words = tables[m.table][m.address : m.address + ref.tag.type.words]
            tag, value = ref.tag, factory.value(ref.path)
            raw = to_raw(np.array([value]), tag.scale, tag.offset)
            assert words == encode(raw, tag.type, order).tolist(), ref.path
            decoded = to_engineering(decode(words, tag.type, order), tag.scale, tag.offset)
            assert decoded.tolist() == [value], ref.path
        return len(tags)
    finally:
        client.close()


async def test_client_reads_exactly_the_factory_values(host: SimulatorHost) -> None:
    checked = 0
    for device in host.servers:
        checked += await _check_device(host, device)
    assert checked == len(host.factory.tag_refs())


async def test_registers_follow_the_factory_after_each_advance(host: SimulatorHost) -> None:
    path = "demo/packaging/pack1/cell1/packer-01/cycle_count"
    before = host.factory.value(path)
    host.advance(60)
    assert host.factory.value(path) > before
    assert await _check_device(host, "packer-01-plc") > 0


async def test_state_register_holds_the_packml_code(host: SimulatorHost) -> None:
    client = await _client(host, CNC_DEVICE)
    try:
        path = "demo/machining/line1/cell1/cnc-01"
        host.factory.inject_fault(path, "breakdown", duration_s=600)
        host.sync_all()
        assert await _read(client, ModbusTable.HOLDING, 1) == [MachineState.UNPLANNED_DOWN]
        assert await _read(client, ModbusTable.DISCRETE, 1) == [1]
    finally:
        client.close()


async def test_reads_past_the_map_and_writes_are_refused(host: SimulatorHost) -> None:
    client = await _client(host, CNC_DEVICE)
    try:
        past = await client.read_holding_registers(0, count=17, device_id=1)
        assert past.isError()
        write = await client.write_register(0, 1, device_id=1)
        assert write.isError()
        coil = await client.write_coil(0, True, device_id=1)
        assert coil.isError()
        assert await _read(client, ModbusTable.HOLDING, 1) != [1]
    finally:
        client.close()


async def test_stop_cuts_clients_off_and_start_brings_the_device_back(
    host: SimulatorHost,
) -> None:
    server = host.servers[CNC_DEVICE]
    client = await _client(host, CNC_DEVICE)
    try:
        assert await _read(client, ModbusTable.HOLDING, 1)
        await server.stop()
        assert not server.running
        with pytest.raises(ModbusException):
            await client.read_holding_registers(0, count=1, device_id=1)
        refused = AsyncModbusTcpClient(
            "127.0.0.1", port=server.device.port, timeout=TIMEOUT_S, retries=0
        )
        assert not await refused.connect()
        refused.close()
        # The other devices keep serving.
        assert await _check_device(host, "cnc-02-plc") > 0
        await server.start()
        assert server.running
        assert await _check_device(host, CNC_DEVICE) > 0
    finally:
        client.close()


async def test_a_busy_port_is_a_clear_error(demo_on_free_ports: SiteFile) -> None:
    factory = VirtualFactory(demo_on_free_ports)
    async with SimulatorHost(factory):
        again = SimulatorHost(VirtualFactory(demo_on_free_ports))
        with pytest.raises(SimServerError, match=r"device cnc-01-plc: cannot listen"):
            await again.start_all()
        assert not any(s.running for s in again.servers.values())


async def test_run_realtime_steps_with_the_wall_clock(demo_on_free_ports: SiteFile) -> None:
    factory = VirtualFactory(demo_on_free_ports, step_s=0.05)
    host = SimulatorHost(factory)
    stop = asyncio.Event()
    async with host:
        start = time.monotonic()
        task = asyncio.create_task(host.run_realtime(stop))
        await asyncio.sleep(0.5)
        stop.set()
        await asyncio.wait_for(task, timeout=1.0)
        elapsed = time.monotonic() - start
        assert 0.5 * elapsed / 0.05 <= factory.steps <= elapsed / 0.05 + 1
        assert await _check_device(host, "meter-01-plc") > 0
