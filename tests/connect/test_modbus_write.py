"""Writing setpoints to a real pymodbus server: range-checked, encoded, read back."""

import numpy as np
import pytest

from factoryos.connect import ModbusPoller
from factoryos.connect.codec import decode
from factoryos.connect.errors import ConnectError, WriteError
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.tags import DataType, ModbusTable, WordOrder
from support.modbus_server import ModbusTestServer
from support.ports import free_port

from .points import point

HR, COIL = ModbusTable.HOLDING, ModbusTable.COIL


def device(port: int) -> ModbusTcpDevice:
    return ModbusTcpDevice(name="plc", port=port, timeout_s=0.5)


POINTS = [
    point(1, HR, 10, DataType.FLOAT32, writable=True, range=(0.0, 100.0)),
    point(2, HR, 12, DataType.INT16, writable=True, scale=0.1),
    point(3, COIL, 3, DataType.BOOL, writable=True),
    point(4, HR, 14, DataType.UINT32, word_order=WordOrder.LITTLE, writable=True),
    point(5, HR, 20),  # not writable
]


async def test_writes_land_in_the_device_encoded_as_its_tag(
    modbus_server: ModbusTestServer,
) -> None:
    poller = ModbusPoller(device(modbus_server.port), POINTS)
    try:
        assert await poller.write(1, 42.5) == 42.5
        assert await poller.write(2, 12.34) == pytest.approx(12.3)  # int16 × 0.1 rounds
        assert await poller.write(3, 1) == 1.0
        assert await poller.write(4, 70_000) == 70_000
        held = modbus_server.memory.holding
        assert decode(held[10:12], DataType.FLOAT32, WordOrder.BIG)[0] == 42.5
        assert held[12] == 123
        assert decode(held[14:16], DataType.UINT32, WordOrder.LITTLE)[0] == 70_000
        assert bool(modbus_server.memory.coil[3])
        polled = await poller.poll_once(1)
        assert polled.values[:2].tolist() == [42.5, pytest.approx(12.3)]
    finally:
        await poller.close()


@pytest.mark.parametrize(
    ("tag_id", "value", "words"),
    [
        (1, 100.5, "outside its range"),
        (1, float("nan"), "cannot write"),
        (3, 0.5, "a bool takes 0 or 1"),
        (5, 1.0, "not writable"),
        (99, 1.0, "no tag"),
    ],
)
async def test_refused_writes_send_nothing(
    modbus_server: ModbusTestServer, tag_id: int, value: float, words: str
) -> None:
    poller = ModbusPoller(device(modbus_server.port), POINTS)
    before = modbus_server.memory.holding.copy()
    try:
        with pytest.raises(WriteError, match=words):
            await poller.write(tag_id, value)
        assert modbus_server.requests == 0
        np.testing.assert_array_equal(modbus_server.memory.holding, before)
    finally:
        await poller.close()


async def test_a_write_to_an_unreachable_device_fails_clearly() -> None:
    poller = ModbusPoller(device(free_port()), POINTS)
    with pytest.raises(ConnectError, match="cannot connect"):
        await poller.write(1, 10.0)
    await poller.close()
