import numpy as np
import pytest
from pymodbus.client import ModbusTcpClient

from factoryos.connect.codec import decode, encode, saturate, to_engineering, to_raw
from factoryos.connect.errors import CodecError
from factoryos.model.tags import DataType, WordOrder

BIG, LITTLE = WordOrder.BIG, WordOrder.LITTLE


@pytest.mark.parametrize(
    ("dtype", "order", "words", "value"),
    [
        (DataType.FLOAT32, BIG, [0x3F80, 0x0000], 1.0),
        (DataType.FLOAT32, LITTLE, [0x0000, 0x3F80], 1.0),
        (DataType.FLOAT32, BIG, [0xC120, 0x0000], -10.0),
        (DataType.FLOAT32, BIG, [0xC020, 0x0000], -2.5),
        (DataType.INT32, BIG, [0xFFFF, 0xFFFE], -2),
        (DataType.INT32, LITTLE, [0xFFFE, 0xFFFF], -2),
        (DataType.UINT32, BIG, [0x1234, 0x5678], 0x12345678),
        (DataType.UINT32, LITTLE, [0x5678, 0x1234], 0x12345678),
        (DataType.UINT32, BIG, [0xFFFF, 0xFFFF], 0xFFFFFFFF),
        (DataType.UINT32, BIG, [0x0001, 0x1170], 70000),
        (DataType.UINT32, LITTLE, [0x1170, 0x0001], 70000),
        (DataType.INT16, BIG, [0xFFFF], -1),
        (DataType.INT16, BIG, [0x8000], -32768),
        (DataType.UINT16, BIG, [0xFFFF], 65535),
        (DataType.UINT16, LITTLE, [0x0201], 513),
        (DataType.BOOL, BIG, [1], 1.0),
        (DataType.BOOL, BIG, [0], 0.0),
    ],
)
def test_known_vectors(dtype: DataType, order: WordOrder, words: list[int], value: float) -> None:
    assert decode(np.array(words, dtype=np.uint16), dtype, order).tolist() == [value]
    assert encode(np.array([value]), dtype, order).tolist() == words


def test_decode_many_values_at_once() -> None:
    words = np.array([0x3F80, 0, 0x4000, 0, 0x4040, 0], dtype=np.uint16)
    assert decode(words, DataType.FLOAT32, BIG).tolist() == [1.0, 2.0, 3.0]
    assert decode(words, DataType.FLOAT32, BIG).dtype == np.float64


def test_bool_is_any_nonzero_register() -> None:
    assert decode([0, 1, 0x8000], DataType.BOOL, BIG).tolist() == [0.0, 1.0, 1.0]


def _random_raw(rng: np.random.Generator, dtype: DataType, n: int) -> np.ndarray:
    if dtype == DataType.FLOAT32:
        return (rng.standard_normal(n) * 1e4).astype(np.float32).astype(np.float64)
    low, high = {
        DataType.INT16: (-(2**15), 2**15),
        DataType.UINT16: (0, 2**16),
        DataType.INT32: (-(2**31), 2**31),
        DataType.UINT32: (0, 2**32),
        DataType.BOOL: (0, 2),
    }[dtype]
    return rng.integers(low, high, n, dtype=np.int64).astype(np.float64)


@pytest.mark.parametrize("order", [BIG, LITTLE])
@pytest.mark.parametrize("dtype", list(DataType))
def test_round_trip_random_values(dtype: DataType, order: WordOrder) -> None:
    rng = np.random.default_rng(42)
    raw = _random_raw(rng, dtype, 1000)
    words = encode(raw, dtype, order)
    assert words.dtype == np.uint16
    assert len(words) == 1000 * dtype.words
    np.testing.assert_array_equal(decode(words, dtype, order), raw)


def test_word_orders_differ_only_by_swapping_words() -> None:
    raw = np.array([123456.0, -7.0])
    big = encode(raw, DataType.INT32, BIG)
    little = encode(raw, DataType.INT32, LITTLE)
    np.testing.assert_array_equal(big.reshape(-1, 2)[:, ::-1].reshape(-1), little)


def test_encode_rounds_integers_to_nearest() -> None:
    assert encode(np.array([2.6, -2.6]), DataType.INT16, BIG).tolist() == [3, 0xFFFD]


@pytest.mark.parametrize(
    ("dtype", "value"),
    [
        (DataType.INT16, 40000.0),
        (DataType.UINT16, -1.0),
        (DataType.UINT32, 2.0**32),
        (DataType.INT32, float("nan")),
        (DataType.FLOAT32, 1e39),
    ],
)
def test_encode_refuses_values_that_do_not_fit(dtype: DataType, value: float) -> None:
    with pytest.raises(CodecError, match=f"index 1 does not fit {dtype}"):
        encode(np.array([0.0, value]), dtype, BIG)


@pytest.mark.parametrize("order", [BIG, LITTLE])
@pytest.mark.parametrize("dtype", [t for t in DataType if t != DataType.BOOL])
def test_agrees_with_pymodbus_codec(dtype: DataType, order: WordOrder) -> None:
    rng = np.random.default_rng(7)
    pm_type = getattr(ModbusTcpClient.DATATYPE, dtype.name)
    low = 0 if dtype.name.startswith("U") else -30000
    raw = saturate(rng.uniform(low, 30000, 50), dtype)
    words = encode(raw, dtype, order).reshape(-1, dtype.words)
    for value, w in zip(raw.tolist(), words.tolist(), strict=True):
        assert ModbusTcpClient.convert_from_registers(w, pm_type, word_order=order) == value


def test_saturate_rounds_and_clamps_integers_as_a_plc_does() -> None:
    wild = [2.5, 3.5, -0.4, 1e6, -1e6, np.inf, -np.inf, np.nan]
    assert saturate(wild, DataType.INT16).tolist() == [2, 4, 0, 32767, -32768, 32767, -32768, 0]
    assert np.signbit(saturate([-0.4], DataType.INT16)).tolist() == [False]
    assert saturate([-5.0, 70000.0], DataType.UINT16).tolist() == [0, 65535]
    assert saturate([1e12, -1.0], DataType.UINT32).tolist() == [2**32 - 1, 0]
    assert saturate([0.49, 0.5, 7.0, np.nan], DataType.BOOL).tolist() == [0, 1, 1, 0]


def test_saturate_rounds_to_float32_and_clamps_to_its_finite_range() -> None:
    f32_max = float(np.finfo(np.float32).max)
    out = saturate([0.1, 1e39, -np.inf, np.nan], DataType.FLOAT32)
    assert out[:3].tolist() == [float(np.float32(0.1)), f32_max, -f32_max]
    assert np.isnan(out[3])


@pytest.mark.parametrize("dtype", list(DataType))
def test_every_saturated_value_encodes(dtype: DataType) -> None:
    wild = np.concatenate(
        [np.random.default_rng(5).normal(0, 1e12, 500), [np.inf, -np.inf, np.nan, -0.0]]
    )
    raw = saturate(wild, dtype)
    assert len(encode(raw, dtype, BIG)) == len(wild) * dtype.words
    np.testing.assert_array_equal(saturate(raw, dtype), raw)  # idempotent


def test_decode_refuses_a_partial_value() -> None:
    with pytest.raises(CodecError, match="3 registers do not hold whole float32 values"):
        decode(np.zeros(3, dtype=np.uint16), DataType.FLOAT32, BIG)


def test_engineering_scaling_and_its_inverse() -> None:
    raw = np.array([0.0, 100.0, 250.0])
    scale = np.array([0.1, 0.1, 2.0])
    offset = np.array([-40.0, 0.0, 5.0])
    eng = to_engineering(raw, scale, offset)
    np.testing.assert_allclose(eng, [-40.0, 10.0, 505.0])
    np.testing.assert_allclose(to_raw(eng, scale, offset), raw)
    np.testing.assert_allclose(to_engineering(raw, 0.5, 1.0), [1.0, 51.0, 126.0])
