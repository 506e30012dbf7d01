"""S7 read plans: which area reads fetch a PLC's points, and how to decode their bytes.

Pure: no I/O. Points are grouped by memory area (a data block, or M, I, Q), sorted by byte
offset and coalesced into as few reads as the PDU allows, bridging small gaps
(:mod:`factoryos.connect.layout`). The bytes of
all blocks land in one poll buffer. S7 is big-endian, so the bytes of a value are exactly
the big-word-order Modbus registers :mod:`factoryos.connect.codec` already decodes: each
type decodes all its points with one vectorised gather from the buffer.

Types: ``bool`` is one bit (``s7.bit``), ``int16`` an INT, ``uint16`` a WORD, ``int32`` a
DINT, ``uint32`` a DWORD and ``float32`` a REAL.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import numpy.typing as npt

from factoryos.connect.codec import Floats, decode, encode
from factoryos.connect.errors import ConfigError
from factoryos.connect.layout import gather, lay_out
from factoryos.connect.points import Point
from factoryos.model.devices import S7Device
from factoryos.model.tags import DataType, S7Area, WordOrder

Bytes = npt.NDArray[np.uint8]

PDU_SIZE = 240
"""The PDU every S7 CPU negotiates at least (S7-300: 240, S7-1200: 240, S7-1500: 960)."""

READ_OVERHEAD = 18
"""Bytes of a read response PDU that are not data: the most one read returns is PDU - 18."""

MAX_GAP = 16
"""Most unused bytes read to merge two neighbouring points into one request."""

_AREA_ORDER = (S7Area.DB, S7Area.M, S7Area.I, S7Area.Q)


def size_of(dtype: DataType) -> int:
    """Bytes a value of ``dtype`` takes in PLC memory (a bool takes one bit of a byte)."""
    return 2 * dtype.words if dtype != DataType.BOOL else 1


def describe(area: S7Area, db: int, start: int, size: int) -> str:
    """An area range in S7 notation, e.g. ``DB10 bytes 0..15`` or ``M bytes 4..7``."""
    where = f"DB{db}" if area == S7Area.DB else str(area)
    return f"{where} bytes {start}..{start + size - 1}"


S7Point = Point  # the name it had before the drivers shared one


@dataclass(frozen=True, slots=True)
class S7ReadBlock:
    """One read request: ``size`` bytes of ``area`` (data block ``db``) from ``start``."""

    area: S7Area
    db: int  # 0 outside the DB area
    start: int
    size: int
    offset: int  # where this block's bytes start in the poll buffer

    def describe(self) -> str:
        return describe(self.area, self.db, self.start, self.size)


@dataclass(frozen=True, slots=True)
class S7DecodeGroup:
    """Points of one type and the buffer indices holding their bytes (bit numbers for bools)."""

    dtype: DataType
    points: npt.NDArray[np.intp]
    gather: npt.NDArray[np.intp]  # len(points) * size_of(dtype) indices into the buffer
    bits: npt.NDArray[np.uint8]  # bit of each bool point; empty for other types


@dataclass(frozen=True, slots=True)
class S7ReadPlan:
    blocks: tuple[S7ReadBlock, ...]
    groups: tuple[S7DecodeGroup, ...]
    block_of_point: npt.NDArray[np.intp]  # for each point, the index of its block
    buffer_size: int

    def decode(self, buffer: Bytes) -> Floats:
        """Raw values of every point, in point order, from a filled poll buffer."""
        raw = np.full(len(self.block_of_point), np.nan)
        for g in self.groups:
            raw[g.points] = decode_bytes(buffer[g.gather], g.dtype, g.bits)
        return raw


def decode_bytes(data: Bytes, dtype: DataType, bits: npt.NDArray[np.uint8] | None = None) -> Floats:
    """Raw values of consecutive big-endian ``dtype`` values; a bool reads bit ``bits[i]``
    of byte ``i``."""
    if dtype == DataType.BOOL:
        if bits is None or len(bits) != len(data):
            raise ConfigError(f"{len(data)} bytes of bools need as many bit numbers")
        return ((data >> bits) & 1).astype(np.float64)
    words = np.ascontiguousarray(data, dtype=np.uint8).view(">u2").astype(np.uint16)
    return decode(words, dtype, WordOrder.BIG)


def encode_bytes(raw: npt.ArrayLike, dtype: DataType) -> Bytes:
    """Big-endian bytes of ``raw`` values as ``dtype`` (not bool: a bit is set in its byte).

    Raises :class:`~factoryos.connect.errors.CodecError` for a value that does not fit.
    """
    if dtype == DataType.BOOL:
        raise ConfigError("a bool is one bit of a byte: change it with set_bit")
    words = encode(raw, dtype, WordOrder.BIG)
    return words.astype(">u2").view(np.uint8)


def set_bit(byte: int, bit: int, value: bool) -> int:
    """``byte`` with bit ``bit`` (0 = least significant) set to ``value``."""
    return (byte | (1 << bit)) if value else (byte & ~(1 << bit) & 0xFF)


@dataclass(frozen=True, slots=True)
class _Span:
    point: int
    area: S7Area
    db: int
    start: int
    size: int
    dtype: DataType
    bit: int

    @property
    def end(self) -> int:
        return self.start + self.size


def max_block(pdu_size: int = PDU_SIZE) -> int:
    """Most bytes one read may return with a negotiated PDU of ``pdu_size``."""
    if pdu_size <= READ_OVERHEAD + 4:
        raise ConfigError(f"PDU size {pdu_size} cannot carry a read")
    return pdu_size - READ_OVERHEAD


def build_s7_plan(
    device: S7Device,
    points: Sequence[Point],
    *,
    pdu_size: int = PDU_SIZE,
    max_gap: int = MAX_GAP,
) -> S7ReadPlan:
    """The read plan for ``points`` on ``device``; raises :class:`ConfigError` for a point
    without an S7 address."""
    limit = max_block(pdu_size)
    spans = [_span(device, i, p) for i, p in enumerate(points)]
    by_area = sorted(spans, key=lambda s: (_AREA_ORDER.index(s.area), s.db, s.start))
    layout = lay_out(by_area, lambda s: (s.area, s.db), lambda _: limit, max_gap)
    return S7ReadPlan(
        blocks=tuple(S7ReadBlock(*e.area, e.start, e.length, e.offset) for e in layout.extents),
        groups=_groups(spans, layout.position),
        block_of_point=layout.block_of_point,
        buffer_size=layout.buffer_size,
    )


def _span(device: S7Device, index: int, point: Point) -> _Span:
    tag = point.tag
    if tag.s7 is None:
        raise ConfigError(
            f"device {device.name}: tag {tag.name!r} (id {point.tag_id}) has no S7 address"
        )
    a = tag.s7
    if a.area == S7Area.DB and a.db == 0:
        raise ConfigError(f"device {device.name}: tag {tag.name!r} is in area DB but has no db")
    if a.area != S7Area.DB and a.db != 0:
        raise ConfigError(
            f"device {device.name}: tag {tag.name!r} is in area {a.area}: db must be left out"
        )
    db = a.db if a.area == S7Area.DB else 0
    return _Span(index, a.area, db, a.offset, size_of(tag.type), tag.type, a.bit or 0)


def _groups(spans: list[_Span], position: npt.NDArray[np.intp]) -> tuple[S7DecodeGroup, ...]:
    groups = []
    for dtype, members in groupby(sorted(spans, key=lambda s: s.dtype), key=lambda s: s.dtype):
        group = list(members)
        idx = np.array([s.point for s in group], dtype=np.intp)
        bits = np.array([s.bit for s in group] if dtype == DataType.BOOL else [], dtype=np.uint8)
        groups.append(S7DecodeGroup(dtype, idx, gather(position, idx, size_of(dtype)), bits))
    return tuple(groups)
