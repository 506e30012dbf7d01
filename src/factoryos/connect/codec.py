"""Register codec: 16-bit Modbus words ↔ raw numeric values, and raw ↔ engineering units.

Pure and vectorised: every function takes and returns numpy arrays of N values at once.
Words are big-endian within a register (the Modbus rule); ``WordOrder`` only decides which
register of a 32-bit value comes first.
"""

import numpy as np
import numpy.typing as npt

from factoryos.connect.errors import CodecError
from factoryos.model.tags import DataType, WordOrder

Words = npt.NDArray[np.uint16]
Floats = npt.NDArray[np.float64]

_INT_LIMITS: dict[DataType, tuple[int, int]] = {
    DataType.BOOL: (0, 1),
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}
_F32_MAX = float(np.finfo(np.float32).max)
_VIEW_32 = {DataType.INT32: np.int32, DataType.UINT32: np.uint32, DataType.FLOAT32: np.float32}


def decode(words: npt.ArrayLike, dtype: DataType, word_order: WordOrder) -> Floats:
    """Raw values of N consecutive ``dtype`` values held in ``N * dtype.words`` registers."""
    w = np.asarray(words, dtype=np.uint16)
    if len(w) % dtype.words:
        raise CodecError(f"{len(w)} registers do not hold whole {dtype} values")
    if dtype == DataType.BOOL:
        return np.asarray(w != 0, dtype=np.float64)
    if dtype == DataType.UINT16:
        return w.astype(np.float64)
    if dtype == DataType.INT16:
        return w.view(np.int16).astype(np.float64)
    pairs = w.reshape(-1, 2).astype(np.uint32)
    first, second = pairs[:, 0], pairs[:, 1]
    hi, lo = (first, second) if word_order == WordOrder.BIG else (second, first)
    u32 = (hi << np.uint32(16)) | lo
    with np.errstate(invalid="ignore"):  # a signalling NaN widens to a quiet one: stored bad
        return u32.view(_VIEW_32[dtype]).astype(np.float64)


def encode(raw: npt.ArrayLike, dtype: DataType, word_order: WordOrder) -> Words:
    """Registers holding ``raw`` values as ``dtype``; integers are rounded to nearest.

    Raises :class:`CodecError` for a value that does not fit (NaN, out of range).
    """
    r = np.atleast_1d(np.asarray(raw, dtype=np.float64))
    if dtype == DataType.FLOAT32:
        u32 = _floats(r).view(np.uint32)
    else:
        u32 = _integers(r, dtype).astype(np.int64).astype(np.uint32)
        if dtype.words == 1:
            return u32.astype(np.uint16)
    hi = (u32 >> np.uint32(16)).astype(np.uint16)
    lo = (u32 & np.uint32(0xFFFF)).astype(np.uint16)
    first, second = (hi, lo) if word_order == WordOrder.BIG else (lo, hi)
    return np.column_stack((first, second)).reshape(-1)


def saturate(raw: npt.ArrayLike, dtype: DataType) -> Floats:
    """The raw values a device holds when told ``raw``: every result fits :func:`encode`.

    Integer types round to nearest (ties to even) and clamp to the type's range, as a PLC
    saturates, NaN becoming 0; float32 rounds to the nearest float32, clamped to its finite
    range (NaN stays NaN); bool is 1 from 0.5 up, else 0.
    """
    r = np.atleast_1d(np.asarray(raw, dtype=np.float64))
    if dtype == DataType.BOOL:
        return np.where(r >= 0.5, 1.0, 0.0)
    # np.minimum/np.maximum rather than np.clip/np.nan_to_num: several times faster on the
    # short columns of the simulator, which saturates every step.
    if dtype == DataType.FLOAT32:
        return np.minimum(np.maximum(r, -_F32_MAX), _F32_MAX).astype(np.float32).astype(np.float64)
    low, high = _INT_LIMITS[dtype]
    rounded = np.rint(np.where(np.isnan(r), 0.0, r))
    # + 0.0 turns -0.0 (rint of -0.4) into 0.0: an integer register has no negative zero.
    return np.minimum(np.maximum(rounded, low), high) + 0.0


def _floats(raw: Floats) -> npt.NDArray[np.float32]:
    too_big = np.isfinite(raw) & (np.abs(raw) > _F32_MAX)
    if too_big.any():
        i = int(np.flatnonzero(too_big)[0])
        raise CodecError(f"value {raw[i]!r} at index {i} does not fit float32")
    return raw.astype(np.float32)


def _integers(raw: Floats, dtype: DataType) -> Floats:
    rounded = np.rint(raw)
    low, high = _INT_LIMITS[dtype]
    bad = ~((rounded >= low) & (rounded <= high))  # also catches NaN
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise CodecError(f"value {raw[i]!r} at index {i} does not fit {dtype} ({low}..{high})")
    return rounded


def to_engineering(
    raw: Floats, scale: float | Floats = 1.0, offset: float | Floats = 0.0
) -> Floats:
    """Engineering values: ``raw * scale + offset`` (scale and offset broadcast)."""
    return raw * np.asarray(scale, dtype=np.float64) + np.asarray(offset, dtype=np.float64)


def to_raw(eng: Floats, scale: float | Floats = 1.0, offset: float | Floats = 0.0) -> Floats:
    """Raw values from engineering values: ``(eng - offset) / scale``; the inverse."""
    return (eng - np.asarray(offset, dtype=np.float64)) / np.asarray(scale, dtype=np.float64)
