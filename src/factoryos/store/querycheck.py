"""What every time-series backend checks before it touches its database, and the numpy
helpers of their write paths: one definition, so both backends refuse the same input with
the same message and agree on which duplicate wins.
"""

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from factoryos.model.samples import SampleBatch
from factoryos.store.errors import InvalidBatchError, QueryError

MAX_TAG_ID = 2**24 - 1
"""The largest storable tag id; bounds the memory of the per-tag arrays (~300 MB at most)."""
MAX_BUCKETS = 100_000
INT64_MIN, INT64_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
AGGREGATE_NAMES = ("min", "max", "avg", "sum", "first", "last", "count")


def check_batch(batch: SampleBatch) -> None:
    """Refuse a non-empty batch with a tag id outside 0..MAX_TAG_ID."""
    low, high = int(batch.tag_ids.min()), int(batch.tag_ids.max())
    if low < 0 or high > MAX_TAG_ID:
        bad = low if low < 0 else high
        raise InvalidBatchError(f"tag_ids: {bad} is outside 0..{MAX_TAG_ID}; nothing written")


def check_tag(tag_id: int) -> None:
    if not 0 <= tag_id <= MAX_TAG_ID:
        raise QueryError(f"tag_id: {tag_id} is outside 0..{MAX_TAG_ID}")


def check_range(start_ns: int, end_ns: int) -> None:
    """Both ends int64 and the half-open range [start_ns, end_ns) not empty."""
    for name, value in (("start_ns", start_ns), ("end_ns", end_ns)):
        if not INT64_MIN <= value <= INT64_MAX:
            raise QueryError(f"{name}: {value} is not an int64 nanosecond time")
    if start_ns >= end_ns:
        raise QueryError(f"time range: start_ns ({start_ns}) must be before end_ns ({end_ns})")


def check_positive(name: str, value: int) -> None:
    """A row count such as ``limit`` or ``chunk_rows`` must be at least 1."""
    if value < 1:
        raise QueryError(f"{name} must be >= 1, got {value}")


def check_aggs(aggs: Sequence[str]) -> list[str]:
    """The requested aggregate names, known and without repeats, in request order."""
    known = list(AGGREGATE_NAMES)
    if isinstance(aggs, str) or not aggs:
        raise QueryError(f"aggs: give a list of aggregates from {known}, got {aggs!r}")
    unknown = [a for a in aggs if a not in AGGREGATE_NAMES]
    if unknown:
        raise QueryError(f"aggs: unknown aggregate {unknown}; known: {known}")
    return list(dict.fromkeys(aggs))


def check_every(start_ns: int, end_ns: int, every_ns: int) -> None:
    """A bucket width that is positive and gives at most MAX_BUCKETS buckets over the range."""
    if every_ns <= 0:
        raise QueryError(f"every: bucket width must be > 0 ns, got {every_ns}")
    if every_ns > INT64_MAX // 2:
        raise QueryError(f"every: bucket width {every_ns} ns is too large")
    first = start_ns - start_ns % every_ns
    buckets = (end_ns - 1 - first) // every_ns + 1
    if buckets > MAX_BUCKETS:
        raise QueryError(
            f"every: {every_ns} ns gives {buckets} buckets over the range; at most {MAX_BUCKETS}"
        )


def in_key_order(batch: SampleBatch) -> bool:
    """Whether the samples are strictly increasing in (ts, tag_id): no duplicate key."""
    ts, ids = batch.ts, batch.tag_ids
    later = ts[1:] > ts[:-1]
    return bool(np.all(later | ((ts[1:] == ts[:-1]) & (ids[1:] > ids[:-1]))))


def first_of_each_key(batch: SampleBatch) -> npt.NDArray[np.intp]:
    """Row indices of the first sample of each (tag, ts), in arrival order."""
    order = np.lexsort((batch.ts, batch.tag_ids))  # stable: equal keys keep arrival order
    ids, ts = batch.tag_ids[order], batch.ts[order]
    first = np.ones(len(order), dtype=np.bool_)
    first[1:] = (ids[1:] != ids[:-1]) | (ts[1:] != ts[:-1])
    return np.sort(order[first])
