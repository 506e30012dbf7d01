"""The simulator's own register encoding: engineering value ↔ 16-bit Modbus words of a tag.

Raw value = (engineering - offset) / scale. Integer types are rounded to nearest (ties to
even, like ``numpy.rint``) and clamped to the type's range, as a PLC saturates a value that
does not fit; float32 is rounded to the nearest float32; bool is 1 when the value is at least
0.5 (scale and offset do not apply). A 32-bit value takes two registers: high word first for
``WordOrder.BIG``, low word first for ``WordOrder.LITTLE``; each word is big-endian on the
wire, the Modbus rule.
"""

import math
import struct

import numpy as np

from factoryos.model.tags import DataType, Tag, WordOrder

_LIMITS: dict[DataType, tuple[int, int]] = {
    DataType.INT16: (-(2**15), 2**15 - 1),
    DataType.UINT16: (0, 2**16 - 1),
    DataType.INT32: (-(2**31), 2**31 - 1),
    DataType.UINT32: (0, 2**32 - 1),
}
_FORMAT: dict[DataType, str] = {
    DataType.INT16: ">h",
    DataType.UINT16: ">H",
    DataType.INT32: ">i",
    DataType.UINT32: ">I",
    DataType.FLOAT32: ">f",
}
_F32_MAX = float(np.finfo(np.float32).max)


def raw_value(value: float, tag: Tag) -> int | float:
    """The raw number the device holds for an engineering ``value`` of ``tag``."""
    if tag.type == DataType.BOOL:
        return 1 if value >= 0.5 else 0
    raw = (value - tag.offset) / tag.scale
    if tag.type == DataType.FLOAT32:
        return float(np.float32(min(max(raw, -_F32_MAX), _F32_MAX)))
    low, high = _LIMITS[tag.type]
    if math.isnan(raw):
        return 0
    return int(min(max(np.rint(raw), low), high))


def quantize(value: float, tag: Tag) -> float:
    """The engineering value a client decodes from the registers holding ``value``."""
    raw = raw_value(value, tag)
    if tag.type == DataType.BOOL:
        return float(raw)
    return float(raw) * tag.scale + tag.offset


def encode_words(value: float, tag: Tag, word_order: WordOrder) -> list[int]:
    """The registers (or the single bit, as 0/1) holding engineering ``value`` of ``tag``."""
    raw = raw_value(value, tag)
    if tag.type == DataType.BOOL:
        return [int(raw)]
    data = struct.pack(_FORMAT[tag.type], raw)
    words = list(struct.unpack(f">{len(data) // 2}H", data))
    if len(words) == 2 and word_order == WordOrder.LITTLE:
        words.reverse()
    return words


def decode_words(words: list[int], tag: Tag, word_order: WordOrder) -> float:
    """The engineering value held in ``words``; the inverse of :func:`encode_words`."""
    if tag.type == DataType.BOOL:
        return 1.0 if words[0] else 0.0
    ordered = list(words)
    if len(ordered) == 2 and word_order == WordOrder.LITTLE:
        ordered.reverse()
    (raw,) = struct.unpack(_FORMAT[tag.type], struct.pack(f">{len(ordered)}H", *ordered))
    return float(raw) * tag.scale + tag.offset
