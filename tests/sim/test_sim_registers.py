"""The simulator's register encoding, against known vectors and pymodbus's own codec."""

import numpy as np
import pytest
from pymodbus.client import ModbusTcpClient

from factoryos.model.site import SiteFile
from factoryos.model.tags import DataType, Tag, WordOrder
from factoryos.sim import decode_words, encode_words, quantize

BIG, LITTLE = WordOrder.BIG, WordOrder.LITTLE


def _tag(type_: str, scale: float = 1.0, offset: float = 0.0) -> Tag:
    return Tag(name="t", type=DataType(type_), scale=scale, offset=offset)


@pytest.mark.parametrize(
    ("type_", "value", "order", "words"),
    [
        ("float32", 1.0, BIG, [0x3F80, 0x0000]),
        ("float32", 1.0, LITTLE, [0x0000, 0x3F80]),
        ("float32", -2.5, BIG, [0xC020, 0x0000]),
        ("int32", -2.0, BIG, [0xFFFF, 0xFFFE]),
        ("int32", -2.0, LITTLE, [0xFFFE, 0xFFFF]),
        ("uint32", 70000.0, BIG, [0x0001, 0x1170]),
        ("uint32", 70000.0, LITTLE, [0x1170, 0x0001]),
        ("int16", -1.0, BIG, [0xFFFF]),
        ("uint16", 513.0, LITTLE, [0x0201]),
        ("bool", 1.0, BIG, [1]),
        ("bool", 0.2, BIG, [0]),
    ],
)
def test_known_vectors(type_: str, value: float, order: WordOrder, words: list[int]) -> None:
    tag = _tag(type_)
    assert encode_words(value, tag, order) == words
    assert decode_words(words, tag, order) == quantize(value, tag)


def test_scale_and_offset_round_to_nearest_raw() -> None:
    temp = _tag("int16", scale=0.1)
    assert encode_words(23.44, temp, BIG) == [234]
    assert encode_words(-12.36, temp, BIG) == [(-124) & 0xFFFF]
    assert quantize(23.44, temp) == 234 * 0.1
    kelvin = _tag("uint16", scale=0.5, offset=-273.0)
    assert encode_words(20.0, kelvin, BIG) == [586]
    assert quantize(20.1, kelvin) == 586 * 0.5 - 273.0


def test_integers_saturate_at_the_type_range() -> None:
    assert encode_words(-5.0, _tag("uint16"), BIG) == [0]
    assert encode_words(1e6, _tag("int16"), BIG) == [0x7FFF]
    assert encode_words(-1e6, _tag("int16"), BIG) == [0x8000]
    assert encode_words(1e12, _tag("uint32"), BIG) == [0xFFFF, 0xFFFF]
    assert quantize(1e6, _tag("int16", scale=0.1)) == 32767 * 0.1


def test_float32_rounds_to_nearest_float32() -> None:
    tag = _tag("float32")
    assert quantize(0.1, tag) == float(np.float32(0.1))
    assert quantize(0.1, tag) != 0.1


@pytest.mark.parametrize("order", [BIG, LITTLE])
@pytest.mark.parametrize("type_", ["float32", "int32", "uint32", "int16", "uint16"])
def test_agrees_with_pymodbus_codec(type_: str, order: WordOrder) -> None:
    rng = np.random.default_rng(7)
    tag = _tag(type_)
    pm_type = getattr(ModbusTcpClient.DATATYPE, type_.upper())
    low = 0 if type_.startswith("u") else -30000
    for value in rng.uniform(low, 30000, 50):
        words = encode_words(float(value), tag, order)
        decoded = ModbusTcpClient.convert_from_registers(words, pm_type, word_order=order.value)
        assert decoded == pytest.approx(quantize(float(value), tag), abs=0)


def test_decode_of_encode_is_quantize_for_every_demo_tag(demo_site: SiteFile) -> None:
    rng = np.random.default_rng(3)
    for ref in demo_site.tags():
        tag = ref.tag
        low, high = tag.range if tag.range else (0.0, 1000.0)
        for value in rng.uniform(low, high, 20).tolist():
            for order in (BIG, LITTLE):
                words = encode_words(value, tag, order)
                assert len(words) == tag.type.words
                assert decode_words(words, tag, order) == quantize(value, tag), ref.path
                # Encoding the quantised value gives the same registers: value() is exact.
                assert encode_words(quantize(value, tag), tag, order) == words, ref.path
