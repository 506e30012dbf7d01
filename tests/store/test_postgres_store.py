"""What only the PostgreSQL backend has: partitions, layout detection, URLs, connection loss,
several writers on one schema, and a smoke run of its ingest benchmark.

The shared server at 127.0.0.1:5432, database ``test``; one schema per test, dropped after.
"""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from factoryos.bench.ingest_pg import run_postgres_ingest_bench
from factoryos.model.samples import SampleBatch
from factoryos.store import pg_schema
from factoryos.store.backend import open_store
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.errors import InvalidBatchError, StoreError
from factoryos.store.postgres_store import PostgresStore

PG_URL = os.environ.get("FACTORYOS_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
S = 1_000_000_000
T0 = 1_767_225_600 * S
HOUR = 3600 * S


@pytest.fixture
def schema() -> Iterator[str]:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as e:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {e}")
    name = f"test_{uuid.uuid4().hex[:12]}"
    yield name
    with psycopg.connect(PG_URL, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{name}" CASCADE')


def partitions(schema: str) -> set[int]:
    with psycopg.connect(PG_URL) as conn:
        return pg_schema.existing_partitions(conn, schema)


def test_partitions_are_created_on_demand_one_ahead(schema: str) -> None:
    with PostgresStore(PG_URL, schema=schema, partition_ns=HOUR) as store:
        assert store.layout == pg_schema.Layout("partitioned", HOUR)
        first = T0 // HOUR
        store.write(SampleBatch.build([1, 1], [T0, T0 + 10 * S], [1.0, 2.0]))
        assert partitions(schema) == {first, first + 1}
        # across three boundaries, out of order, with a gap: only the touched hours (+1 ahead)
        ts = [T0 + 5 * HOUR + S, T0 + HOUR - 1, T0 + HOUR, T0 + 2 * HOUR + 7]
        assert store.write(SampleBatch.build([1] * 4, ts, [3.0, 4.0, 5.0, 6.0])) == 4
        assert partitions(schema) == {first, first + 1, first + 2, first + 5, first + 6}
        got = store.raw(1, T0, T0 + 6 * HOUR)
        assert got.ts.tolist() == sorted([T0, T0 + 10 * S, *ts])
        assert store.aggregate(1, T0, T0 + 6 * HOUR, HOUR, ["count"]).columns["count"].tolist() == [
            3,
            1,
            1,
            1,
        ]
    with psycopg.connect(PG_URL) as conn:  # rows live in the partition of their hour
        n = conn.execute(
            f'SELECT count(*) FROM "{schema}".{pg_schema.partition_name(first + 1)}'
        ).fetchone()
    assert n == (1,)  # T0 + 1 h; T0 + 1 h - 1 ns is in the first hour


def test_times_before_the_epoch_and_at_the_int64_ends(schema: str) -> None:
    with PostgresStore(PG_URL, schema=schema) as store:
        ts = [-(2**63), -5, 0, 2**63 - 1]
        assert store.write(SampleBatch.build([2] * 4, ts, [1.0, 2.0, 3.0, 4.0])) == 4
        assert store.raw(2, -(2**63), 2**63 - 1).ts.tolist() == ts[:3]
        assert store.count(2) == 4
    assert pg_schema.partition_index(pg_schema.partition_name(-3)) == -3


def test_a_batch_spanning_too_many_new_partitions_writes_nothing(schema: str) -> None:
    with PostgresStore(PG_URL, schema=schema, partition_ns=S) as store:
        n = 1001
        with pytest.raises(InvalidBatchError, match=r"ts: the batch spans 1002 new"):
            store.write(SampleBatch.build(np.ones(n), np.arange(n) * S, np.zeros(n)))
        assert store.count() == 0


def test_the_partition_width_is_fixed_at_creation(schema: str) -> None:
    PostgresStore(PG_URL, schema=schema, partition_ns=HOUR).close()
    with PostgresStore(PG_URL, schema=schema) as store:
        assert store.layout.partition_ns == HOUR
    with pytest.raises(StoreError, match="partition_ns"):
        PostgresStore(PG_URL, schema=schema, partition_ns=2 * HOUR)


def test_timescaledb_is_not_detected_here(schema: str) -> None:
    with psycopg.connect(PG_URL) as conn:
        assert pg_schema.timescale_installed(conn) is False
    with PostgresStore(PG_URL, schema=schema) as store:
        assert store.layout.kind == "partitioned"


def test_two_writers_on_one_schema_stay_idempotent(schema: str) -> None:
    """The second store's cache does not know the first's rows: its direct COPY meets them
    and falls back to the deduplicating path."""
    with (
        PostgresStore(PG_URL, schema=schema) as a,
        PostgresStore(PG_URL, schema=schema) as b,
    ):
        batch = SampleBatch.build(np.tile(np.arange(10), 5), T0 + np.repeat(np.arange(5), 10) * S,
                                  np.arange(50.0))  # fmt: skip
        assert a.write(batch) == 50
        assert b.write(batch) == 0
        assert b.count() == 50
        assert b.last([3]).ts.tolist() == [T0 + 4 * S]


def test_a_failed_writer_lane_is_made_good_by_writing_the_batch_again(schema: str) -> None:
    with PostgresStore(PG_URL, schema=schema, writers=3) as store:
        assert store.write(SampleBatch.build(np.arange(9), [T0] * 9, np.arange(9.0))) == 9
        lane = store._writers[1]  # tags 1, 4, 7
        assert lane is not None
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute("SELECT pg_terminate_backend(%s)", [lane.info.backend_pid])
        batch = SampleBatch.build(np.arange(9), [T0 + S] * 9, np.arange(9.0))
        with pytest.raises(StoreError, match="writing 3 samples"):
            store.write(batch)
        assert store.count() == 9 + 6  # the other lanes' parts landed, each whole
        assert store.write(batch) == 3  # the rest, nothing twice
        assert store.count() == 18
        assert store.raw(4, T0, T0 + 2 * S).values.tolist() == [4.0, 4.0]
    with pytest.raises(StoreError, match="writers must be >= 1"):
        PostgresStore(PG_URL, schema=schema, writers=0)


def test_a_lost_writer_connection_fails_one_write_then_reconnects(schema: str) -> None:
    with PostgresStore(PG_URL, schema=schema) as store:
        store.write(SampleBatch.build([1], [T0], [1.0]))
        with psycopg.connect(PG_URL, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND query LIKE %s",
                [f"%{schema}%samples%"],
            )
        later = SampleBatch.build([1], [T0 + S], [2.0])
        try:
            stored = store.write(later)  # the writer may or may not have been the one killed
        except StoreError:
            stored = store.write(later)
        assert stored == 1
        assert store.count(1) == 2


def test_connection_errors_name_the_server_not_the_password() -> None:
    with pytest.raises(StoreError, match=r"127\.0\.0\.1:1/test") as info:
        PostgresStore("postgresql://me:secret@127.0.0.1:1/test")
    assert "secret" not in str(info.value)


def test_open_store_picks_the_backend(schema: str, tmp_path: Path) -> None:
    with open_store(f"{PG_URL}?schema={schema}&application_name=t") as pg:
        assert isinstance(pg, PostgresStore) and pg.schema == schema
    with open_store(tmp_path / "a.duckdb") as duck:
        assert isinstance(duck, DuckDBStore) and duck.path == tmp_path / "a.duckdb"
    with open_store(f"duckdb://{tmp_path}/b.duckdb") as duck:
        assert isinstance(duck, DuckDBStore) and duck.path == tmp_path / "b.duckdb"
    with open_store("duckdb:") as duck:
        assert isinstance(duck, DuckDBStore) and duck.path is None
    with pytest.raises(StoreError, match="unknown scheme 'mysql'"):
        open_store("mysql://x/y")


def test_the_ingest_benchmark_runs_end_to_end() -> None:
    try:
        psycopg.connect(PG_URL, connect_timeout=3).close()
    except psycopg.Error as e:
        pytest.skip(f"no PostgreSQL at {PG_URL}: {e}")
    result = run_postgres_ingest_bench(20_000, PG_URL, tags=50, batch_rows=100, insert_sample=500)
    assert set(result) == {
        "points_per_s", "insert_points_per_s", "copy_points_per_s", "ratio_to_copy", "peak_rss_mb"
    }  # fmt: skip
    assert all(value > 0 for value in result.values())
