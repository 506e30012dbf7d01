"""Rollups: per-(tag, bucket) partial aggregates at 1 minute and 1 hour, backend-neutral.

A rollup row holds min, max, sum, count, (first_ts, first) and (last_ts, last) of the
non-BAD samples of one tag in one bucket. Partials *merge*: min of mins, sum of sums, the
first with the smaller first_ts... so the backends keep rollups up to date by merging the
partials of exactly the samples a write stored (never a duplicate, since writes are
idempotent): O(batch) work, right for late and out-of-order samples and for replays, and
still right for a late sample in a bucket whose raw samples retention already deleted.

A query reads a rollup when its bucket width is a multiple of the rollup's and the range
spans at least MIN_SPAN_BUCKETS rollup buckets; the unaligned ends of the range come from
the raw samples, merged in as one-sample partials, so results equal those from raw samples
(sum and avg up to float rounding: partial sums add in another order).
"""

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.errors import StoreError
from factoryos.store.querycheck import INT64_MAX, INT64_MIN

MINUTE_NS = 60 * 10**9
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS
MIN_SPAN_BUCKETS = 3
"""A rollup serves a query spanning at least this many of its buckets (else raw is as cheap)."""

PARTIAL_COLUMNS = (
    ("tag_id", "int32"),
    ("bucket_ns", "int64"),
    ("min", "float64"),
    ("max", "float64"),
    ("sum", "float64"),
    ("count", "int64"),
    ("first_ts", "int64"),
    ("first", "float64"),
    ("last_ts", "int64"),
    ("last", "float64"),
)
"""The columns of a rollup table and of a Partials batch, in order, with their numpy types."""


@dataclass(frozen=True, slots=True)
class Level:
    """One rollup: its table and bucket width."""

    table: str
    width_ns: int


LEVELS = (Level("rollup_1m", MINUTE_NS), Level("rollup_1h", HOUR_NS))
"""Finest first."""


@dataclass(frozen=True, slots=True)
class Retention:
    """How long each kind of data is kept, in ns (the store-wide default policy)."""

    raw_keep_ns: int = 30 * DAY_NS
    rollup_1m_keep_ns: int = 400 * DAY_NS
    rollup_1h_keep_ns: int = 10 * 366 * DAY_NS


@dataclass(frozen=True, slots=True)
class Cutoffs:
    """What retention deletes: raw samples with ts < raw_ns and, per rollup table, rows with
    bucket_ns < its cutoff (buckets that end at or before now - keep: deleted whole)."""

    raw_ns: int
    bucket_ns: dict[str, int]


@dataclass(frozen=True, slots=True)
class Plan:
    """How to serve an aggregate query from a rollup: rollup buckets in
    [inner_start, inner_end), raw samples in [start, inner_start) and [inner_end, end)."""

    level: Level
    inner_start: int
    inner_end: int


def choose(start_ns: int, end_ns: int, every_ns: int) -> Plan | None:
    """The coarsest rollup that can serve the (checked) query, or None for raw samples."""
    for level in reversed(LEVELS):
        width = level.width_ns
        if every_ns % width or end_ns - start_ns < MIN_SPAN_BUCKETS * width:
            continue
        inner_start = -(-start_ns // width) * width
        inner_end = end_ns // width * width
        return Plan(level, inner_start, inner_end)
    return None


DENSE_SLOTS_PER_SAMPLE = 4
"""`partials` groups through a dense (tag, bucket) grid when it has at most this many slots
per sample (plus DENSE_MIN_SLOTS): O(n) scatter ufuncs instead of an O(n log n) sort."""
DENSE_MIN_SLOTS = 65_536

Partials = dict[str, npt.NDArray[np.generic]]


def partials(batch: SampleBatch, width_ns: int) -> Partials:
    """The partial aggregates of the non-BAD samples of ``batch`` per (tag, bucket of
    ``width_ns``), sorted by (tag, bucket); ``batch`` must not repeat a (tag, ts)."""
    good = batch.quality != np.uint8(Quality.BAD)
    if bool(good.all()):  # the usual case: no copies
        ids, ts, values = batch.tag_ids, batch.ts, batch.values
    else:
        ids, ts, values = batch.tag_ids[good], batch.ts[good], batch.values[good]
    if len(ids) == 0:
        return {name: np.empty(0, dtype=kind) for name, kind in PARTIAL_COLUMNS}
    bucket = ts // width_ns  # floors: right before the epoch too
    dense = _dense_partials(ids, ts, values, bucket)
    if dense is not None:
        dense["bucket_ns"] = dense["bucket_ns"] * width_ns
        return dense
    order = np.lexsort((ts, ids))
    ids, ts, values = ids[order], ts[order], values[order]
    ones = np.ones(len(ids), dtype=np.int64)
    return _merge_sorted(ids, bucket[order] * width_ns, values, values, values, ones, ts, values)


def coarsen(parts: Partials, width_ns: int) -> Partials:
    """``parts`` (sorted by (tag, bucket), buckets dividing ``width_ns``) merged into buckets
    of ``width_ns``, sorted the same way."""
    if len(parts["tag_id"]) == 0:
        return parts
    # from a real ts: a bucket_ns below INT64_MIN has wrapped (as ts - ts % width would)
    buckets = parts["first_ts"] // width_ns * width_ns
    return _merge_sorted(
        parts["tag_id"], buckets, parts["min"], parts["max"], parts["sum"], parts["count"],
        parts["first_ts"], parts["first"], parts["last_ts"], parts["last"],
    )  # fmt: skip


def level_partials(batch: SampleBatch) -> list[tuple[Level, Partials]]:
    """The partials of ``batch`` for each level, finest first; the coarser levels are merged
    from the finest (far fewer rows than samples)."""
    parts = partials(batch, LEVELS[0].width_ns)
    result = [(LEVELS[0], parts)]
    for level in LEVELS[1:]:
        parts = coarsen(parts, level.width_ns)
        result.append((level, parts))
    return result


def _dense_partials(
    ids: npt.NDArray[np.int32],
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    bucket: npt.NDArray[np.int64],
) -> Partials | None:
    """Partials (bucket_ns still in bucket numbers) grouped through a dense (tag, bucket)
    grid, or None when the grid would be too sparse; (tag, ts) unique, so each group has
    exactly one sample at its first and at its last ts."""
    tag0, bucket0 = int(ids.min()), int(bucket.min())
    n_buckets = int(bucket.max()) - bucket0 + 1
    slots = (int(ids.max()) - tag0 + 1) * n_buckets
    if slots > DENSE_SLOTS_PER_SAMPLE * len(ids) + DENSE_MIN_SLOTS:
        return None
    key = ids.astype(np.intp)  # in place from here: fewer large temporaries
    key -= tag0
    key *= n_buckets
    key += bucket
    key -= bucket0
    counts = np.bincount(key, minlength=slots)
    present = np.flatnonzero(counts)
    slot_group = np.empty(slots, dtype=np.intp)
    slot_group[present] = np.arange(len(present))
    group = slot_group[key]  # (tag, bucket) order, like `present`
    n = len(present)
    first_ts = np.full(n, INT64_MAX, dtype=np.int64)
    np.minimum.at(first_ts, group, ts)
    last_ts = np.full(n, INT64_MIN, dtype=np.int64)
    np.maximum.at(last_ts, group, ts)
    mins = np.full(n, np.inf)
    np.minimum.at(mins, group, values)
    maxs = np.full(n, -np.inf)
    np.maximum.at(maxs, group, values)
    return {
        "tag_id": (present // n_buckets + tag0).astype(np.int32),
        "bucket_ns": (present % n_buckets + bucket0).astype(np.int64),
        "min": mins,
        "max": maxs,
        "sum": np.bincount(group, weights=values, minlength=n),
        "count": counts[present].astype(np.int64),
        "first_ts": first_ts,
        "first": _at_ts(group, ts, values, first_ts),
        "last_ts": last_ts,
        "last": _at_ts(group, ts, values, last_ts),
    }


def _at_ts(
    group: npt.NDArray[np.intp],
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    group_ts: npt.NDArray[np.int64],
) -> npt.NDArray[np.float64]:
    """The value of each group's (only) sample at ``group_ts``."""
    hit = ts == group_ts[group]
    out = np.empty(len(group_ts))
    out[group[hit]] = values[hit]
    return out


def _merge_sorted(
    ids: npt.NDArray[np.generic],
    buckets: npt.NDArray[np.generic],
    mins: npt.NDArray[np.generic],
    maxs: npt.NDArray[np.generic],
    sums: npt.NDArray[np.generic],
    counts: npt.NDArray[np.generic],
    first_ts: npt.NDArray[np.generic],
    firsts: npt.NDArray[np.generic],
    last_ts: npt.NDArray[np.generic] | None = None,
    lasts: npt.NDArray[np.generic] | None = None,
) -> Partials:
    """Merge partial rows sorted by (tag, bucket, time) per (tag, bucket); without
    ``last_ts``/``lasts`` the rows are single samples (last = first)."""
    last_ts = first_ts if last_ts is None else last_ts
    lasts = firsts if lasts is None else lasts
    change = (ids[1:] != ids[:-1]) | (buckets[1:] != buckets[:-1])
    starts = np.flatnonzero(np.concatenate(([True], change)))
    ends = np.append(starts[1:], len(ids)) - 1
    return {
        "tag_id": ids[starts].astype(np.int32),
        "bucket_ns": buckets[starts].astype(np.int64),
        "min": np.minimum.reduceat(mins, starts),
        "max": np.maximum.reduceat(maxs, starts),
        "sum": np.add.reduceat(sums, starts),
        "count": np.add.reduceat(counts, starts).astype(np.int64),
        "first_ts": first_ts[starts],
        "first": firsts[starts],
        "last_ts": last_ts[ends],
        "last": lasts[ends],
    }


def cutoffs(
    raw_keep_ns: int, rollup_1m_keep_ns: int, rollup_1h_keep_ns: int, now_ns: int
) -> Cutoffs:
    """The retention cutoffs at ``now_ns``; a negative keep is refused."""
    keeps = {
        "raw_keep_ns": raw_keep_ns,
        "rollup_1m_keep_ns": rollup_1m_keep_ns,
        "rollup_1h_keep_ns": rollup_1h_keep_ns,
    }
    for name, value in keeps.items():
        if value < 0:
            raise StoreError(f"retention: {name} must be >= 0, got {value}")
    rollup_keeps = (rollup_1m_keep_ns, rollup_1h_keep_ns)
    return Cutoffs(
        raw_ns=_clamp(now_ns - raw_keep_ns),
        bucket_ns={
            level.table: _clamp(now_ns - keep - level.width_ns + 1)
            for level, keep in zip(LEVELS, rollup_keeps, strict=True)
        },
    )


def _clamp(ns: int) -> int:
    return min(max(ns, INT64_MIN), INT64_MAX)


MERGE_SET = (
    'ON CONFLICT (tag_id, bucket_ns) DO UPDATE SET "min" = least(r."min", excluded."min"),'
    ' "max" = greatest(r."max", excluded."max"), "sum" = r."sum" + excluded."sum",'
    ' "count" = r."count" + excluded."count",'
    ' "first" = CASE WHEN excluded.first_ts < r.first_ts THEN excluded."first" ELSE r."first" END,'
    " first_ts = least(r.first_ts, excluded.first_ts),"
    ' "last" = CASE WHEN excluded.last_ts > r.last_ts THEN excluded."last" ELSE r."last" END,'
    " last_ts = greatest(r.last_ts, excluded.last_ts)"
)
"""The SQL (DuckDB and PostgreSQL alike) that merges a partial into the stored row ``r``."""
COLUMN_LIST = ", ".join(f'"{name}"' for name, _ in PARTIAL_COLUMNS)
