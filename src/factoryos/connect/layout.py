"""Read-block layout shared by the Modbus and S7 read plans.

Pure: no I/O. Each point occupies a span of addresses (registers, bits or bytes) in some
memory area (a Modbus table, an S7 data block). Spans sorted by area and address are
coalesced greedily into as few blocks as the protocol's request limit allows, bridging gaps
of at most ``max_gap`` unused addresses (reading a few is cheaper than another round trip).
The blocks' data land one after another in one poll buffer.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import groupby
from typing import Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt


class Span(Protocol):
    """Where one point's data sits: addresses ``start`` up to (not including) ``end``."""

    @property
    def point(self) -> int: ...  # the point's index

    @property
    def start(self) -> int: ...

    @property
    def end(self) -> int: ...


S = TypeVar("S", bound=Span)
K = TypeVar("K")


@dataclass(frozen=True, slots=True)
class Extent(Generic[K]):
    """One block: ``length`` addresses of ``area`` from ``start``, at ``offset`` in the buffer."""

    area: K
    start: int
    length: int
    offset: int


@dataclass(frozen=True, slots=True)
class Layout(Generic[K]):
    extents: tuple[Extent[K], ...]  # the blocks, in buffer order
    block_of_point: npt.NDArray[np.intp]  # for each point, the index of its block
    position: npt.NDArray[np.intp]  # for each point, where its data starts in the buffer
    buffer_size: int


def lay_out(
    spans: Sequence[S], area: Callable[[S], K], limit: Callable[[K], int], max_gap: int
) -> Layout[K]:
    """Blocks for ``spans``, which must be sorted by area and then address; ``limit`` is
    the most addresses one request of an area may read."""
    extents: list[Extent[K]] = []
    block_of_point = np.zeros(len(spans), dtype=np.intp)
    position = np.zeros(len(spans), dtype=np.intp)
    offset = 0
    for key, area_spans in groupby(spans, key=area):
        for members in coalesce(list(area_spans), limit(key), max_gap):
            start = members[0].start
            length = max(s.end for s in members) - start
            for s in members:
                block_of_point[s.point] = len(extents)
                position[s.point] = offset + s.start - start
            extents.append(Extent(key, start, length, offset))
            offset += length
    return Layout(tuple(extents), block_of_point, position, offset)


def coalesce(spans: list[S], limit: int, max_gap: int) -> list[list[S]]:
    """Greedy merge of address-sorted spans into blocks of at most ``limit`` addresses."""
    blocks: list[list[S]] = []
    start = end = 0
    for s in spans:
        if blocks and s.start - end <= max_gap and max(end, s.end) - start <= limit:
            blocks[-1].append(s)
            end = max(end, s.end)
        else:
            blocks.append([s])
            start, end = s.start, s.end
    return blocks


def gather(
    position: npt.NDArray[np.intp], points: npt.NDArray[np.intp], width: int
) -> npt.NDArray[np.intp]:
    """Buffer indices of ``width`` consecutive elements for each of ``points``, flattened."""
    return (position[points][:, None] + np.arange(width, dtype=np.intp)).reshape(-1)
