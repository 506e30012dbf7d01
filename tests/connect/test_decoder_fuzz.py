"""Fuzzing the polled protocols' wire decoders: whatever a device answers, decoding gives
one value per whole value received, or the documented error — never a crash or misaligned
columns, and never a non-finite value stored as good."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.connect.codec import decode, encode
from factoryos.connect.errors import CodecError, ConfigError
from factoryos.connect.points import Point
from factoryos.connect.polling import PointColumns
from factoryos.connect.s7_plan import decode_bytes
from factoryos.model.quality import Quality
from factoryos.model.tags import DataType, Tag, WordOrder

TYPES = st.sampled_from(list(DataType))
ORDERS = st.sampled_from(list(WordOrder))
WORDS = st.lists(st.integers(0, 0xFFFF), max_size=64)


@settings(max_examples=500, deadline=None)
@given(WORDS, TYPES, ORDERS)
def test_register_decode_takes_any_words(
    words: list[int], dtype: DataType, order: WordOrder
) -> None:
    try:
        values = decode(np.array(words, dtype=np.uint16), dtype, order)
    except CodecError:
        assert len(words) % dtype.words
        return
    assert len(values) == len(words) // dtype.words
    finite = values[np.isfinite(values)]
    assert np.array_equal(decode(encode(finite, dtype, order), dtype, order), finite)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=64), TYPES.filter(lambda t: t != DataType.BOOL))
def test_s7_decode_takes_any_bytes(data: bytes, dtype: DataType) -> None:
    raw = np.frombuffer(data, dtype=np.uint8)
    size = 2 * dtype.words
    try:
        values = decode_bytes(raw, dtype)
    except (CodecError, ValueError):
        assert len(data) % size
        return
    assert len(values) == len(data) // size


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=32), st.data())
def test_s7_bits_need_one_bit_number_per_byte(data: bytes, draw: st.DataObject) -> None:
    raw = np.frombuffer(data, dtype=np.uint8)
    bits = np.array(draw.draw(st.lists(st.integers(0, 7), max_size=32)), dtype=np.uint8)
    try:
        values = decode_bytes(raw, DataType.BOOL, bits)
    except ConfigError:
        assert len(bits) != len(raw)
        return
    assert set(values.tolist()) <= {0.0, 1.0}


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(0, 0xFFFF), min_size=2, max_size=2).map(tuple), ORDERS)
def test_any_float_from_a_device_is_never_a_good_non_finite_sample(
    words: tuple[int, int], order: WordOrder
) -> None:
    tag = Tag(name="t", type=DataType.FLOAT32)
    columns = PointColumns([Point(1, tag)])
    raw = decode(np.array(words, dtype=np.uint16), DataType.FLOAT32, order)
    batch = columns.samples(1, raw, np.zeros(1, dtype=np.bool_))
    good = batch.quality == Quality.GOOD
    assert np.isfinite(batch.values[good]).all()
