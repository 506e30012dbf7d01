"""Read plans: which Modbus requests fetch a device's points, and how to decode them.

Pure: no I/O. Points are grouped by table, sorted by address and coalesced into as few
requests as the device allows, bridging small gaps (reading a few unused registers is
cheaper than another round trip). The words of all blocks land in one poll buffer; each
(type, word order) group decodes its points with one vectorised gather from that buffer.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import groupby

import numpy as np
import numpy.typing as npt

from factoryos.connect.codec import Floats, Words, decode
from factoryos.connect.errors import ConfigError
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.tags import DataType, ModbusTable, Tag, WordOrder

MAX_GAP = 8
"""Most unused registers (or bits) read to merge two neighbouring points into one request."""

MAX_BITS = 2000
"""Most coils or discrete inputs in one request (the Modbus limit)."""

_TABLE_ORDER = (ModbusTable.HOLDING, ModbusTable.INPUT, ModbusTable.COIL, ModbusTable.DISCRETE)


@dataclass(frozen=True, slots=True)
class ModbusPoint:
    """One tag polled from a device, with the int id it is stored under."""

    tag_id: int
    tag: Tag


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
    device: ModbusTcpDevice, points: Sequence[ModbusPoint], *, max_gap: int = MAX_GAP
) -> ReadPlan:
    """The read plan for ``points`` on ``device``; raises :class:`ConfigError` for a point
    without a Modbus address or one that does not fit in a single request."""
    spans = [_span(device, i, p) for i, p in enumerate(points)]
    blocks: list[ReadBlock] = []
    block_of_point = np.zeros(len(spans), dtype=np.intp)
    position = np.zeros(len(spans), dtype=np.intp)
    by_table = sorted(spans, key=lambda s: (_TABLE_ORDER.index(s.table), s.start))
    for table, table_spans in groupby(by_table, key=lambda s: s.table):
        for members in _coalesce(list(table_spans), _limit(device, table), max_gap):
            offset = sum(b.count for b in blocks)
            start = members[0].start
            count = max(s.end for s in members) - start
            for s in members:
                block_of_point[s.point] = len(blocks)
                position[s.point] = offset + s.start - start
            blocks.append(ReadBlock(table, start, count, offset))
    return ReadPlan(
        blocks=tuple(blocks),
        groups=_groups(spans, position),
        block_of_point=block_of_point,
        buffer_size=sum(b.count for b in blocks),
    )


def _span(device: ModbusTcpDevice, index: int, point: ModbusPoint) -> _Span:
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


def _coalesce(spans: list[_Span], limit: int, max_gap: int) -> list[list[_Span]]:
    """Greedy merge of address-sorted spans into blocks of at most ``limit`` words."""
    blocks: list[list[_Span]] = []
    start = end = 0
    for s in spans:
        if blocks and s.start - end <= max_gap and max(end, s.end) - start <= limit:
            blocks[-1].append(s)
            end = max(end, s.end)
        else:
            blocks.append([s])
            start, end = s.start, s.end
    return blocks


def _decode_key(s: _Span) -> tuple[DataType, WordOrder]:
    return s.dtype, s.word_order


def _groups(spans: list[_Span], position: npt.NDArray[np.intp]) -> tuple[DecodeGroup, ...]:
    groups = []
    for (dtype, order), members in groupby(sorted(spans, key=_decode_key), key=_decode_key):
        idx = np.array([s.point for s in members], dtype=np.intp)
        gather = (position[idx][:, None] + np.arange(dtype.words, dtype=np.intp)).reshape(-1)
        groups.append(DecodeGroup(dtype, order, idx, gather))
    return tuple(groups)
