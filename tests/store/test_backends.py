"""The time-series store contract, run against every backend (DuckDB and PostgreSQL).

PostgreSQL is the shared server at 127.0.0.1:5432, database ``test`` (override with
FACTORYOS_TEST_PG_URL); each test gets its own schema, dropped afterwards. Without the server
the PostgreSQL cases skip, which fails under CI=true.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import psycopg
import pytest

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.duckdb_store import AGGREGATES, MAX_BUCKETS, DuckDBStore
from factoryos.store.errors import InvalidBatchError, QueryError, StoreError
from factoryos.store.postgres_store import PG_AGGREGATES, PostgresStore
from factoryos.store.querycheck import AGGREGATE_NAMES

PG_URL = os.environ.get("FACTORYOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
S = 1_000_000_000
T0 = 1_767_225_600 * S  # 2026-01-01T00:00:00Z
BAD, UNCERTAIN = int(Quality.BAD), int(Quality.UNCERTAIN)


class Backend:
    """Opens stores on one storage location (so a test can close and reopen) and cleans up."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        self.kind = kind
        self.path = tmp_path / "store.duckdb"
        self.schema = f"test_{uuid.uuid4().hex[:12]}"
        self.opened: list[TimeSeriesStore] = []

    def open(self) -> TimeSeriesStore:
        store: TimeSeriesStore = (
            DuckDBStore(self.path)
            if self.kind == "duckdb"
            else PostgresStore(PG_URL, schema=self.schema)
        )
        self.opened.append(store)
        return store

    def execute(self, statement: str) -> None:
        """Run SQL on the storage behind the stores (close a DuckDB store first)."""
        if self.kind == "duckdb":
            con = duckdb.connect(str(self.path))
            con.execute(statement)
            con.close()
            return
        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(f'SET search_path TO "{self.schema}"')
            conn.execute(statement)

    def cleanup(self) -> None:
        for store in self.opened:
            store.close()
        if self.kind == "postgres":
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{self.schema}" CASCADE')


def require_postgres() -> None:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as e:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {e}")


@pytest.fixture(params=["duckdb", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "postgres":
        require_postgres()
    b = Backend(request.param, tmp_path)
    yield b
    b.cleanup()


@pytest.fixture
def store(backend: Backend) -> TimeSeriesStore:
    return backend.open()


def polls(tags: int, n: int, start: int = T0, period: int = S) -> SampleBatch:
    """``n`` polls of ``tags`` tags in (ts, tag) order; value = tag * 1000 + poll number."""
    poll = np.repeat(np.arange(n), tags)
    tag = np.tile(np.arange(tags), n)
    return SampleBatch.build(tag, start + poll * period, tag * 1000.0 + poll)


def all_of(store: TimeSeriesStore, tag: int) -> SampleBatch:
    return store.raw(tag, T0 - 10**6 * S, T0 + 10**6 * S)


# -- writing and idempotence ------------------------------------------------------------------


def test_round_trip(store: TimeSeriesStore) -> None:
    batch = SampleBatch.build(
        [1, 2, 1, 2], [T0, T0, T0 + S, T0 + S], [1.5, -2.0, np.pi, 1e300], [0, 0x40, 0x80, 0]
    )
    assert store.write(batch) == 4
    got = all_of(store, 1)
    assert got.tag_ids.dtype == np.int32 and got.quality.dtype == np.uint8
    assert got.ts.tolist() == [T0, T0 + S]
    assert got.values.tolist() == [1.5, np.pi]
    assert got.quality.tolist() == [0, BAD]
    assert all_of(store, 2).values.tolist() == [-2.0, 1e300]
    assert store.write(SampleBatch.empty()) == 0


def test_the_same_batch_twice_is_stored_once(store: TimeSeriesStore) -> None:
    batch = polls(5, 10)
    assert store.write(batch) == 50
    assert store.write(batch) == 0
    assert store.count() == 50


def test_an_overlapping_replay_adds_only_the_new_samples(store: TimeSeriesStore) -> None:
    store.write(polls(4, 10))
    assert store.write(polls(4, 10, start=T0 + 5 * S)) == 20  # polls 5..9 again, 10..14 new
    assert store.count() == 60
    assert all_of(store, 3).ts.tolist() == [T0 + i * S for i in range(15)]


def test_duplicates_in_one_batch_keep_the_first(store: TimeSeriesStore) -> None:
    batch = SampleBatch.build([7, 7, 8, 7], [T0, T0, T0, T0 + S], [1.0, 2.0, 3.0, 4.0])
    assert store.write(batch) == 3
    assert all_of(store, 7).values.tolist() == [1.0, 4.0]
    assert store.last([7]).values.tolist() == [4.0]


def test_first_write_wins_across_writes(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.build([7], [T0], [1.0]))
    assert store.write(SampleBatch.build([7, 7], [T0, T0 + S], [2.0, 3.0])) == 1
    assert all_of(store, 7).values.tolist() == [1.0, 3.0]


def test_reopen_and_replay_changes_nothing(backend: Backend) -> None:
    first = backend.open()
    first.write(polls(3, 5))
    first.close()
    again = backend.open()
    assert again.last([0, 1, 2]).ts.tolist() == [T0 + 4 * S] * 3
    assert again.write(polls(3, 5)) == 0
    assert again.write(polls(3, 6)) == 3
    assert again.count() == 18
    assert again.last([2]).values.tolist() == [2005.0]


def test_late_and_out_of_order_samples_are_stored_in_time_order(store: TimeSeriesStore) -> None:
    store.write(polls(2, 10, start=T0 + 100 * S))
    late = SampleBatch.build([0, 1, 0, 0], [T0 + 5 * S, T0, T0 + 3 * S, T0 + 104 * S], [5, 6, 3, 9])
    assert store.write(late) == 3  # (0, T0+104 s) is already stored
    got = all_of(store, 0)
    assert got.ts[:2].tolist() == [T0 + 3 * S, T0 + 5 * S]
    assert np.all(np.diff(got.ts) > 0)
    assert got.values[got.ts == T0 + 104 * S].tolist() == [4.0]  # first write won
    assert store.last([0, 1]).ts.tolist() == [T0 + 109 * S] * 2  # late samples leave last alone


def test_an_invalid_batch_writes_nothing(store: TimeSeriesStore) -> None:
    with pytest.raises(InvalidBatchError, match="tag_ids"):
        store.write(SampleBatch.build([1, -1], [T0, T0], [1.0, 2.0]))
    assert store.count() == 0


# -- queries ----------------------------------------------------------------------------------


def test_raw_is_half_open_oldest_first_and_limited(store: TimeSeriesStore) -> None:
    store.write(polls(2, 10))
    got = store.raw(1, T0 + 2 * S, T0 + 5 * S)
    assert got.ts.tolist() == [T0 + 2 * S, T0 + 3 * S, T0 + 4 * S]
    assert store.raw(1, T0 + 2 * S, T0 + 2 * S + 1).ts.tolist() == [T0 + 2 * S]
    assert len(store.raw(1, T0 + 2 * S + 1, T0 + 3 * S)) == 0
    assert store.raw(1, T0, T0 + 100 * S, limit=3).ts.tolist() == [T0, T0 + S, T0 + 2 * S]
    assert len(store.raw(5, T0, T0 + 100 * S)) == 0
    extremes = store.raw(0, -(2**63), 2**63 - 1)
    assert len(extremes) == 10


def test_aggregates_match_a_numpy_reference(store: TimeSeriesStore) -> None:
    rng = np.random.default_rng(7)
    n = 5000
    ts = T0 + np.sort(rng.choice(3600 * S, size=n, replace=False))
    values = rng.normal(50.0, 10.0, n)
    quality = rng.choice([0, UNCERTAIN, BAD], size=n, p=[0.8, 0.1, 0.1])
    order = rng.permutation(n)  # written in random order, across several writes
    for part in np.array_split(order, 4):
        store.write(SampleBatch.build(np.full(len(part), 3), ts[part], values[part], quality[part]))
    store.write(SampleBatch.build([4], [T0], [1e9]))  # another tag must not leak in
    every, start, end = 300 * S, T0 + 17 * S, T0 + 3000 * S
    got = store.aggregate(
        3, start, end, every, ["min", "max", "avg", "sum", "first", "last", "count"]
    )
    keep = (ts >= start) & (ts < end) & (quality != BAD)
    kts, kv = ts[keep], values[keep]
    buckets = kts - kts % every
    expected = np.unique(buckets)
    assert got.bucket_ns.tolist() == expected.tolist()
    groups = [kv[buckets == b] for b in expected]
    firsts = [kv[buckets == b][np.argmin(kts[buckets == b])] for b in expected]
    lasts = [kv[buckets == b][np.argmax(kts[buckets == b])] for b in expected]
    np.testing.assert_allclose(got.columns["min"], [g.min() for g in groups])
    np.testing.assert_allclose(got.columns["max"], [g.max() for g in groups])
    np.testing.assert_allclose(got.columns["avg"], [g.mean() for g in groups], rtol=1e-12)
    np.testing.assert_allclose(got.columns["sum"], [g.sum() for g in groups], rtol=1e-12)
    np.testing.assert_array_equal(got.columns["first"], firsts)
    np.testing.assert_array_equal(got.columns["last"], lasts)
    assert got.columns["count"].tolist() == [len(g) for g in groups]
    assert got.columns["count"].dtype == np.int64 and got.bucket_ns.dtype == np.int64


def test_buckets_align_to_multiples_of_every_since_the_epoch(store: TimeSeriesStore) -> None:
    store.write(SampleBatch.build([1] * 4, [-7 * S, -S, 0, 13 * S], [1.0, 2.0, 3.0, 4.0]))
    got = store.aggregate(1, -10 * S, 20 * S, 5 * S, ["count", "sum"])
    assert got.bucket_ns.tolist() == [-10 * S, -5 * S, 0, 10 * S]  # the empty [5, 10) is absent
    assert got.columns["sum"].tolist() == [1.0, 2.0, 3.0, 4.0]
    shifted = store.aggregate(1, -S, 14 * S, 5 * S, ["count"])
    assert shifted.bucket_ns.tolist() == [-5 * S, 0, 10 * S]


def test_bad_samples_are_left_out_of_aggregates(store: TimeSeriesStore) -> None:
    store.write(
        SampleBatch.build(
            [1] * 4, [T0, T0 + S, T0 + 10 * S, T0 + 11 * S], [1, 99, 5, 7], [0, BAD, BAD, BAD]
        )
    )
    got = store.aggregate(1, T0, T0 + 20 * S, 10 * S, ["max", "count"])
    assert got.bucket_ns.tolist() == [T0]  # the bucket with only BAD samples is absent
    assert got.columns["max"].tolist() == [1.0]
    assert store.count(1) == 4  # still stored and returned raw
    assert len(store.raw(1, T0, T0 + 20 * S)) == 4


def test_aggregate_columns_follow_the_request_and_drop_repeats(store: TimeSeriesStore) -> None:
    store.write(polls(1, 3))
    got = store.aggregate(0, T0, T0 + 10 * S, 10 * S, ["last", "min", "last"])
    assert list(got.columns) == ["last", "min"]
    assert got.columns["last"].tolist() == [2.0]


def test_last_values_of_many_tags_with_out_of_order_updates(store: TimeSeriesStore) -> None:
    rng = np.random.default_rng(3)
    tags = 2000
    newest = np.full(tags, -1, dtype=np.int64)
    best = np.zeros(tags)
    for _ in range(5):
        ids = rng.integers(0, tags, 3000)
        ts = T0 + rng.integers(0, 10_000, 3000) * S
        values = rng.normal(size=3000)
        batch = SampleBatch.build(ids, ts, values)
        store.write(batch)
        # the reference: the first-stored sample at the newest ts of each tag
        for i, t, v in zip(ids.tolist(), ts.tolist(), values.tolist(), strict=True):
            if t > newest[i]:
                newest[i], best[i] = t, v
    have = np.flatnonzero(newest >= 0)
    asked = np.concatenate([have[::-1], [tags + 5]])  # request order, and an unknown tag
    got = store.last(asked)
    assert got.tag_ids.tolist() == have[::-1].tolist()
    assert got.ts.tolist() == newest[have[::-1]].tolist()
    assert got.values.tolist() == best[have[::-1]].tolist()


@pytest.mark.parametrize(
    ("call", "names"),
    [
        (lambda s: s.raw(-1, T0, T0 + S), "tag_id"),
        (lambda s: s.raw(2**24, T0, T0 + S), "tag_id"),
        (lambda s: s.raw(1, T0 + S, T0), "start_ns"),
        (lambda s: s.raw(1, T0, T0), "start_ns"),
        (lambda s: s.raw(1, 2**63, 2**64), "start_ns"),
        (lambda s: s.raw(1, T0, T0 + S, limit=0), "limit"),
        (lambda s: s.aggregate(1, T0, T0 + S, 0, ["min"]), "every"),
        (lambda s: s.aggregate(1, T0, T0 + S, 2**62, ["min"]), "every"),
        (lambda s: s.aggregate(1, T0, T0 + S * MAX_BUCKETS, S // 2, ["min"]), "every"),
        (lambda s: s.aggregate(1, T0, T0 + S, S, ["median"]), "aggs"),
        (lambda s: s.aggregate(1, T0, T0 + S, S, []), "aggs"),
        (lambda s: s.aggregate(1, T0, T0 + S, S, "min"), "aggs"),
        (lambda s: s.count(-3), "tag_id"),
        (lambda s: s.iter_raw([1, -1], T0, T0 + S), "tag_id"),
        (lambda s: s.iter_raw([2**24], T0, T0 + S), "tag_id"),
        (lambda s: s.iter_raw([1], T0 + S, T0), "start_ns"),
        (lambda s: s.iter_raw([1], T0, 2**63), "end_ns"),
        (lambda s: s.iter_raw([1], T0, T0 + S, chunk_rows=0), "chunk_rows"),
    ],
)
def test_bad_queries_name_the_parameter(store: TimeSeriesStore, call, names) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(QueryError, match=names):
        call(store)  # iter_raw too raises at the call, before anything is iterated


def test_backends_know_the_same_aggregates() -> None:
    assert tuple(AGGREGATES) == tuple(PG_AGGREGATES) == AGGREGATE_NAMES


# -- export stream ----------------------------------------------------------------------------


def _reference(batch: SampleBatch, tags: list[int], start: int, end: int) -> SampleBatch:
    keep = np.isin(batch.tag_ids, tags) & (batch.ts >= start) & (batch.ts < end)
    chosen = batch.take(keep)
    return chosen.take(np.lexsort((chosen.tag_ids, chosen.ts)))


def test_iter_raw_streams_many_tags_in_time_order_in_full_chunks(store: TimeSeriesStore) -> None:
    rng = np.random.default_rng(11)
    batch = polls(6, 500)
    batch = SampleBatch.build(
        batch.tag_ids, batch.ts, batch.values, rng.choice([0, UNCERTAIN, BAD], len(batch))
    )
    for part in np.array_split(rng.permutation(len(batch)), 3):  # stored out of order
        store.write(batch.take(part))
    tags, start, end = [5, 0, 3, 5], T0 + 17 * S, T0 + 420 * S  # a repeated tag, unordered
    chunks = list(store.iter_raw(tags, start, end, chunk_rows=250))
    expected = _reference(batch, tags, start, end)
    assert len(expected) == 3 * 403
    assert [len(c) for c in chunks] == [250] * 4 + [209]
    got = SampleBatch.concat(chunks)
    assert got.tag_ids.dtype == np.int32 and got.ts.dtype == np.int64
    assert got.values.dtype == np.float64 and got.quality.dtype == np.uint8
    for column in ("tag_ids", "ts", "values", "quality"):
        np.testing.assert_array_equal(getattr(got, column), getattr(expected, column))


def test_iter_raw_is_half_open_and_may_be_empty(store: TimeSeriesStore) -> None:
    store.write(polls(3, 10))
    got = SampleBatch.concat(list(store.iter_raw([0, 2], T0 + 2 * S, T0 + 4 * S)))
    assert got.ts.tolist() == [T0 + 2 * S, T0 + 2 * S, T0 + 3 * S, T0 + 3 * S]
    assert got.tag_ids.tolist() == [0, 2, 0, 2]
    after_start = SampleBatch.concat(list(store.iter_raw([1], T0 + 2 * S + 1, T0 + 4 * S + 1)))
    assert after_start.ts.tolist() == [T0 + 3 * S, T0 + 4 * S]
    assert [len(c) for c in store.iter_raw([0, 1, 2], -(2**63), 2**63 - 1, chunk_rows=1)] == [
        1
    ] * 30
    assert [len(c) for c in store.iter_raw([0, 1, 2], T0, T0 + 10 * S, chunk_rows=10**6)] == [30]
    assert list(store.iter_raw([7], T0, T0 + 10 * S)) == []
    assert list(store.iter_raw([0], T0 + 10 * S, T0 + 20 * S)) == []
    assert list(store.iter_raw([], T0, T0 + 10 * S)) == []


def test_closing_an_export_early_releases_its_connection(store: TimeSeriesStore) -> None:
    store.write(polls(2, 50))
    for _ in range(6):  # more than the PostgreSQL store's pool of 4 query connections
        chunks = store.iter_raw([0, 1], T0, T0 + 50 * S, chunk_rows=10)
        assert len(next(chunks)) == 10
        chunks.close()  # type: ignore[attr-defined]
    assert store.count() == 100
    assert store.write(polls(2, 1, start=T0 + 50 * S)) == 2


def test_count_all_and_per_tag(store: TimeSeriesStore) -> None:
    assert store.count() == 0
    store.write(polls(3, 7))
    assert store.count() == 21
    assert store.count(2) == 7
    assert store.count(9) == 0


def test_a_closed_store_refuses_calls(store: TimeSeriesStore) -> None:
    store.write(polls(1, 1))
    store.close()
    store.close()  # twice is fine
    for call in (
        lambda: store.write(polls(1, 1, start=T0 + S)),
        lambda: store.raw(0, T0, T0 + S),
        lambda: store.count(),
        lambda: store.last([0]),
        lambda: list(store.iter_raw([0], T0, T0 + S)),
    ):
        with pytest.raises(StoreError, match="closed"):
            call()
