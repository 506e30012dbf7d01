"""Read plans: which Modbus requests fetch a device's points, and how to decode them.

Pure: no I/O. Points are grouped by table, sorted by address and coalesced into as few
requests as the device allows, bridging small gaps (:mod:`factoryos.connect.layout`). The
words of all blocks land in one poll buffer; each (type, word order) group decodes its
points with one vectorised gather from that buffer.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import numpy.typing as npt

from factoryos.connect.codec import Floats, Words, decode
from factoryos.connect.errors import ConfigError
from factoryos.connect.layout import gather, lay_out
from factoryos.connect.points import Point
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.tags import DataType, ModbusTable, WordOrder

MAX_GAP = 8
"""Most unused registers (or bits) read to merge two neighbouring points into one request."""

MAX_BITS = 2000
"""Most coils or discrete inputs in one request (the Modbus limit)."""

_TABLE_ORDER = (ModbusTable.HOLDING, ModbusTable.INPUT, ModbusTable.COIL, ModbusTable.DISCRETE)


ModbusPoint = Point  # the name it had before the drivers shared one


@dataclass(frozen=True, slots=True)
class ReadBlock:
    """One read request: ``count`` registers (or bits) of ``table`` from ``address``."""

    table: ModbusTable
    address: int
    count: int
    offset: int  # where this block's words start in the poll buffer

    def describe(self) -> str:
        return f"{self.table} {self.address}..{self.address + self.count - 1}"


@dataclass(frozen=True, slots=True)
class DecodeGroup:
    """Points sharing a type and word order, and the buffer indices holding their words."""

    dtype: DataType
    word_order: WordOrder
    points: npt.NDArray[np.intp]
    gather: npt.NDArray[np.intp]  # len(points) * dtype.words indices into the poll buffer


@dataclass(frozen=True, slots=True)
class ReadPlan:
    blocks: tuple[ReadBlock, ...]
    groups: tuple[DecodeGroup, ...]
    block_of_point: npt.NDArray[np.intp]  # for each point, the index of its block
    buffer_size: int

    def decode(self, buffer: Words) -> Floats:
        """Raw values of every point, in point order, from a filled poll buffer."""
        raw = np.full(len(self.block_of_point), np.nan)
        for g in self.groups:
            raw[g.points] = decode(buffer[g.gather], g.dtype, g.word_order)
        return raw


@dataclass(frozen=True, slots=True)
class _Span:
    point: int
    table: ModbusTable
    start: int
    words: int
    dtype: DataType
    word_order: WordOrder

    @property
    def end(self) -> int:
        return self.start + self.words


def build_plan(
    device: ModbusTcpDevice, points: Sequence[Point], *, max_gap: int = MAX_GAP
) -> ReadPlan:
    """The read plan for ``points`` on ``device``; raises :class:`ConfigError` for a point
    without a Modbus address or one that does not fit in a single request."""
    spans = [_span(device, i, p) for i, p in enumerate(points)]
    by_table = sorted(spans, key=lambda s: (_TABLE_ORDER.index(s.table), s.start))
    layout = lay_out(by_table, lambda s: s.table, lambda t: _limit(device, t), max_gap)
    return ReadPlan(
        blocks=tuple(ReadBlock(e.area, e.start, e.length, e.offset) for e in layout.extents),
        groups=_groups(spans, layout.position),
        block_of_point=layout.block_of_point,
        buffer_size=layout.buffer_size,
    )


def _span(device: ModbusTcpDevice, index: int, point: Point) -> _Span:
    tag = point.tag
    if tag.modbus is None:
        raise ConfigError(
            f"device {device.name}: tag {tag.name!r} (id {point.tag_id}) has no Modbus address"
        )
    table = tag.modbus.table
    if tag.type.words > _limit(device, table):
        raise ConfigError(
            f"device {device.name}: tag {tag.name!r} needs {tag.type.words} registers but "
            f"max_block is {device.max_block}"
        )
    order = tag.modbus.word_order or device.word_order
    return _Span(index, table, tag.modbus.address, tag.type.words, tag.type, order)


def _limit(device: ModbusTcpDevice, table: ModbusTable) -> int:
    return MAX_BITS if table.is_bit else device.max_block


def _decode_key(s: _Span) -> tuple[DataType, WordOrder]:
    return s.dtype, s.word_order


def _groups(spans: list[_Span], position: npt.NDArray[np.intp]) -> tuple[DecodeGroup, ...]:
    groups = []
    for (dtype, order), members in groupby(sorted(spans, key=_decode_key), key=_decode_key):
        idx = np.array([s.point for s in members], dtype=np.intp)
        groups.append(DecodeGroup(dtype, order, idx, gather(position, idx, dtype.words)))
    return tuple(groups)
