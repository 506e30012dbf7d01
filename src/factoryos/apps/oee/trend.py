"""Downtime per time bucket (plant days, shifts): the trend behind the loss board.

Buckets are ``(label, start_ns, end_ns)``, as the shift calendar gives them; they must not
overlap. A stop spanning a bucket edge is split by time, so its seconds land in each
bucket it touches; it is *counted* in the bucket where it starts. Time outside every bucket
is in no row.
"""

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.state import NS_PER_S
from factoryos.apps.oee.stops import Stop
from factoryos.apps.oee.taxonomy import TimeCategory

Bucket = tuple[str, int, int]


@dataclass(frozen=True, slots=True)
class TrendRow:
    """Stop time per category in one bucket, and how many stops started in it."""

    label: str
    start_ns: int
    end_ns: int
    seconds: dict[TimeCategory, float] = field(default_factory=dict)
    stops: int = 0


def _sorted_buckets(buckets: Sequence[Bucket]) -> list[int]:
    """Bucket indexes by start; overlapping or empty buckets are refused."""
    for label, a, b in buckets:
        if b <= a:
            raise InvalidInputError(f"trend bucket {label!r}: end not after start")
    order = sorted(range(len(buckets)), key=lambda k: buckets[k][1])
    for i, j in itertools.pairwise(order):
        if buckets[j][1] < buckets[i][2]:
            raise InvalidInputError(
                f"trend buckets {buckets[i][0]!r} and {buckets[j][0]!r} overlap"
            )
    return order


def _add_stop(
    stop: Stop,
    buckets: Sequence[Bucket],
    order: list[int],
    starts: npt.NDArray[np.int64],
    seconds: list[dict[TimeCategory, float]],
) -> None:
    """Add the stop's time per category to every bucket its segments overlap."""
    for seg in stop.segments:
        if seg.category is None:
            continue
        first = max(int(np.searchsorted(starts, seg.start_ns, side="right")) - 1, 0)
        last = int(np.searchsorted(starts, seg.end_ns, side="left"))
        for k in order[first:last]:
            _, a, b = buckets[k]
            overlap = min(b, seg.end_ns) - max(a, seg.start_ns)
            if overlap > 0:
                cell = seconds[k]
                cell[seg.category] = cell.get(seg.category, 0.0) + overlap / NS_PER_S


def trend(stops: Sequence[Stop], buckets: Sequence[Bucket]) -> list[TrendRow]:
    """One row per bucket, in the order given."""
    order = _sorted_buckets(buckets)
    starts = np.array([buckets[k][1] for k in order], dtype=np.int64)
    seconds: list[dict[TimeCategory, float]] = [{} for _ in buckets]
    counts = [0] * len(buckets)
    for stop in stops:
        at = int(np.searchsorted(starts, stop.start_ns, side="right")) - 1
        if at >= 0 and stop.start_ns < buckets[order[at]][2]:
            counts[order[at]] += 1
        _add_stop(stop, buckets, order, starts, seconds)
    return [TrendRow(label, a, b, seconds[k], counts[k]) for k, (label, a, b) in enumerate(buckets)]
