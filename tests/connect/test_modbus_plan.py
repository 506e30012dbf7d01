import numpy as np
import pytest

from factoryos.connect.codec import encode
from factoryos.connect.errors import ConfigError
from factoryos.connect.modbus_plan import MAX_BITS, ModbusPoint, build_plan
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.tags import DataType, ModbusTable, Tag, WordOrder

from .points import point

HR, IR, CO, DI = ModbusTable.HOLDING, ModbusTable.INPUT, ModbusTable.COIL, ModbusTable.DISCRETE


def blocks(device: ModbusTcpDevice, points: list[ModbusPoint]) -> list[tuple[str, int, int]]:
    return [(str(b.table), b.address, b.count) for b in build_plan(device, points).blocks]


DEVICE = ModbusTcpDevice(name="plc")


def test_groups_by_table_sorts_and_merges_small_gaps() -> None:
    points = [
        point(1, HR, 30),
        point(2, CO, 5, DataType.BOOL),
        point(3, HR, 0, DataType.FLOAT32),
        point(4, IR, 7),
        point(5, HR, 10),  # 8 unused registers after the float at 0..1: merged
        point(6, CO, 0, DataType.BOOL),
    ]
    assert blocks(DEVICE, points) == [
        ("holding", 0, 11),
        ("holding", 30, 1),
        ("input", 7, 1),
        ("coil", 0, 6),
    ]


def test_a_gap_of_nine_starts_a_new_block() -> None:
    points = [point(1, HR, 0), point(2, HR, 9), point(3, HR, 19)]
    assert blocks(DEVICE, points) == [("holding", 0, 10), ("holding", 19, 1)]


def test_blocks_respect_max_block_and_never_split_a_value() -> None:
    device = ModbusTcpDevice(name="small", max_block=3)
    points = [point(i, HR, 2 * i, DataType.FLOAT32) for i in range(3)]
    assert blocks(device, points) == [("holding", 0, 2), ("holding", 2, 2), ("holding", 4, 2)]
    points = [point(i, HR, i) for i in range(7)]
    assert blocks(device, points) == [("holding", 0, 3), ("holding", 3, 3), ("holding", 6, 1)]


def test_bit_blocks_hold_up_to_2000_bits() -> None:
    points = [point(i, DI, i, DataType.BOOL) for i in range(2500)]
    assert blocks(DEVICE, points) == [("discrete", 0, MAX_BITS), ("discrete", 2000, 500)]


def test_plan_decodes_every_point_from_one_buffer() -> None:
    device = ModbusTcpDevice(name="plc", word_order=WordOrder.LITTLE)
    points = [
        point(1, HR, 4, DataType.FLOAT32),  # device order: little
        point(2, HR, 0, DataType.FLOAT32, word_order=WordOrder.BIG),
        point(3, HR, 2, DataType.INT16),
        point(4, IR, 0, DataType.UINT32),
        point(5, CO, 3, DataType.BOOL),
    ]
    plan = build_plan(device, points)
    buffer = np.zeros(plan.buffer_size, dtype=np.uint16)
    by_table = {b.table: b for b in plan.blocks}
    h, i, c = by_table[HR].offset, by_table[IR].offset, by_table[CO].offset
    buffer[h + 4 : h + 6] = encode(np.array([2.5]), DataType.FLOAT32, WordOrder.LITTLE)
    buffer[h : h + 2] = encode(np.array([-1.5]), DataType.FLOAT32, WordOrder.BIG)
    buffer[h + 2] = encode(np.array([-3.0]), DataType.INT16, WordOrder.BIG)[0]
    buffer[i : i + 2] = encode(np.array([70000.0]), DataType.UINT32, WordOrder.LITTLE)
    buffer[c] = 1  # the coil block starts at the point, address 3
    assert plan.decode(buffer).tolist() == [2.5, -1.5, -3.0, 70000.0, 1.0]
    assert plan.block_of_point.tolist() == [0, 0, 0, 1, 2]


def test_overlapping_points_share_registers() -> None:
    plan = build_plan(DEVICE, [point(1, HR, 0, DataType.UINT32), point(2, HR, 1, DataType.UINT16)])
    assert [(b.address, b.count) for b in plan.blocks] == [(0, 2)]
    buffer = np.array([0x0001, 0x0002], dtype=np.uint16)
    assert plan.decode(buffer).tolist() == [0x00010002, 2.0]


def test_no_points_is_an_empty_plan() -> None:
    plan = build_plan(DEVICE, [])
    assert plan.blocks == ()
    assert plan.buffer_size == 0
    assert plan.decode(np.zeros(0, dtype=np.uint16)).tolist() == []


def test_a_tag_without_modbus_address_is_refused() -> None:
    with pytest.raises(ConfigError, match="device plc: tag 'speed' \\(id 7\\) has no Modbus"):
        build_plan(DEVICE, [ModbusPoint(7, Tag(name="speed"))])


def test_a_value_larger_than_max_block_is_refused() -> None:
    with pytest.raises(ConfigError, match="'t1' needs 2 registers but max_block is 1"):
        build_plan(ModbusTcpDevice(name="tiny", max_block=1), [point(1, HR, 0, DataType.INT32)])
