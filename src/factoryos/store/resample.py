"""Gap-aware resampling of one tag's samples onto regular time buckets.

What a tag's value is between samples:

- A sample is a step: its value holds from its time until the next sample.
- A sample of BAD quality, or without a finite value, holds *no* value: the tag is in a gap
  from that sample until the next one. UNCERTAIN samples hold their value, as in the store's
  aggregates.
- Silence ends validity: a value holds at most ``max_gap_ns`` after its sample. By default that
  is 10 × the median interval between the batch's samples (no limit when the batch has fewer
  than two distinct times), so a device that stops talking is never shown as a stale value.
- Before the first sample there is no value. The state at ``start_ns`` comes from the last
  sample before it: callers pass the samples from ``start_ns - max_gap_ns`` on, not only those
  in [start_ns, end_ns).

Buckets start at multiples of ``every_ns`` since the epoch, like the store's aggregates, and
cover [start_ns, end_ns); the first and the last bucket may be cut by the range and are then
evaluated over their part inside it.

- ``twa``, the time-weighted average: each value weighs by how long it held inside the bucket,
  over the valid part only; NaN when no part of the bucket holds a value.
- ``step``: the value holding at the bucket's start (at ``start_ns`` for a cut first bucket).

``gap`` is True where the bucket is wholly or partly without a value (for ``step``: where no
value holds at the instant evaluated), so a chart can show where quality was bad or the tag
was silent instead of drawing a line through it.

All of it is columnar: cumulative integrals of valid time and of value × time, evaluated at
the bucket edges with ``searchsorted``; no Python loop per sample or per bucket.
"""

from dataclasses import dataclass
from typing import Literal, get_args

import numpy as np
import numpy.typing as npt

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.errors import QueryError
from factoryos.store.querycheck import INT64_MAX, check_every, check_range

Method = Literal["twa", "step"]
METHODS: tuple[Method, ...] = get_args(Method)
GAP_FACTOR = 10
"""The default ``max_gap_ns`` is this many median sample intervals."""


@dataclass(frozen=True, slots=True)
class Resampled:
    """One row per bucket: its start, its value (NaN where none) and whether it has a gap."""

    bucket_ns: npt.NDArray[np.int64]
    value: npt.NDArray[np.float64]
    gap: npt.NDArray[np.bool_]


@dataclass(frozen=True, slots=True)
class _Steps:
    """Each sample's valid interval [start, start + held), sorted and disjoint, with prefix
    sums of valid time and of (value - ref) × time: the integrals' values at each start."""

    start: npt.NDArray[np.int64]
    held: npt.NDArray[np.int64]  # 0 for a sample that holds no value
    value: npt.NDArray[np.float64]  # 0.0 where held is 0, so NaN never enters a sum
    ref: float
    time_before: npt.NDArray[np.int64]
    weighted_before: npt.NDArray[np.float64]


def default_max_gap(ts: npt.NDArray[np.int64]) -> int | None:
    """GAP_FACTOR × the median interval between distinct times; None with fewer than two."""
    intervals = np.diff(np.sort(ts))
    intervals = intervals[intervals > 0]
    if len(intervals) == 0:
        return None
    return int(GAP_FACTOR * np.median(intervals))


def bucket_starts(start_ns: int, end_ns: int, every_ns: int) -> npt.NDArray[np.int64]:
    """Starts of the epoch-aligned buckets that overlap [start_ns, end_ns)."""
    return np.arange(start_ns - start_ns % every_ns, end_ns, every_ns, dtype=np.int64)


def resample(
    batch: SampleBatch,
    start_ns: int,
    end_ns: int,
    every_ns: int,
    method: Method,
    *,
    max_gap_ns: int | None = None,
) -> Resampled:
    """``batch`` (one tag, any order) per bucket of ``every_ns`` over [start_ns, end_ns).

    See the module docstring for the semantics. Raises QueryError naming a bad parameter.
    """
    check_range(start_ns, end_ns)
    check_every(start_ns, end_ns, every_ns)
    if method not in METHODS:
        raise QueryError(f"method: {method!r} is not one of {', '.join(METHODS)}")
    if max_gap_ns is not None and not 1 <= max_gap_ns <= INT64_MAX:
        raise QueryError(f"max_gap_ns: {max_gap_ns} must be between 1 and {INT64_MAX}")
    buckets = bucket_starts(start_ns, end_ns, every_ns)
    lo, hi = buckets.copy(), np.append(buckets[1:], np.int64(end_ns))
    lo[0] = start_ns
    if len(batch) == 0:
        return Resampled(buckets, np.full(len(buckets), np.nan), np.ones(len(buckets), np.bool_))
    gap_ns = max_gap_ns if max_gap_ns is not None else default_max_gap(batch.ts)
    steps = _steps(batch, end_ns, INT64_MAX if gap_ns is None else gap_ns)
    value, gap = _twa(steps, lo, hi) if method == "twa" else _step(steps, lo)
    return Resampled(buckets, value, gap)


def _steps(batch: SampleBatch, end_ns: int, max_gap_ns: int) -> _Steps:
    order = np.argsort(batch.ts, kind="stable")  # equal times: the later sample wins
    ts, values, quality = batch.ts[order], batch.values[order], batch.quality[order]
    following = np.append(ts[1:], np.int64(max(end_ns, int(ts[-1]))))
    valid = (quality < Quality.BAD) & np.isfinite(values)
    held = np.where(valid, np.minimum(following - ts, max_gap_ns), 0)
    value = np.where(valid, values, 0.0)
    # Sums of value - ref instead of value: no cancellation for a signal far from zero.
    ref = float(value[np.argmax(valid)])
    time_before = np.concatenate(([0], np.cumsum(held)[:-1])).astype(np.int64)
    weighted = np.concatenate(([0.0], np.cumsum(held * (value - ref))[:-1]))
    return _Steps(ts, held, value, ref, time_before, weighted)


def _last_at(steps: _Steps, at: npt.NDArray[np.int64]) -> npt.NDArray[np.intp]:
    """Index of the last sample at or before each time; 0 before the first (whose interval
    then contributes nothing, as it has not begun)."""
    return np.maximum(np.searchsorted(steps.start, at, side="right") - 1, 0)


def _integrals(
    steps: _Steps, at: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """Valid time and (value - ref) × valid time from the first sample up to each time."""
    k = _last_at(steps, at)
    partial = np.clip(at - steps.start[k], 0, steps.held[k])
    weighted = steps.weighted_before[k] + partial * (steps.value[k] - steps.ref)
    return steps.time_before[k] + partial, weighted


def _twa(
    steps: _Steps, lo: npt.NDArray[np.int64], hi: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    time_lo, weighted_lo = _integrals(steps, lo)
    time_hi, weighted_hi = _integrals(steps, hi)
    valid_time = time_hi - time_lo
    some = valid_time > 0
    value = np.full(len(lo), np.nan)
    value[some] = steps.ref + (weighted_hi - weighted_lo)[some] / valid_time[some]
    return value, valid_time < hi - lo


def _step(
    steps: _Steps, at: npt.NDArray[np.int64]
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
    k = _last_at(steps, at)
    offset = at - steps.start[k]  # negative before the first sample
    holds = (offset >= 0) & (offset < steps.held[k])
    return np.where(holds, steps.value[k], np.nan), ~holds
