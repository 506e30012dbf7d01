"""From measurements to subgroups: the rows a control chart plots. Pure functions, no I/O.

Tag samples are grouped one of two ways, both tied to a fixed time grid so that charting
and re-evaluating the same data always make the same subgroups (alarms are keyed by the
point's time, so a shifted grouping would raise the same alarm twice):

* **consecutive** — ``n`` samples in a row, counted afresh from every whole hour (UTC);
  the hour's last incomplete subgroup is left out;
* **periodic** (``every_s``) — the first ``n`` samples of every ``every_s`` seconds since
  the epoch; a period with fewer samples gives no subgroup.

A point's time is that of its subgroup's last sample: when the subgroup was complete.
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]

NS_PER_S = 1_000_000_000
HOUR_NS = 3_600 * NS_PER_S


@dataclass(frozen=True, slots=True, eq=False)
class Subgroups:
    """The charted subgroups, oldest first, one per point.

    Variables: ``values`` is k × n (n = 1 for individuals). Attributes: ``counts``
    (defectives or defects) and ``sizes`` (units inspected), one per point.
    """

    ts: IntArray
    lots: tuple[str | None, ...]
    equipment: tuple[str, ...]
    values: FloatArray | None = None
    counts: FloatArray | None = None
    sizes: FloatArray | None = None

    def __len__(self) -> int:
        return int(self.ts.size)

    def since(self, start_ns: int) -> "Subgroups":
        """The points at or after ``start_ns`` (the grid may start a subgroup earlier)."""
        keep = self.ts >= start_ns
        first = int(np.argmax(keep)) if keep.any() else len(self)
        return self.slice(first, len(self))

    def slice(self, lo: int, hi: int) -> "Subgroups":
        def part(a: FloatArray | None) -> FloatArray | None:
            return None if a is None else a[lo:hi]

        return Subgroups(
            ts=self.ts[lo:hi],
            lots=self.lots[lo:hi],
            equipment=self.equipment[lo:hi],
            values=part(self.values),
            counts=part(self.counts),
            sizes=part(self.sizes),
        )


def grid_start(start_ns: int, every_s: float | None) -> int:
    """Where the grid cell holding ``start_ns`` begins: data are read from there."""
    period = HOUR_NS if every_s is None else round(every_s * NS_PER_S)
    return start_ns - start_ns % period


def gate_mask(
    ts: IntArray, gate_ts: IntArray, gate_values: FloatArray, allowed: list[float]
) -> BoolArray:
    """For each time in ``ts``: whether the gate tag's last value at or before it is allowed.

    Before the gate's first sample nothing is known, so nothing passes.
    """
    last = np.searchsorted(gate_ts, ts, side="right") - 1
    known = last >= 0
    passing = np.isin(gate_values, np.asarray(allowed, dtype=np.float64))
    return known & passing[np.maximum(last, 0)]


def _rank_in_cell(cells: IntArray) -> tuple[IntArray, IntArray]:
    """Each sample's position within its grid cell, and its cell's sample count (sorted)."""
    _, first, inverse, counts = np.unique(
        cells, return_index=True, return_inverse=True, return_counts=True
    )
    return np.arange(cells.size) - first[inverse], counts[inverse]


def consecutive(ts: IntArray, values: FloatArray, size: int) -> tuple[IntArray, FloatArray]:
    """Subgroups of ``size`` samples in a row within each whole hour (times sorted)."""
    if ts.size == 0:
        return ts[:0], values[:0].reshape(0, size)
    rank, count = _rank_in_cell(ts // HOUR_NS)
    keep = rank < (count // size) * size
    rows = values[keep].reshape(-1, size)
    return ts[keep].reshape(-1, size)[:, -1], rows


def periodic(
    ts: IntArray, values: FloatArray, size: int, every_s: float
) -> tuple[IntArray, FloatArray]:
    """The first ``size`` samples of every ``every_s`` seconds (times sorted)."""
    if ts.size == 0:
        return ts[:0], values[:0].reshape(0, size)
    rank, count = _rank_in_cell(ts // round(every_s * NS_PER_S))
    keep = (rank < size) & (count >= size)
    rows = values[keep].reshape(-1, size)
    return ts[keep].reshape(-1, size)[:, -1], rows


def lot_text(value: float) -> str:
    """A lot tag's number as a lot name: 4711.0 → "4711"."""
    return str(int(value)) if value.is_integer() else f"{value:g}"


def lots_at(ts: IntArray, lot_ts: IntArray, lot_values: FloatArray) -> tuple[str | None, ...]:
    """The lot tag's last value at or before each time; None before its first sample."""
    last = np.searchsorted(lot_ts, ts, side="right") - 1
    return tuple(None if i < 0 else lot_text(float(lot_values[i])) for i in last.tolist())
