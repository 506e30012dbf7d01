"""The embedded DuckDB store: round trips, idempotence, queries, errors."""

import threading
from pathlib import Path

import numpy as np
import pytest

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.errors import InvalidBatchError, QueryError, StoreError

S = 1_000_000_000  # one second in ns
T0 = 1_767_225_600 * S


@pytest.fixture
def store() -> DuckDBStore:
    return DuckDBStore()


def polls(tags: int, polls: int, start: int = T0, period: int = S) -> SampleBatch:
    """``polls`` polls of ``tags`` tags; value = tag * 1000 + poll number."""
    poll = np.repeat(np.arange(polls), tags)
    tag = np.tile(np.arange(tags), polls)
    return SampleBatch.build(tag, start + poll * period, tag * 1000.0 + poll)


def test_write_then_read_back(store: DuckDBStore) -> None:
    assert store.write(polls(3, 4)) == 12
    got = store.raw(1, T0, T0 + 10 * S)
    assert got.tag_ids.tolist() == [1, 1, 1, 1]
    assert got.ts.tolist() == [T0, T0 + S, T0 + 2 * S, T0 + 3 * S]
    assert got.values.tolist() == [1000.0, 1001.0, 1002.0, 1003.0]
    assert got.quality.tolist() == [Quality.GOOD] * 4
    assert store.count() == 12
    assert store.count(2) == 4


def test_the_same_batch_twice_is_stored_once(store: DuckDBStore) -> None:
    batch = polls(5, 10)
    assert store.write(batch) == 50
    assert store.write(batch) == 0
    assert store.count() == 50


def test_an_overlapping_replay_adds_only_the_new_samples(store: DuckDBStore) -> None:
    store.write(polls(4, 10))
    replay = polls(4, 10, start=T0 + 5 * S)  # polls 5..9 again, then 10..14 new
    assert store.write(replay) == 20
    assert store.count() == 60
    assert store.raw(0, T0, T0 + 100 * S).ts.tolist() == [T0 + i * S for i in range(15)]


def test_first_write_wins(store: DuckDBStore) -> None:
    store.write(SampleBatch.build([7], [T0], [1.0]))
    assert store.write(SampleBatch.build([7, 7], [T0, T0 + S], [2.0, 3.0])) == 1
    assert store.raw(7, T0, T0 + 2 * S).values.tolist() == [1.0, 3.0]


def test_duplicates_inside_one_batch_are_stored_once_first_wins(store: DuckDBStore) -> None:
    batch = SampleBatch.build([1, 2, 1, 1, 2], [T0, T0, T0, T0 + S, T0], [10, 20, 11, 12, 21])
    assert store.write(batch) == 3
    assert store.raw(1, T0, T0 + 2 * S).values.tolist() == [10.0, 12.0]
    assert store.raw(2, T0, T0 + 2 * S).values.tolist() == [20.0]


def test_late_out_of_order_samples_are_stored(store: DuckDBStore) -> None:
    store.write(SampleBatch.build([1, 1], [T0 + 10 * S, T0 + 20 * S], [10, 20]))
    assert store.write(SampleBatch.build([1, 1], [T0 + 15 * S, T0 + 5 * S], [15, 5])) == 2
    assert store.raw(1, T0, T0 + 30 * S).values.tolist() == [5.0, 10.0, 15.0, 20.0]


def test_a_reopened_file_store_ignores_replays(tmp_path: Path) -> None:
    path = tmp_path / "ts.duckdb"
    with DuckDBStore(path) as first:
        first.write(polls(3, 5))
    with DuckDBStore(path) as second:
        assert second.count() == 15
        assert second.write(polls(3, 5)) == 0  # replay of stored samples
        assert second.write(polls(3, 8)) == 9  # partly new
        last = second.last(np.array([0, 1, 2]))
        assert last.ts.tolist() == [T0 + 7 * S] * 3
    with DuckDBStore(path) as third:
        assert third.count() == 24
        assert third.last(np.array([2])).values.tolist() == [2007.0]


def test_raw_range_is_half_open_and_ordered(store: DuckDBStore) -> None:
    store.write(SampleBatch.build([1] * 4, [T0 + 3 * S, T0, T0 + 2 * S, T0 + S], [3, 0, 2, 1]))
    assert store.raw(1, T0 + S, T0 + 3 * S).values.tolist() == [1.0, 2.0]
    assert store.raw(1, T0, T0 + 4 * S, limit=2).values.tolist() == [0.0, 1.0]
    assert len(store.raw(99, T0, T0 + 4 * S)) == 0


def test_aggregates_match_a_numpy_reference(store: DuckDBStore) -> None:
    rng = np.random.default_rng(7)
    n = 5000
    ts = T0 + rng.integers(0, 3600 * S, n)
    values = rng.normal(50, 10, n)
    quality = rng.choice([Quality.GOOD, Quality.UNCERTAIN, Quality.BAD], n)
    store.write(SampleBatch.build(np.full(n, 3), ts, values, quality))
    every = 60 * S
    got = store.aggregate(
        3, T0, T0 + 3600 * S, every, ["min", "max", "avg", "sum", "first", "last", "count"]
    )
    ok = quality != Quality.BAD
    bucket = (ts[ok] // every) * every
    expected_buckets = np.unique(bucket)
    assert got.bucket_ns.tolist() == expected_buckets.tolist()
    for i, b in enumerate(expected_buckets):
        sel = bucket == b
        v, t = values[ok][sel], ts[ok][sel]
        assert got.columns["min"][i] == v.min()
        assert got.columns["max"][i] == v.max()
        assert got.columns["avg"][i] == pytest.approx(v.mean())
        assert got.columns["sum"][i] == pytest.approx(v.sum())
        assert got.columns["first"][i] == v[np.argmin(t)]
        assert got.columns["last"][i] == v[np.argmax(t)]
        assert got.columns["count"][i] == sel.sum()


def test_buckets_align_to_multiples_of_every_since_the_epoch(store: DuckDBStore) -> None:
    every = 10 * S
    start = T0 + 7 * S  # not a multiple of every
    store.write(SampleBatch.build([1] * 3, [start, start + 5 * S, start + 12 * S], [1, 2, 3]))
    got = store.aggregate(1, start, start + 20 * S, every, ["count", "first"])
    assert got.bucket_ns.tolist() == [T0, T0 + 10 * S]
    assert got.columns["count"].tolist() == [1, 2]
    assert got.columns["first"].tolist() == [1.0, 2.0]


def test_bad_quality_samples_are_left_out_of_aggregates(store: DuckDBStore) -> None:
    store.write(
        SampleBatch.build(
            [1] * 3,
            [T0, T0 + S, T0 + 2 * S],
            [1.0, 1000.0, 3.0],
            [Quality.GOOD, Quality.BAD, Quality.UNCERTAIN],
        )
    )
    got = store.aggregate(1, T0, T0 + 3 * S, 60 * S, ["max", "count"])
    assert got.columns["max"].tolist() == [3.0]
    assert got.columns["count"].tolist() == [2]
    assert len(store.raw(1, T0, T0 + 3 * S)) == 3  # raw history keeps them


def test_last_values_for_many_tags(store: DuckDBStore) -> None:
    store.write(polls(100, 3))
    store.write(SampleBatch.build([5, 6], [T0 - S, T0 + 9 * S], [-1.0, 99.0]))  # late, newer
    last = store.last(np.array([6, 5, 500, 99]))
    assert last.tag_ids.tolist() == [6, 5, 99]
    assert last.ts.tolist() == [T0 + 9 * S, T0 + 2 * S, T0 + 2 * S]
    assert last.values.tolist() == [99.0, 5002.0, 99002.0]


@pytest.mark.parametrize(
    ("start", "end", "every", "aggs", "names"),
    [
        (T0, T0, S, ["avg"], "start_ns"),
        (T0 + S, T0, S, ["avg"], "start_ns"),
        (T0, T0 + S, 0, ["avg"], "every"),
        (T0, T0 + S, -5, ["avg"], "every"),
        (T0, T0 + S, S, ["median"], "median"),
        (T0, T0 + S, S, [], "aggs"),
        (T0, T0 + 10**6 * S, S, ["avg"], "every"),
    ],
)
def test_bad_queries_raise_query_error_naming_the_parameter(
    store: DuckDBStore, start: int, end: int, every: int, aggs: list[str], names: str
) -> None:
    with pytest.raises(QueryError, match=names):
        store.aggregate(1, start, end, every, aggs)


def test_bad_raw_queries(store: DuckDBStore) -> None:
    with pytest.raises(QueryError, match="start_ns"):
        store.raw(1, T0, T0 - 1)
    with pytest.raises(QueryError, match="limit"):
        store.raw(1, T0, T0 + S, limit=0)
    with pytest.raises(QueryError, match="tag_id"):
        store.raw(-1, T0, T0 + S)


def test_an_invalid_batch_changes_nothing(store: DuckDBStore) -> None:
    with pytest.raises(InvalidBatchError, match="tag_ids: -3"):
        store.write(SampleBatch.build([1, -3], [T0, T0], [1.0, 2.0]))
    assert store.count() == 0
    assert len(store.last(np.array([1]))) == 0


def test_a_closed_store_refuses_calls(store: DuckDBStore) -> None:
    store.close()
    with pytest.raises(StoreError, match="closed"):
        store.write(polls(1, 1))
    with pytest.raises(StoreError, match="closed"):
        store.count()


def test_a_file_that_is_not_a_database_is_a_store_error(tmp_path: Path) -> None:
    path = tmp_path / "junk.duckdb"
    path.write_text("not a database")
    with pytest.raises(StoreError, match=r"junk\.duckdb"):
        DuckDBStore(path)


def test_queries_run_while_another_thread_writes(tmp_path: Path) -> None:
    with DuckDBStore(tmp_path / "ts.duckdb") as store:
        writer = threading.Thread(
            target=lambda: [store.write(polls(200, 10, start=T0 + i * 10 * S)) for i in range(50)]
        )
        writer.start()
        seen = []
        while writer.is_alive():
            seen.append(store.count())
            store.raw(3, T0, T0 + 1000 * S)
            store.last(np.arange(200))
        writer.join()
        assert seen == sorted(seen)
        assert store.count() == 50 * 2000
