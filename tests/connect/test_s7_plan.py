"""S7 read plans and the big-endian byte codec, against known byte vectors."""

import numpy as np
import pytest

from factoryos.connect.errors import CodecError, ConfigError
from factoryos.connect.s7_plan import (
    MAX_GAP,
    PDU_SIZE,
    S7Point,
    build_s7_plan,
    decode_bytes,
    encode_bytes,
    max_block,
    set_bit,
)
from factoryos.model.devices import S7Device
from factoryos.model.tags import DataType, S7Address, S7Area, Tag

PLC = S7Device(name="plc", protocol="s7")


def s7_point(
    tag_id: int,
    area: S7Area,
    byte: int,
    dtype: DataType = DataType.INT16,
    *,
    db: int = 0,
    bit: int | None = None,
    **tag: object,
) -> S7Point:
    """Tag ``t<tag_id>`` of ``dtype`` at byte ``byte`` of ``area``; ``tag`` adds fields."""
    address = S7Address(area=area, db=db, offset=byte, bit=bit)
    fields = {"name": f"t{tag_id}", "type": dtype, "s7": address, **tag}
    return S7Point(tag_id, Tag.model_validate(fields))


def u8(hex_bytes: str) -> np.ndarray:
    return np.frombuffer(bytes.fromhex(hex_bytes), dtype=np.uint8)


@pytest.mark.parametrize(
    ("dtype", "hex_bytes", "value"),
    [
        (DataType.FLOAT32, "3F800000", 1.0),  # REAL 1.0
        (DataType.FLOAT32, "C0490FDB", np.float32(-3.1415927)),
        (DataType.INT16, "FFFE", -2.0),  # INT -2
        (DataType.INT16, "7FFF", 32767.0),
        (DataType.UINT16, "FFFE", 65534.0),  # WORD
        (DataType.INT32, "FFFFFFFE", -2.0),  # DINT
        (DataType.INT32, "00012345", 74565.0),
        (DataType.UINT32, "FFFFFFFE", 4294967294.0),  # DWORD
    ],
)
def test_known_byte_vectors_decode_and_encode(
    dtype: DataType, hex_bytes: str, value: float
) -> None:
    assert decode_bytes(u8(hex_bytes), dtype).tolist() == [float(value)]
    assert encode_bytes([value], dtype).tobytes().hex().upper() == hex_bytes


def test_bits_are_numbered_from_the_least_significant() -> None:
    byte = u8("A5" * 8)  # 1010 0101
    assert decode_bytes(byte, DataType.BOOL, np.arange(8, dtype=np.uint8)).tolist() == [
        1, 0, 1, 0, 0, 1, 0, 1
    ]  # fmt: skip
    assert set_bit(0xA5, 1, True) == 0xA7
    assert set_bit(0xA5, 7, False) == 0x25
    assert set_bit(0xA5, 0, True) == 0xA5


def test_encode_refuses_what_the_type_cannot_hold() -> None:
    with pytest.raises(CodecError, match="does not fit int16"):
        encode_bytes([40000], DataType.INT16)
    with pytest.raises(CodecError, match="does not fit uint32"):
        encode_bytes([-1], DataType.UINT32)
    with pytest.raises(ConfigError, match="bit"):
        encode_bytes([1], DataType.BOOL)


def test_points_coalesce_per_area_and_data_block() -> None:
    points = [
        s7_point(1, S7Area.DB, 4, DataType.FLOAT32, db=10),
        s7_point(2, S7Area.DB, 0, DataType.INT16, db=10),
        s7_point(3, S7Area.DB, 0, DataType.INT16, db=11),
        s7_point(4, S7Area.M, 2, DataType.BOOL, bit=3),
        s7_point(5, S7Area.M, 2, DataType.BOOL, bit=4),  # same byte, another bit
        s7_point(6, S7Area.I, 0, DataType.UINT16),
        s7_point(7, S7Area.Q, 1, DataType.BOOL, bit=0),
        s7_point(8, S7Area.DB, 8 + MAX_GAP + 1, DataType.INT32, db=10),  # too far: own block
    ]
    plan = build_s7_plan(PLC, points)
    assert [b.describe() for b in plan.blocks] == [
        "DB10 bytes 0..7",
        "DB10 bytes 25..28",
        "DB11 bytes 0..1",
        "M bytes 2..2",
        "I bytes 0..1",
        "Q bytes 1..1",
    ]
    assert plan.block_of_point.tolist() == [0, 0, 2, 3, 3, 4, 5, 1]
    assert [b.offset for b in plan.blocks] == [0, 8, 12, 14, 15, 17]
    assert plan.buffer_size == 18

    buffer = u8(
        "FFFE 0000 3F800000"  # DB10 0..7: INT -2, gap, REAL 1.0
        "00012345"  # DB10 25..28: DINT
        "7FFF"  # DB11 0..1
        "18"  # M2: bits 3 and 4
        "FFFE"  # IW0
        "FE"  # Q1: bit 0 clear
    )
    assert plan.decode(buffer).tolist() == [1.0, -2.0, 32767.0, 1.0, 1.0, 65534.0, 0.0, 74565.0]


def test_blocks_never_exceed_what_one_pdu_returns() -> None:
    points = [s7_point(i, S7Area.DB, 4 * i, DataType.FLOAT32, db=1) for i in range(200)]
    plan = build_s7_plan(PLC, points)
    assert max_block(PDU_SIZE) == 222
    assert max(b.size for b in plan.blocks) <= 222
    assert sum(b.size for b in plan.blocks) == 800
    assert len(plan.blocks) == 4  # 220 + 220 + 220 + 140 bytes (whole REALs only)
    bigger = build_s7_plan(PLC, points, pdu_size=960)
    assert [b.size for b in bigger.blocks] == [800]
    raw = np.arange(200, dtype=">f4").view(np.uint8)
    assert plan.decode(raw).tolist() == list(map(float, range(200)))


def test_bad_addresses_are_config_errors_naming_the_tag() -> None:
    with pytest.raises(ConfigError, match="tag 't1' is in area DB but has no db"):
        build_s7_plan(PLC, [s7_point(1, S7Area.DB, 0)])
    with pytest.raises(ConfigError, match="tag 't2' is in area M: db must be left out"):
        build_s7_plan(PLC, [s7_point(2, S7Area.M, 0, db=3)])
    no_address = S7Point(3, Tag(name="t3"))
    with pytest.raises(ConfigError, match=r"tag 't3' \(id 3\) has no S7 address"):
        build_s7_plan(PLC, [no_address])
    with pytest.raises(ConfigError, match="PDU size 20"):
        build_s7_plan(PLC, [], pdu_size=20)


def test_an_empty_plan_reads_nothing() -> None:
    plan = build_s7_plan(PLC, [])
    assert plan.blocks == ()
    assert plan.decode(np.zeros(0, dtype=np.uint8)).tolist() == []
