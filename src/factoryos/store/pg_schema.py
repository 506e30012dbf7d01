"""DDL of the PostgreSQL store: its schema, the samples table and its partitions.

Two layouts, chosen once when the schema is created and recorded in ``store_meta``:

- ``partitioned`` (the default, tested): ``samples`` is range-partitioned on ``ts`` into
  partitions of ``partition_ns`` (a day by default), created on demand by the writer one
  partition ahead; primary key (tag_id, ts), which serves idempotence and every query.
- ``timescale`` (when the TimescaleDB extension is installed in the database; not tested
  here): ``samples`` is a hypertable with chunks of ``partition_ns`` and native compression
  segmented by tag_id, compressing chunks older than ``COMPRESS_AFTER_NS``.

DDL runs under a transaction-scoped advisory lock per schema, so two stores opening or
extending the same schema at once do not race.
"""

import logging
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import psycopg
from psycopg import sql

from factoryos.store import pg_rollups
from factoryos.store.errors import StoreError
from factoryos.store.retention import (
    CUT_COLUMNS,
    NEVER,
    Floors,
    RunCuts,
    cut_rows,
    delete_statements,
)

logger = logging.getLogger(__name__)

DAY_NS = 86_400 * 10**9
COMPRESS_AFTER_NS = 7 * DAY_NS
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PARTITION_PREFIX = "samples_p"

Kind = Literal["partitioned", "timescale"]
COLUMNS = "tag_id integer NOT NULL, ts bigint NOT NULL, value double precision NOT NULL," \
    " quality smallint NOT NULL"  # fmt: skip


@dataclass(frozen=True, slots=True)
class Layout:
    """How a schema stores its samples."""

    kind: Kind
    partition_ns: int


def timescale_installed(conn: psycopg.Connection[Any]) -> bool:
    """Whether the TimescaleDB extension is installed in the connected database."""
    row = conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    return row is not None


def ensure_schema(conn: psycopg.Connection[Any], schema: str, partition_ns: int | None) -> Layout:
    """Create the schema and tables if missing and return the layout; commits.

    ``partition_ns`` None takes the recorded width (a day for a new schema); a width that
    differs from the recorded one is refused, since partitions must not overlap.
    """
    with conn.transaction():
        _lock(conn, schema)
        conn.execute(sql.SQL("CREATE SCHEMA IF NOT EXISTS {}").format(sql.Identifier(schema)))
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.store_meta"
                " (key text PRIMARY KEY, value text NOT NULL)"
            ).format(sql.Identifier(schema))
        )
        conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {}.raw_floors"
                " (tag_id integer PRIMARY KEY, ns bigint NOT NULL)"
            ).format(sql.Identifier(schema))
        )
        recorded = _read_layout(conn, schema)
        if recorded is None:
            kind: Kind = "timescale" if timescale_installed(conn) else "partitioned"
            layout = Layout(kind, partition_ns or DAY_NS)
            _create_tables(conn, schema, layout)
            pg_rollups.ensure_tables(conn, schema)
            return layout
        pg_rollups.ensure_tables(conn, schema)
    if partition_ns is not None and partition_ns != recorded.partition_ns:
        raise StoreError(
            f"partition_ns: schema {schema} was created with {recorded.partition_ns} ns"
            f" partitions, got {partition_ns}"
        )
    return recorded


def _lock(conn: psycopg.Connection[Any], schema: str) -> None:
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"factoryos.store:{schema}"])


def _read_layout(conn: psycopg.Connection[Any], schema: str) -> Layout | None:
    rows = dict(
        conn.execute(
            sql.SQL("SELECT key, value FROM {}.store_meta").format(sql.Identifier(schema))
        ).fetchall()
    )
    if not rows:
        return None
    kind = rows.get("layout")
    if kind not in ("partitioned", "timescale"):
        raise StoreError(f"schema {schema}: store_meta has an unknown layout {kind!r}")
    return Layout(kind, int(rows["partition_ns"]))


def _create_tables(conn: psycopg.Connection[Any], schema: str, layout: Layout) -> None:
    s = sql.Identifier(schema)
    partitioning = "PARTITION BY RANGE (ts)" if layout.kind == "partitioned" else ""
    conn.execute(
        sql.SQL(
            "CREATE TABLE {}.samples (" + COLUMNS + ", PRIMARY KEY (tag_id, ts)) " + partitioning
        ).format(s)
    )
    conn.execute(
        sql.SQL("CREATE TABLE {}.last_values (" + COLUMNS + ", PRIMARY KEY (tag_id))").format(s)
    )
    if layout.kind == "timescale":
        _make_hypertable(conn, schema, layout.partition_ns)
    conn.execute(
        sql.SQL("INSERT INTO {}.store_meta VALUES ('layout', %s), ('partition_ns', %s)").format(s),
        [layout.kind, str(layout.partition_ns)],
    )
    logger.info(
        "created time-series schema %s (%s, %d ns partitions)",
        schema,
        layout.kind,
        layout.partition_ns,
    )


def _make_hypertable(conn: psycopg.Connection[Any], schema: str, chunk_ns: int) -> None:
    """Hypertable with compression (TimescaleDB 2.x API; untested: no TimescaleDB here).

    An integer time column needs an "integer now" function for the compression policy.
    """
    s = sql.Identifier(schema)
    table = sql.Literal(f"{schema}.samples")
    conn.execute(
        sql.SQL("SELECT create_hypertable({}, 'ts', chunk_time_interval => {})").format(
            table, sql.Literal(chunk_ns)
        )
    )
    conn.execute(
        sql.SQL(
            "CREATE FUNCTION {}.now_ns() RETURNS bigint LANGUAGE sql STABLE"
            " AS $$ SELECT (extract(epoch FROM now()) * 1e9)::bigint $$"
        ).format(s)
    )
    conn.execute(
        sql.SQL("SELECT set_integer_now_func({}, {})").format(
            table, sql.Literal(f"{schema}.now_ns")
        )
    )
    conn.execute(
        sql.SQL(
            "ALTER TABLE {}.samples SET (timescaledb.compress,"
            " timescaledb.compress_segmentby = 'tag_id', timescaledb.compress_orderby = 'ts')"
        ).format(s)
    )
    conn.execute(
        sql.SQL("SELECT add_compression_policy({}, compress_after => {})").format(
            table, sql.Literal(COMPRESS_AFTER_NS)
        )
    )


# -- partitions ---------------------------------------------------------------------------


def partition_name(index: int) -> str:
    """``samples_p<index>`` (``samples_pm<n>`` for negative indices: before the epoch)."""
    return f"{PARTITION_PREFIX}{index}" if index >= 0 else f"{PARTITION_PREFIX}m{-index}"


def partition_index(name: str) -> int | None:
    """The index in a partition's name, or None for a table not named by us."""
    digits = name.removeprefix(PARTITION_PREFIX)
    if digits == name:
        return None
    negative = digits.startswith("m")
    digits = digits.removeprefix("m")
    if not digits.isdigit():
        return None
    return -int(digits) if negative else int(digits)


def partition_bounds(index: int, width: int) -> tuple[sql.Composable, sql.Composable]:
    """[from, to) of a partition; the first and last int64 partitions are open-ended."""
    low, high = index * width, (index + 1) * width
    return (
        sql.SQL("MINVALUE") if low <= INT64_MIN else sql.Literal(low),
        sql.SQL("MAXVALUE") if high > INT64_MAX else sql.Literal(high),
    )


def existing_partitions(conn: psycopg.Connection[Any], schema: str) -> set[int]:
    """Indices of the partitions of ``schema``.samples."""
    rows = conn.execute(
        "SELECT c.relname FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid"
        " WHERE i.inhparent = to_regclass(%s)",
        [sql.Identifier(schema, "samples").as_string(conn)],
    ).fetchall()
    found = (partition_index(name) for (name,) in rows)
    return {index for index in found if index is not None}


def create_partitions(
    conn: psycopg.Connection[Any], schema: str, indices: list[int], width: int
) -> None:
    """Create the missing partitions among ``indices``; commits."""
    with conn.transaction():
        _lock(conn, schema)
        present = existing_partitions(conn, schema)
        for index in sorted(set(indices) - present):
            low, high = partition_bounds(index, width)
            conn.execute(
                sql.SQL("CREATE TABLE {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})").format(
                    sql.Identifier(schema, partition_name(index)),
                    sql.Identifier(schema, "samples"),
                    low,
                    high,
                )
            )
    logger.debug("partitions of %s.samples now include %s", schema, indices)


# -- retention ----------------------------------------------------------------------------


def load_floors(conn: psycopg.Connection[Any], schema: str) -> tuple[Floors, int]:
    """The retention floors and their version (raised by every retention run)."""
    meta = dict(
        conn.execute(
            sql.SQL(
                "SELECT key, value FROM {} WHERE key IN ('raw_cutoff_ns', 'retention_version')"
            ).format(sql.Identifier(schema, "store_meta"))
        ).fetchall()
    )
    rows = conn.execute(
        sql.SQL("SELECT tag_id, ns FROM {} ORDER BY tag_id").format(
            sql.Identifier(schema, "raw_floors")
        )
    ).fetchall()
    floors = Floors(
        int(meta.get("raw_cutoff_ns", NEVER)),
        np.array([r[0] for r in rows], dtype=np.int32),
        np.array([r[1] for r in rows], dtype=np.int64),
    )
    return floors, int(meta.get("retention_version", 0))


def delete_expired(
    conn: psycopg.Connection[Any], schema: str, layout: Layout, run: RunCuts, floors: Floors
) -> tuple[dict[str, int], set[int], int]:
    """Delete what ``run`` expires and record ``floors``, in the caller's transaction:
    partitions wholly before every tag's raw cutoff are dropped (no dead rows to vacuum),
    the rest is deleted row by row. Returns the rows deleted per table, the dropped
    partitions and the floors' new version."""
    _lock(conn, schema)
    dropped: set[int] = set()
    deleted = dict.fromkeys((table for table, _ in CUT_COLUMNS), 0)
    if layout.kind == "partitioned":
        earliest = run.earliest_raw_ns()
        for index in sorted(existing_partitions(conn, schema)):
            if (index + 1) * layout.partition_ns > earliest:
                continue
            partition = sql.Identifier(schema, partition_name(index))
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(partition)).fetchone()
            deleted["samples"] += int(row[0]) if row else 0
            conn.execute(sql.SQL("DROP TABLE {}").format(partition))
            dropped.add(index)
    conn.execute(
        "CREATE TEMP TABLE retention_cuts (tag_id integer, samples bigint, rollup_1m bigint,"
        " rollup_1h bigint) ON COMMIT DROP"
    )
    _copy_rows(conn, sql.Identifier("retention_cuts"), cut_rows(run))
    for table, statement in delete_statements(run):
        cur = conn.execute(
            sql.SQL(statement).format(
                table=sql.Identifier(schema, table), cuts=sql.Identifier("retention_cuts")
            )
        )
        deleted[table] += cur.rowcount
    version = _save_floors(conn, schema, floors)
    return deleted, dropped, version


def _save_floors(conn: psycopg.Connection[Any], schema: str, floors: Floors) -> int:
    """Record ``floors``; returns their new version."""
    meta = sql.Identifier(schema, "store_meta")
    conn.execute(sql.SQL("DELETE FROM {}").format(sql.Identifier(schema, "raw_floors")))
    _copy_rows(
        conn, sql.Identifier(schema, "raw_floors"), {"tag_id": floors.tag_ids, "ns": floors.ns}
    )
    conn.execute(
        sql.SQL(
            "INSERT INTO {} VALUES ('raw_cutoff_ns', %s) ON CONFLICT (key) DO UPDATE"
            " SET value = excluded.value"
        ).format(meta),
        [str(floors.default_ns)],
    )
    row = conn.execute(
        sql.SQL(
            "INSERT INTO {} AS m VALUES ('retention_version', '1') ON CONFLICT (key) DO UPDATE"
            " SET value = (m.value::bigint + 1)::text RETURNING value"
        ).format(meta)
    ).fetchone()
    return 0 if row is None else int(row[0])


def _copy_rows(
    conn: psycopg.Connection[Any], table: sql.Composable, columns: dict[str, Any]
) -> None:
    """Columns of numpy arrays into ``table`` (text COPY: these tables are small)."""
    with conn.cursor() as cur, cur.copy(sql.SQL("COPY {} FROM STDIN").format(table)) as copy:
        for row in zip(*(c.tolist() for c in columns.values()), strict=True):
            copy.write_row(row)
