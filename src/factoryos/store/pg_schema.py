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

import psycopg
from psycopg import sql

from factoryos.model.quality import Quality
from factoryos.store.errors import StoreError
from factoryos.store.rollups import LEVELS, PARTIAL_COLUMNS, Cutoffs

logger = logging.getLogger(__name__)

DAY_NS = 86_400 * 10**9
COMPRESS_AFTER_NS = 7 * DAY_NS
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
PARTITION_PREFIX = "samples_p"
PG_TYPES = {"int32": "integer", "int64": "bigint", "float64": "double precision"}
ROLLUP_COLUMNS = ", ".join(f'"{name}" {PG_TYPES[kind]} NOT NULL' for name, kind in PARTIAL_COLUMNS)

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
        recorded = _read_layout(conn, schema)
        if recorded is None:
            kind: Kind = "timescale" if timescale_installed(conn) else "partitioned"
            layout = Layout(kind, partition_ns or DAY_NS)
            _create_tables(conn, schema, layout)
            ensure_rollups(conn, schema)
            return layout
        ensure_rollups(conn, schema)
    if partition_ns is not None and partition_ns != recorded.partition_ns:
        raise StoreError(
            f"partition_ns: schema {schema} was created with {recorded.partition_ns} ns"
            f" partitions, got {partition_ns}"
        )
    return recorded


def ensure_rollups(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the rollup tables that are missing, filled from the samples (a schema made
    before rollups existed); call under the schema lock."""
    for level in LEVELS:
        table = sql.Identifier(schema, level.table)
        found = conn.execute("SELECT to_regclass(%s)", [table.as_string(conn)]).fetchone()
        if found is not None and found[0] is not None:
            continue
        conn.execute(
            sql.SQL(
                "CREATE TABLE {} (" + ROLLUP_COLUMNS + ", PRIMARY KEY (tag_id, bucket_ns))"
            ).format(table)
        )
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT tag_id, ts - ((ts % {w} + {w}) % {w}) AS b, min(value),"
                " max(value), sum(value), count(*), min(ts), (array_agg(value ORDER BY ts))[1],"
                " max(ts), (array_agg(value ORDER BY ts DESC))[1] FROM {} WHERE quality <> {bad}"
                " GROUP BY tag_id, b"
            ).format(
                table,
                sql.Identifier(schema, "samples"),
                w=sql.Literal(level.width_ns),
                bad=sql.Literal(int(Quality.BAD)),
            )
        )


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


def raw_cutoff(conn: psycopg.Connection[Any], schema: str) -> int | None:
    """The raw retention cutoff applied so far, if any."""
    row = conn.execute(
        sql.SQL("SELECT value FROM {} WHERE key = 'raw_cutoff_ns'").format(
            sql.Identifier(schema, "store_meta")
        )
    ).fetchone()
    return None if row is None else int(row[0])


def delete_expired(
    conn: psycopg.Connection[Any], schema: str, layout: Layout, cut: Cutoffs
) -> tuple[dict[str, int], set[int]]:
    """Delete what ``cut`` expires and record the raw cutoff, in the caller's transaction:
    partitions wholly before the raw cutoff are dropped (no dead rows to vacuum), the rest
    is deleted row by row. Returns the rows deleted per table and the dropped partitions."""
    _lock(conn, schema)
    dropped: set[int] = set()
    removed = 0
    if layout.kind == "partitioned":
        for index in sorted(existing_partitions(conn, schema)):
            if (index + 1) * layout.partition_ns > cut.raw_ns:
                continue
            partition = sql.Identifier(schema, partition_name(index))
            row = conn.execute(sql.SQL("SELECT count(*) FROM {}").format(partition)).fetchone()
            removed += int(row[0]) if row else 0
            conn.execute(sql.SQL("DROP TABLE {}").format(partition))
            dropped.add(index)
    deleted = {"samples": removed + _delete(conn, schema, "samples", "ts", cut.raw_ns)}
    for table, bucket_ns in cut.bucket_ns.items():
        deleted[table] = _delete(conn, schema, table, "bucket_ns", bucket_ns)
    conn.execute(
        sql.SQL(
            "INSERT INTO {} VALUES ('raw_cutoff_ns', %s) ON CONFLICT (key) DO UPDATE"
            " SET value = greatest(m.value::bigint, excluded.value::bigint)::text"
        ).format(sql.SQL("{} AS m").format(sql.Identifier(schema, "store_meta"))),
        [str(cut.raw_ns)],
    )
    return deleted, dropped


def _delete(
    conn: psycopg.Connection[Any], schema: str, table: str, column: str, before: int
) -> int:
    cur = conn.execute(
        sql.SQL("DELETE FROM {} WHERE {} < %s").format(
            sql.Identifier(schema, table), sql.Identifier(column)
        ),
        [before],
    )
    return cur.rowcount
