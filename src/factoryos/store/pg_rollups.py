"""The rollups of the PostgreSQL store: tables, watermarks and materialization (rollups.py
has the model).

Several writers (ingest workers in other processes) may share a schema, so the watermarks
live in ``store_meta`` and a per-schema advisory lock orders writes against
materialization: a write holds it shared for its transaction and reads the watermarks under
it (to know which of its samples are late); materialization holds it exclusively. A sample
is then either committed before a materialization reads the range, or its writer sees the
moved watermark and appends its partial: it counts exactly once.
"""

from dataclasses import dataclass
from typing import Any

import psycopg
from psycopg import sql

from factoryos.model.quality import Quality
from factoryos.store import rollups
from factoryos.store.rollups import LEVELS, PARTIAL_COLUMNS, Watermarks

PG_TYPES = {"int32": "integer", "int64": "bigint", "float64": "double precision"}
ROLLUP_COLUMNS = ", ".join(f'"{name}" {PG_TYPES[kind]} NOT NULL' for name, kind in PARTIAL_COLUMNS)
ROLLUP_FORMAT = "2"
"""store_meta 'rollup_format': 2 is keyless tables behind watermarks; tables of another
format (keyed, merged on every write) are dropped and materialized again."""
PARTIALS_OF_SAMPLES = (
    "tag_id, ts - ((ts % {w} + {w}) % {w}) AS b, min(value), max(value), sum(value), count(*),"
    " min(ts), (array_agg(value ORDER BY ts))[1], max(ts),"
    " (array_agg(value ORDER BY ts DESC))[1] FROM {source}"
    " WHERE ts >= {lo} AND ts < {hi} AND quality <> {bad}"
)
PARTIALS_OF_PARTIALS = (
    'tag_id, bucket_ns - ((bucket_ns % {w} + {w}) % {w}) AS b, min("min"), max("max"),'
    ' sum("sum"), sum("count"), min(first_ts), (array_agg("first" ORDER BY first_ts))[1],'
    ' max(last_ts), (array_agg("last" ORDER BY last_ts DESC))[1] FROM {source}'
    " WHERE bucket_ns >= {lo} AND bucket_ns < {hi}"
)
"""The partials of a range, from raw samples (the finest level) or the level below."""


def ensure_tables(conn: psycopg.Connection[Any], schema: str) -> None:
    """Create the rollup tables if missing (or of an older format: dropped); a table made
    anew forgets its watermark and the coarser ones', so all is materialized again. Call
    under the schema lock."""
    meta = sql.Identifier(schema, "store_meta")
    row = conn.execute(
        sql.SQL("SELECT value FROM {} WHERE key = 'rollup_format'").format(meta)
    ).fetchone()
    if row is None or row[0] != ROLLUP_FORMAT:
        for level in LEVELS:
            conn.execute(sql.SQL("DROP TABLE IF EXISTS {}").format(_table(schema, level.table)))
        _set(conn, schema, "rollup_format", ROLLUP_FORMAT)
    for index, level in enumerate(LEVELS):
        table = _table(schema, level.table)
        found = conn.execute("SELECT to_regclass(%s)", [table.as_string(conn)]).fetchone()
        if found is not None and found[0] is not None:
            continue
        conn.execute(sql.SQL("CREATE TABLE {} (" + ROLLUP_COLUMNS + ")").format(table))
        conn.execute(sql.SQL("CREATE INDEX ON {} (tag_id, bucket_ns)").format(table))
        conn.execute(
            sql.SQL("DELETE FROM {} WHERE key = ANY(%s)").format(meta),
            [[_mark_key(later.table) for later in LEVELS[index:]]],
        )


@dataclass(frozen=True, slots=True)
class Meta:
    """What a writer must know under the lock: the watermarks, and the version of the
    retention floors (a run by any writer of the schema raises it)."""

    marks: Watermarks
    retention_version: int


def lock_shared(conn: psycopg.Connection[Any], schema: str) -> Meta:
    """Take the rollup lock shared for this transaction; returns the meta under it."""
    conn.execute("SELECT pg_advisory_xact_lock_shared(hashtext(%s))", [_lock_name(schema)])
    return read_meta(conn, schema)


def lock_exclusive(conn: psycopg.Connection[Any], schema: str) -> Meta:
    """Take the rollup lock exclusively for this transaction; returns the meta under it."""
    conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [_lock_name(schema)])
    return read_meta(conn, schema)


def read_meta(conn: psycopg.Connection[Any], schema: str) -> Meta:
    rows = dict(
        conn.execute(
            sql.SQL(
                "SELECT key, value FROM {} WHERE key LIKE 'watermark:%%'"
                " OR key = 'retention_version'"
            ).format(sql.Identifier(schema, "store_meta"))
        ).fetchall()
    )
    marks = tuple(int(rows.get(_mark_key(level.table), rollups.NOTHING)) for level in LEVELS)
    return Meta(marks, int(rows.get("retention_version", 0)))


def materialize(
    conn: psycopg.Connection[Any], schema: str, old: Watermarks, new: Watermarks
) -> None:
    """Aggregate each level between its ``old`` and ``new`` watermark (finest first) and
    record ``new``; call under the exclusive lock."""
    for index, level, lo, hi in rollups.to_materialize(old, new):
        partials = PARTIALS_OF_SAMPLES if index == 0 else PARTIALS_OF_PARTIALS
        source = "samples" if index == 0 else LEVELS[index - 1].table
        conn.execute(
            sql.SQL(
                "INSERT INTO {} SELECT " + partials + " GROUP BY tag_id, b ORDER BY tag_id, b"
            ).format(
                _table(schema, level.table),
                w=sql.Literal(level.width_ns),
                source=_table(schema, source),
                lo=sql.Literal(lo),
                hi=sql.Literal(hi),
                bad=sql.Literal(int(Quality.BAD)),
            )
        )
        _set(conn, schema, _mark_key(level.table), str(hi))


def _set(conn: psycopg.Connection[Any], schema: str, key: str, value: str) -> None:
    conn.execute(
        sql.SQL(
            "INSERT INTO {} VALUES (%s, %s) ON CONFLICT (key) DO UPDATE SET value = excluded.value"
        ).format(sql.Identifier(schema, "store_meta")),
        [key, value],
    )


def _table(schema: str, name: str) -> sql.Identifier:
    return sql.Identifier(schema, name)


def _mark_key(table: str) -> str:
    return f"watermark:{table}"


def _lock_name(schema: str) -> str:
    return f"factoryos.rollups:{schema}"
