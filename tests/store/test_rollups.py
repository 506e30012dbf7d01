"""Rollups and retention, on every backend: aggregates served from rollup_1m / rollup_1h must
equal a numpy reference computed from the raw samples, after late samples, replays and BAD
samples too; retention deletes old data while long-range aggregates keep working.
"""

from typing import Any

import numpy as np
import numpy.typing as npt
import psycopg
import pytest

from factoryos.model.samples import SampleBatch
from factoryos.store import pg_schema, rollups
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.errors import StoreError
from factoryos.store.retention import RetentionClass, RetentionPolicy
from factoryos.store.rollups import DAY_NS, HOUR_NS, MINUTE_NS, Retention
from store.test_backends import BAD, PG_URL, T0, UNCERTAIN, Backend, S

ALL = ["min", "max", "avg", "sum", "first", "last", "count"]
TAG = 3


def reference(
    ts: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    quality: npt.NDArray[np.uint8],
    start: int,
    end: int,
    every: int,
) -> dict[str, Any]:
    keep = (ts >= start) & (ts < end) & (quality != BAD)
    kts, kv = ts[keep], values[keep]
    buckets = kts - kts % every
    expected = np.unique(buckets)
    groups = [(kts[buckets == b], kv[buckets == b]) for b in expected]
    return {
        "bucket_ns": expected.tolist(),
        "min": [v.min() for _, v in groups],
        "max": [v.max() for _, v in groups],
        "avg": [v.mean() for _, v in groups],
        "sum": [v.sum() for _, v in groups],
        "first": [v[np.argmin(t)] for t, v in groups],
        "last": [v[np.argmax(t)] for t, v in groups],
        "count": [len(v) for _, v in groups],
    }


def assert_matches(
    store: TimeSeriesStore, samples: SampleBatch, start: int, end: int, every: int
) -> None:
    got = store.aggregate(TAG, start, end, every, ALL)
    want = reference(samples.ts, samples.values, samples.quality, start, end, every)
    assert got.bucket_ns.tolist() == want["bucket_ns"]
    for name in ("min", "max", "first", "last", "count"):
        assert got.columns[name].tolist() == list(want[name]), name
    for name in ("avg", "sum"):  # partial sums add in another order: float rounding only
        np.testing.assert_allclose(got.columns[name], want[name], rtol=1e-12)
    assert got.columns["count"].dtype == np.int64 and got.columns["sum"].dtype == np.float64


def random_samples(seed: int, n: int, span: int, start: int = T0) -> SampleBatch:
    rng = np.random.default_rng(seed)
    ts = start + np.sort(rng.choice(span // (10**7), size=n, replace=False)) * 10**7
    quality = rng.choice([0, UNCERTAIN, BAD], size=n, p=[0.8, 0.1, 0.1]).astype(np.uint8)
    return SampleBatch.build(np.full(n, TAG), ts, rng.normal(50.0, 10.0, n), quality)


QUERIES = [
    (T0 + 17 * S + 3, T0 + 10 * HOUR_NS - 5 * S, HOUR_NS),  # 1 h rollup, ragged ends
    (T0 - HOUR_NS, T0 + 11 * HOUR_NS, 2 * HOUR_NS),  # 1 h rollup, aligned ends
    (T0 + 123 * S, T0 + 5 * HOUR_NS + 7 * S, 5 * MINUTE_NS),  # 1 min rollup
    (T0 + 7 * S, T0 + 2 * HOUR_NS, MINUTE_NS),  # 1 min rollup, 1 min buckets
    (T0, T0 + 2 * HOUR_NS, 90 * S),  # not a multiple of a minute: raw
    (T0 + 5 * S, T0 + 2 * MINUTE_NS, MINUTE_NS),  # too short for a rollup: raw
]


def test_choose_picks_the_coarsest_rollup_that_divides_every() -> None:
    assert rollups.choose(T0, T0 + 10 * HOUR_NS, HOUR_NS) == rollups.Plan(
        rollups.LEVELS[1], T0, T0 + 10 * HOUR_NS
    )
    plan = rollups.choose(T0 + 1, T0 + 10 * HOUR_NS - 1, 2 * HOUR_NS)
    assert plan is not None and plan.level.table == "rollup_1h"
    assert (plan.inner_start, plan.inner_end) == (T0 + HOUR_NS, T0 + 9 * HOUR_NS)
    plan = rollups.choose(T0, T0 + 2 * HOUR_NS, HOUR_NS)  # two hours: minutes serve it
    assert plan is not None and plan.level.table == "rollup_1m"
    assert rollups.choose(T0, T0 + 10 * HOUR_NS, 90 * S) is None
    assert rollups.choose(T0, T0 + 2 * MINUTE_NS, MINUTE_NS) is None


def test_partials_merge_per_tag_and_bucket_without_bad_samples() -> None:
    batch = SampleBatch.build(
        [2, 1, 1, 1, 2, 1],
        [-30 * S, 70 * S, 10 * S, 20 * S, 5 * S, 30 * S],
        [9.0, 4.0, 1.0, 7.0, 8.0, 3.0],
        [0, 0, 0, 0, 0, BAD],
    )
    p = rollups.partials(batch, MINUTE_NS)
    assert p["tag_id"].tolist() == [1, 1, 2, 2]
    assert p["bucket_ns"].tolist() == [0, MINUTE_NS, -MINUTE_NS, 0]
    assert p["min"].tolist() == [1.0, 4.0, 9.0, 8.0]
    assert p["sum"].tolist() == [8.0, 4.0, 9.0, 8.0]
    assert p["count"].tolist() == [2, 1, 1, 1]
    assert p["first_ts"].tolist() == [10 * S, 70 * S, -30 * S, 5 * S]
    assert p["last"].tolist() == [7.0, 4.0, 9.0, 8.0]
    empty = rollups.partials(SampleBatch.build([1], [0], [1.0], [BAD]), MINUTE_NS)
    assert all(len(column) == 0 for column in empty.values())


def test_dense_and_sorted_partials_agree() -> None:
    rng = np.random.default_rng(21)
    n = 5000
    keys = rng.choice(40 * 3 * HOUR_NS // S, size=n, replace=False)  # unique (tag, ts)
    tags, ts = keys // (3 * HOUR_NS // S), T0 - HOUR_NS + keys % (3 * HOUR_NS // S) * S
    quality = rng.choice([0, UNCERTAIN, BAD], size=n, p=[0.8, 0.1, 0.1])
    batch = SampleBatch.build(tags, ts, rng.normal(0.0, 5.0, n), quality)
    dense = {width: rollups.partials(batch, width) for width in (MINUTE_NS, HOUR_NS)}
    slots = rollups.DENSE_SLOTS_PER_SAMPLE, rollups.DENSE_MIN_SLOTS
    try:  # a grid too sparse for any batch: the lexsort path
        rollups.DENSE_SLOTS_PER_SAMPLE, rollups.DENSE_MIN_SLOTS = 0, 0
        spread = SampleBatch.build([1, 2], [0, 10**6 * HOUR_NS], [1.0, 2.0])
        assert rollups.partials(spread, MINUTE_NS)["bucket_ns"].tolist() == [0, 10**6 * HOUR_NS]
        sorted_ = {width: rollups.partials(batch, width) for width in (MINUTE_NS, HOUR_NS)}
    finally:
        rollups.DENSE_SLOTS_PER_SAMPLE, rollups.DENSE_MIN_SLOTS = slots
    for width in (MINUTE_NS, HOUR_NS):
        for name, _ in rollups.PARTIAL_COLUMNS:
            got, want = dense[width][name], sorted_[width][name]
            if name == "sum":  # added in another order: float rounding only
                np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-12)
            else:
                np.testing.assert_array_equal(got, want, err_msg=name)
    fine = dense[MINUTE_NS]
    assert fine["tag_id"].dtype == np.int32 and fine["count"].dtype == np.int64
    assert int(fine["count"].sum()) == int(np.sum(quality != BAD))
    assert len(dense[HOUR_NS]["tag_id"]) < len(fine["tag_id"])


def test_pieces_split_a_query_at_the_watermarks() -> None:
    h, m = HOUR_NS, MINUTE_NS
    plan = rollups.choose(T0 + 5 * S, T0 + 30 * h + 7 * S, h)
    assert plan is not None and plan.level.table == "rollup_1h"
    marks = (T0 + 20 * h + 30 * m, T0 + 10 * h)  # 1 min ahead of 1 h
    got = [(p.table, p.start_ns - T0, p.end_ns - T0) for p in rollups.pieces(
        T0 + 5 * S, T0 + 30 * h + 7 * S, plan, marks
    )]  # fmt: skip
    assert got == [
        (None, 5 * S, h),
        ("rollup_1h", h, 10 * h),
        ("rollup_1m", 10 * h, 20 * h + 30 * m),
        (None, 20 * h + 30 * m, 30 * h + 7 * S),
    ]
    # nothing materialized: all raw; all materialized: the rollup up to the aligned end
    aligned = rollups.choose(T0, T0 + 30 * h, h)
    assert rollups.pieces(T0, T0 + 30 * h, aligned, rollups.NO_MARKS) == [
        rollups.Piece(None, T0, T0 + 30 * h)
    ]
    top = (T0 + 100 * h, T0 + 100 * h)
    assert rollups.pieces(T0, T0 + 30 * h, aligned, top) == [
        rollups.Piece("rollup_1h", T0, T0 + 30 * h)
    ]
    assert rollups.pieces(T0, T0 + h, None, top) == [rollups.Piece(None, T0, T0 + h)]


def test_watermarks_advance_in_whole_steps_behind_the_newest_sample_and_the_clock() -> None:
    day, h = DAY_NS, HOUR_NS
    t = 20_000 * day  # a day boundary
    marks = rollups.advanced(rollups.NO_MARKS, t + 2 * day + 5 * h + 5 * MINUTE_NS, 30_000 * day)
    assert marks == (t + 2 * day + 4 * h, t + 2 * day)  # 5 min past 5 h is within the grace
    assert rollups.advanced(marks, t, 30_000 * day) == marks  # never back
    assert rollups.advanced(rollups.NO_MARKS, t + 9 * day, t + 3 * h)[0] == t + 2 * h  # clock
    cut = rollups.cutoffs(day, 3 * day, 10 * day, t + 9 * day + 30 * S)
    forced = rollups.forced(marks, cut)  # up to the raw cutoff, rounded up to whole buckets
    assert forced[0] == t + 8 * day + MINUTE_NS
    assert forced[1] >= cut.bucket_ns["rollup_1m"] and forced[1] % h == 0
    assert forced[0] >= forced[1]


def test_rollups_equal_raw_after_late_samples_replays_and_bad_samples(
    store: TimeSeriesStore,
) -> None:
    samples = random_samples(11, 20_000, 10 * HOUR_NS)
    rng = np.random.default_rng(5)
    in_time = np.arange(len(samples))
    late = rng.choice(in_time, size=3000, replace=False)
    on_time = np.setdiff1d(in_time, late)
    for part in np.array_split(on_time, 8):  # in time order, in several writes
        store.write(samples.take(part))
    store.write(SampleBatch.build([TAG + 1], [T0 + HOUR_NS], [1e9]))  # another tag stays out
    for part in np.array_split(rng.permutation(late), 3):  # late and out of order
        store.write(samples.take(part))
    assert store.write(samples) == 0  # a full replay changes nothing
    replay = samples.take(rng.choice(in_time, size=500, replace=False))
    assert store.write(replay) == 0
    for start, end, every in QUERIES:
        assert_matches(store, samples, start, end, every)


def test_a_late_sample_corrects_its_buckets(store: TimeSeriesStore) -> None:
    base = SampleBatch.build(
        [TAG] * 3, [T0 + S, T0 + HOUR_NS + S, T0 + 3 * HOUR_NS], [5.0, 6.0, 7.0]
    )
    store.write(base)
    before = store.aggregate(TAG, T0, T0 + 4 * HOUR_NS, HOUR_NS, ["first", "min", "count"])
    assert before.columns["first"].tolist() == [5.0, 6.0, 7.0]
    late = SampleBatch.build([TAG, TAG], [T0, T0 + 2 * HOUR_NS], [-1.0, 3.0])
    assert store.write(late) == 2
    after = store.aggregate(TAG, T0, T0 + 4 * HOUR_NS, HOUR_NS, ["first", "min", "count"])
    assert after.bucket_ns.tolist() == [T0 + i * HOUR_NS for i in range(4)]
    assert after.columns["first"].tolist() == [-1.0, 6.0, 3.0, 7.0]
    assert after.columns["count"].tolist() == [2, 1, 1, 1]
    minutes = store.aggregate(TAG, T0, T0 + 4 * HOUR_NS, MINUTE_NS, ["last", "count"])
    assert minutes.columns["last"].tolist()[:1] == [5.0]  # the minute [T0, T0+1min)


def test_a_store_without_rollups_is_filled_from_its_samples(backend: Backend) -> None:
    samples = random_samples(3, 5000, 6 * HOUR_NS)
    with backend.open() as first:
        first.write(samples)
    backend.execute("DROP TABLE rollup_1m; DROP TABLE rollup_1h")
    store = backend.open()
    assert_matches(store, samples, T0 + 11 * S, T0 + 6 * HOUR_NS, HOUR_NS)
    assert_matches(store, samples, T0, T0 + 6 * HOUR_NS, 10 * MINUTE_NS)


def test_materialized_ranges_are_served_from_the_rollups_with_late_samples_counted_once(
    backend: Backend,
) -> None:
    samples = random_samples(4, 20_000, 3 * DAY_NS)
    with backend.open() as store:
        store.write(samples)  # the newest sample moves the watermarks past T0 + 2 days
        late = SampleBatch.build([TAG, TAG], [T0 + 5 * S + 1, T0 + DAY_NS + 1], [1e6, -1e6])
        assert store.write(late) == 2
        assert store.write(late) == 0  # a replay: counted once
    everything = SampleBatch.concat([samples, late])
    # raw samples deleted behind the store's back: materialized ranges still answer whole
    backend.execute(f"DELETE FROM samples WHERE ts < {T0 + 2 * DAY_NS}")
    with backend.open() as store:
        for every in (HOUR_NS, 10 * MINUTE_NS):
            assert_matches(store, everything, T0, T0 + 2 * DAY_NS, every)
        assert (
            store.aggregate(TAG, T0, T0 + 2 * DAY_NS, 90 * S, ["count"]).columns["count"].sum() == 0
        )  # not a rollup width: raw, and raw is gone


def test_retention_keeps_rollups_longer_than_raw_samples(backend: Backend) -> None:
    store = backend.open()
    days = 5
    samples = random_samples(9, 20_000, days * DAY_NS)
    store.write(samples)
    now = T0 + days * DAY_NS
    hourly = store.aggregate(TAG, T0, now, HOUR_NS, ALL)
    deleted = store.apply_retention(keep(DAY_NS, 3 * DAY_NS, 10 * DAY_NS), now)
    assert deleted["samples"] == int(np.sum(samples.ts < now - DAY_NS))
    assert deleted["rollup_1m"] > 0 and deleted["rollup_1h"] == 0
    assert store.count() == int(np.sum(samples.ts >= now - DAY_NS))
    # hourly aggregates over all 5 days still come whole from rollup_1h
    again = store.aggregate(TAG, T0, now, HOUR_NS, ALL)
    assert again.bucket_ns.tolist() == hourly.bucket_ns.tolist()
    for name in ALL:
        np.testing.assert_allclose(again.columns[name], hourly.columns[name], rtol=1e-12)
    # minute rollups are gone for buckets older than 3 days, kept for the last 3
    minutes = store.aggregate(TAG, T0, now, 10 * MINUTE_NS, ["count"])
    assert int(minutes.bucket_ns.min()) >= now - 3 * DAY_NS - 10 * MINUTE_NS
    # a replay of expired samples is not stored again, nor counted twice
    assert store.write(samples) == 0
    after = store.aggregate(TAG, T0, now, HOUR_NS, ["count"])
    assert after.columns["count"].tolist() == hourly.columns["count"].tolist()
    if backend.kind == "postgres":  # whole day partitions before the cutoff were dropped
        with psycopg.connect(PG_URL) as conn:
            left = pg_schema.existing_partitions(conn, backend.schema)
        assert min(left) == (now - DAY_NS) // DAY_NS
    store.close()
    reopened = backend.open()  # the cutoff survives a reopen
    assert reopened.write(samples.take(np.arange(10))) == 0


def test_retention_refuses_a_negative_keep_or_a_tag_in_two_classes(
    store: TimeSeriesStore,
) -> None:
    store.write(random_samples(1, 100, HOUR_NS))
    with pytest.raises(StoreError, match="raw_keep_ns"):
        store.apply_retention(keep(-1, DAY_NS, DAY_NS), T0)
    bad_class = RetentionClass("fast", Retention(DAY_NS, -DAY_NS, DAY_NS), np.array([TAG]))
    with pytest.raises(StoreError, match=r"rollup_1m_keep_ns .*\(class fast\)"):
        store.apply_retention(RetentionPolicy(classes=(bad_class,)), T0)
    twice = tuple(RetentionClass(n, Retention(), np.array([7, TAG])) for n in ("a", "b"))
    with pytest.raises(StoreError, match=f"tag id {TAG} is in more than one class"):
        store.apply_retention(RetentionPolicy(classes=twice), T0 + DAY_NS)
    assert store.count() == 100


def test_retention_classes_keep_each_tag_as_long_as_its_class(backend: Backend) -> None:
    days, now = 5, T0 + 5 * DAY_NS
    tags = {"default": TAG, "long": TAG + 1, "short": TAG + 2}
    parts = [random_samples(20 + i, 5000, days * DAY_NS) for i in range(3)]
    samples = SampleBatch.concat([
        SampleBatch(np.full(len(p), tag, dtype=np.int32), p.ts, p.values, p.quality)
        for p, tag in zip(parts, tags.values(), strict=True)
    ])  # fmt: skip
    policy = RetentionPolicy(
        default=Retention(DAY_NS, 3 * DAY_NS, 10 * DAY_NS),
        classes=(
            RetentionClass("long", Retention(4 * DAY_NS, 5 * DAY_NS, 10 * DAY_NS), np.array(
                [tags["long"]]
            )),
            RetentionClass("short", Retention(DAY_NS // 2, DAY_NS, 2 * DAY_NS), np.array(
                [tags["short"]]
            )),
        ),
    )  # fmt: skip
    raw_keep = {"default": DAY_NS, "long": 4 * DAY_NS, "short": DAY_NS // 2}
    other = backend.open()  # another writer of the same store, opened before the run
    store = backend.open() if backend.kind == "postgres" else other
    store.write(samples)
    hourly = {n: store.aggregate(t, T0, now, HOUR_NS, ALL) for n, t in tags.items()}
    deleted = store.apply_retention(policy, now)
    kept = {n: int(np.sum((samples.tag_ids == t) & (samples.ts >= now - raw_keep[n])))
            for n, t in tags.items()}  # fmt: skip
    for name, tag in tags.items():
        assert store.count(tag) == kept[name], name
        again = store.aggregate(tag, T0, now, HOUR_NS, ALL)  # whole days from rollup_1h
        if name == "short":  # 1 h rollups kept 2 days only
            assert int(again.bucket_ns.min()) >= now - 2 * DAY_NS - HOUR_NS
            continue
        assert again.bucket_ns.tolist() == hourly[name].bucket_ns.tolist()
        np.testing.assert_allclose(again.columns["sum"], hourly[name].columns["sum"], rtol=1e-12)
    assert deleted["samples"] == len(samples) - sum(kept.values())
    # floors per tag: the default tag refuses a new sample 2 days old, the long one stores it
    two_days = now - 2 * DAY_NS + 1
    late = SampleBatch.build([tags["default"], tags["long"]], [two_days] * 2, [1.0, 2.0])
    assert other.write(late) == 1  # `other` learns the floors from the store first
    assert store.raw(tags["long"], two_days, two_days + 1).values.tolist() == [2.0]
    assert store.write(samples) == 0  # a full replay: nothing expired comes back
    for name, tag in tags.items():
        counts = store.aggregate(tag, T0, now, HOUR_NS, ["count"]).columns["count"]
        extra = 1 if name == "long" else 0
        if name != "short":
            assert int(counts.sum()) == int(hourly[name].columns["count"].sum()) + extra, name
    store.close()
    with backend.open() as reopened:  # the floors survive a reopen
        assert reopened.write(late) == 0


def keep(raw: int, minute: int, hour: int) -> RetentionPolicy:
    return RetentionPolicy(default=Retention(raw, minute, hour))
