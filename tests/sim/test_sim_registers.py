"""What the simulated devices hold for a tag's value: the raw value, quantize, the words.

The word encoding itself is connect.codec's, tested against known vectors and pymodbus in
tests/connect/test_codec.py; here: scaling, saturation, and that value() is exact.
"""

import numpy as np

from factoryos.connect.codec import decode, encode, to_engineering, to_raw
from factoryos.model.site import SiteFile
from factoryos.model.tags import DataType, Tag, WordOrder
from factoryos.sim import quantize
from factoryos.sim.registers import Quantizer

BIG, LITTLE = WordOrder.BIG, WordOrder.LITTLE


def _tag(type_: str, scale: float = 1.0, offset: float = 0.0) -> Tag:
    return Tag(name="t", type=DataType(type_), scale=scale, offset=offset)


def _raw(value: float, tag: Tag) -> float:
    return float(Quantizer([tag]).raw([value])[0])


def test_scale_and_offset_round_to_nearest_raw() -> None:
    temp = _tag("int16", scale=0.1)
    assert (_raw(23.44, temp), _raw(-12.36, temp)) == (234, -124)
    assert quantize(23.44, temp) == 234 * 0.1
    kelvin = _tag("uint16", scale=0.5, offset=-273.0)
    assert _raw(20.0, kelvin) == 586
    assert quantize(20.1, kelvin) == 586 * 0.5 - 273.0


def test_integers_saturate_at_the_type_range() -> None:
    assert _raw(-5.0, _tag("uint16")) == 0
    assert (_raw(1e6, _tag("int16")), _raw(-1e6, _tag("int16"))) == (32767, -32768)
    assert _raw(1e12, _tag("uint32")) == 2**32 - 1
    assert quantize(1e6, _tag("int16", scale=0.1)) == 32767 * 0.1


def test_float32_rounds_to_nearest_float32() -> None:
    tag = _tag("float32")
    assert quantize(0.1, tag) == float(np.float32(0.1))
    assert quantize(0.1, tag) != 0.1


def test_a_bit_ignores_scale_and_offset() -> None:
    tag = _tag("bool", scale=10.0, offset=3.0)
    assert (quantize(0.5, tag), quantize(0.49, tag), quantize(7.0, tag)) == (1.0, 0.0, 1.0)
    assert (_raw(0.5, tag), _raw(0.2, tag)) == (1, 0)


def test_many_tags_at_once_equal_one_at_a_time(demo_site: SiteFile) -> None:
    tags = [ref.tag for ref in demo_site.tags()]
    values = np.random.default_rng(5).normal(0, 500, len(tags))
    many = Quantizer(tags).quantize(values).tolist()
    assert many == [quantize(v, t) for v, t in zip(values.tolist(), tags, strict=True)]


def test_decode_of_the_served_words_is_quantize_for_every_demo_tag(demo_site: SiteFile) -> None:
    rng = np.random.default_rng(3)
    for ref in demo_site.tags():
        tag = ref.tag
        low, high = tag.range if tag.range else (0.0, 1000.0)
        for value in rng.uniform(low, high, 20).tolist():
            for order in (BIG, LITTLE):
                words = encode(Quantizer([tag]).raw([value]), tag.type, order)
                assert len(words) == tag.type.words
                decoded = to_engineering(decode(words, tag.type, order), tag.scale, tag.offset)
                assert decoded.tolist() == [quantize(value, tag)], ref.path
                # The driver's strict encoder gives the same words for the quantised value:
                # value() is exactly what a client reads.
                raw = to_raw(np.array([quantize(value, tag)]), tag.scale, tag.offset)
                np.testing.assert_array_equal(encode(raw, tag.type, order), words, ref.path)
