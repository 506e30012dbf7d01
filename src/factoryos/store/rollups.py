"""Rollups: per-(tag, bucket) partial aggregates at 1 minute and 1 hour, backend-neutral.

A rollup row holds min, max, sum, count, (first_ts, first) and (last_ts, last) of the
non-BAD samples of one tag in one bucket. Partials *merge* (min of mins, sum of sums, the
first with the smaller first_ts, ...), so a rollup table may hold several rows of one
(tag, bucket) and queries merge them: the tables have no key and are only ever appended to.

Rollups are **materialized behind a watermark**, level by level (the idea of continuous
aggregates with real-time aggregation): a level holds every sample with ts below its
watermark, and nothing above. When the newest sample (and the clock) has passed a whole
``step`` beyond a level's watermark plus GRACE_NS, the store aggregates the level's source
(raw samples for 1 minute, 1-minute rows for 1 hour) between the old and the new watermark
in one statement and appends the rows sorted by (tag, bucket): a one-tag query then reads
one row group per step. A sample stored later with ts below a watermark (late, replayed
after an outage) has its partial appended to that level in the same transaction, so it
counts exactly once. A query splits its range at the watermarks (`pieces`): the coarse
level below its watermark, the finer level above, raw samples above the finest watermark
and at the unaligned ends; results equal those from raw samples (sum and avg up to float
rounding: partial sums add in another order).
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


GRACE_NS = 10 * MINUTE_NS
"""Materialization stays this far behind the newest sample and the clock: samples up to
this late usually arrive before their buckets are materialized (later ones still count)."""


@dataclass(frozen=True, slots=True)
class Level:
    """One rollup: its table, bucket width and materialization step."""

    table: str
    width_ns: int
    step_ns: int
    """Watermarks advance in whole steps: larger steps mean fewer, larger sorted runs."""


LEVELS = (Level("rollup_1m", MINUTE_NS, HOUR_NS), Level("rollup_1h", HOUR_NS, DAY_NS))
"""Finest first; each level is materialized from the one before it (the first from raw)."""

Watermarks = tuple[int, ...]
"""Per level (LEVELS order): every sample with ts below it is in the level; non-increasing."""
NOTHING = INT64_MIN
"""The watermark of a level nothing has been materialized into."""
NO_MARKS: Watermarks = (NOTHING,) * len(LEVELS)
"""The watermarks of a store with nothing materialized."""


@dataclass(frozen=True, slots=True)
class Piece:
    """A part of a query range served by one source: a rollup table, or raw samples."""

    table: str | None
    """None for raw samples."""
    start_ns: int
    end_ns: int


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


def pieces(start_ns: int, end_ns: int, plan: Plan | None, marks: Watermarks) -> list[Piece]:
    """The sources of an aggregate over [start_ns, end_ns): inside the plan's aligned range,
    each level from the plan's down to the finest below its watermark, then raw samples;
    raw samples at the unaligned ends. Empty pieces are left out, adjacent raw ones joined."""
    if plan is None:
        return [Piece(None, start_ns, end_ns)]
    result = [Piece(None, start_ns, plan.inner_start)]
    lo = plan.inner_start
    for index in range(LEVELS.index(plan.level), -1, -1):
        hi = min(max(marks[index], lo), plan.inner_end)
        result.append(Piece(LEVELS[index].table, lo, hi))
        lo = hi
    result.append(Piece(None, lo, end_ns))
    merged: list[Piece] = []
    for piece in (p for p in result if p.start_ns < p.end_ns):
        if merged and merged[-1].table == piece.table and merged[-1].end_ns == piece.start_ns:
            piece = Piece(piece.table, merged.pop().start_ns, piece.end_ns)
        merged.append(piece)
    return merged


def advanced(marks: Watermarks, newest_ns: int, now_ns: int) -> Watermarks:
    """The watermarks once ``newest_ns`` (the newest sample stored) is known at ``now_ns``:
    each level's in whole steps, GRACE_NS behind the newest sample and the clock, and
    never above the level it is made from."""
    below = min(newest_ns, now_ns) - GRACE_NS
    result = []
    for level, mark in zip(LEVELS, marks, strict=True):
        below = max(mark, _floor(below, level.step_ns))
        result.append(below)
    return tuple(result)


def forced(marks: Watermarks, cut: Cutoffs) -> Watermarks:
    """The watermarks retention needs before it deletes: the finest level at or above the
    raw cutoff, each coarser one at or above the cutoff of the level it is made from (so
    nothing is deleted before it is rolled up); finer levels never below coarser ones."""
    needs = [cut.raw_ns] + [cut.bucket_ns[level.table] for level in LEVELS[:-1]]
    result = [
        max(mark, min(_ceil(need, level.width_ns), _floor(INT64_MAX, level.width_ns)))
        for level, mark, need in zip(LEVELS, marks, needs, strict=True)
    ]
    for index in range(len(result) - 2, -1, -1):
        result[index] = max(result[index], result[index + 1])
    return tuple(result)


def _floor(ns: int, width: int) -> int:
    return ns // width * width


def _ceil(ns: int, width: int) -> int:
    return -(-ns // width) * width


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
    return _merge_sorted(ids, bucket[order] * width_ns, ts, values)


def first_bucket(level: Level) -> int:
    """The first whole bucket of ``level`` in int64: samples before it (in the bucket that
    starts below INT64_MIN) are never rolled up; queries read them raw, since a plan's
    rollup range starts at a whole bucket."""
    return _ceil(INT64_MIN, level.width_ns)


def to_materialize(old: Watermarks, new: Watermarks) -> list[tuple[int, Level, int, int]]:
    """(index, level, lo, hi) of each level to aggregate from ``old`` to ``new``, finest
    first (each level is made from the one before)."""
    return [
        (index, level, max(lo, first_bucket(level)), hi)
        for index, (level, lo, hi) in enumerate(zip(LEVELS, old, new, strict=True))
        if hi > lo
    ]


def late_partials(stored: SampleBatch, marks: Watermarks) -> list[tuple[Level, Partials]]:
    """The partials each level must append for the samples of ``stored`` (just stored, none
    twice) that lie below its watermark; levels with none are left out."""
    result = []
    for level, mark in zip(LEVELS, marks, strict=True):
        below = (stored.ts < mark) & (stored.ts >= first_bucket(level))
        if bool(below.any()):
            result.append((level, partials(stored.take(below), level.width_ns)))
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
    ids: npt.NDArray[np.int32],
    buckets: npt.NDArray[np.int64],
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
) -> Partials:
    """Partials of single samples sorted by (tag, bucket, ts), per (tag, bucket)."""
    change = (ids[1:] != ids[:-1]) | (buckets[1:] != buckets[:-1])
    starts = np.flatnonzero(np.concatenate(([True], change)))
    ends = np.append(starts[1:], len(ids)) - 1
    return {
        "tag_id": ids[starts].astype(np.int32),
        "bucket_ns": buckets[starts].astype(np.int64),
        "min": np.minimum.reduceat(values, starts),
        "max": np.maximum.reduceat(values, starts),
        "sum": np.add.reduceat(values, starts),
        "count": np.diff(np.append(starts, len(ids))).astype(np.int64),
        "first_ts": ts[starts],
        "first": values[starts],
        "last_ts": ts[ends],
        "last": values[ends],
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


RAW_AS_PARTIAL = (
    'ts, value AS "min", value AS "max", value AS "sum", 1 AS "count", ts AS first_ts,'
    ' value AS "first", ts AS last_ts, value AS "last"'
)
"""The SELECT list (DuckDB and PostgreSQL alike) of raw samples as one-sample partials."""
COLUMN_LIST = ", ".join(f'"{name}"' for name, _ in PARTIAL_COLUMNS)
