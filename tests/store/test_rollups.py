"""Rollups and retention, on every backend: aggregates served from rollup_1m / rollup_1h must
equal a numpy reference computed from the raw samples, after late samples, replays and BAD
samples too; retention deletes old data while long-range aggregates keep working.
"""

from typing import Any

import duckdb
import numpy as np
import numpy.typing as npt
import psycopg
import pytest

from factoryos.model.samples import SampleBatch
from factoryos.store import pg_schema, rollups
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.errors import StoreError
from factoryos.store.rollups import DAY_NS, HOUR_NS, MINUTE_NS
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


def test_dense_and_sorted_partials_and_coarsened_levels_agree() -> None:
    rng = np.random.default_rng(21)
    n = 5000
    keys = rng.choice(40 * 3 * HOUR_NS // S, size=n, replace=False)  # unique (tag, ts)
    tags, ts = keys // (3 * HOUR_NS // S), T0 - HOUR_NS + keys % (3 * HOUR_NS // S) * S
    quality = rng.choice([0, UNCERTAIN, BAD], size=n, p=[0.8, 0.1, 0.1])
    batch = SampleBatch.build(tags, ts, rng.normal(0.0, 5.0, n), quality)
    dense = rollups.partials(batch, MINUTE_NS)
    slots = rollups.DENSE_SLOTS_PER_SAMPLE, rollups.DENSE_MIN_SLOTS
    try:  # a grid too sparse for any batch: the lexsort path
        rollups.DENSE_SLOTS_PER_SAMPLE, rollups.DENSE_MIN_SLOTS = 0, 0
        spread = SampleBatch.build([1, 2], [0, 10**6 * HOUR_NS], [1.0, 2.0])
        assert rollups.partials(spread, MINUTE_NS)["bucket_ns"].tolist() == [0, 10**6 * HOUR_NS]
        sorted_ = rollups.partials(batch, MINUTE_NS)
        hourly = rollups.partials(batch, HOUR_NS)
    finally:
        rollups.DENSE_SLOTS_PER_SAMPLE, rollups.DENSE_MIN_SLOTS = slots
    (_, fine), (_, coarse) = rollups.level_partials(batch)
    for name, _ in rollups.PARTIAL_COLUMNS:
        np.testing.assert_array_equal(dense[name], fine[name], err_msg=name)
        for got, want in ((dense[name], sorted_[name]), (coarse[name], hourly[name])):
            if name == "sum":  # added in another order: float rounding only
                np.testing.assert_allclose(got.astype(float), want.astype(float), rtol=1e-12)
            else:
                np.testing.assert_array_equal(got, want, err_msg=name)
    assert dense["tag_id"].dtype == np.int32 and dense["count"].dtype == np.int64
    assert int(dense["count"].sum()) == int(np.sum(quality != BAD))


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
    drop = "DROP TABLE rollup_1m; DROP TABLE rollup_1h"
    if backend.kind == "duckdb":
        con = duckdb.connect(str(backend.path))
        con.execute(drop)
        con.close()
    else:
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{backend.schema}"')
            conn.execute(drop)
    store = backend.open()
    assert_matches(store, samples, T0 + 11 * S, T0 + 6 * HOUR_NS, HOUR_NS)
    assert_matches(store, samples, T0, T0 + 6 * HOUR_NS, 10 * MINUTE_NS)


def test_retention_keeps_rollups_longer_than_raw_samples(backend: Backend) -> None:
    store = backend.open()
    days = 5
    samples = random_samples(9, 20_000, days * DAY_NS)
    store.write(samples)
    now = T0 + days * DAY_NS
    hourly = store.aggregate(TAG, T0, now, HOUR_NS, ALL)
    deleted = store.apply_retention(DAY_NS, 3 * DAY_NS, 10 * DAY_NS, now)
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


def test_retention_refuses_a_negative_keep(store: TimeSeriesStore) -> None:
    store.write(random_samples(1, 100, HOUR_NS))
    with pytest.raises(StoreError, match="raw_keep_ns"):
        store.apply_retention(-1, DAY_NS, DAY_NS, T0)
    assert store.count() == 100
