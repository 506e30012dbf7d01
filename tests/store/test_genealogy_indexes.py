"""Rebuilding the genealogy indexes (SQLite and the real PostgreSQL): edges stored as a plant
makes them (several lines' serials growing side by side) leave the indexes loosely packed; a
rebuild makes them smaller and every walk answers as before. On PostgreSQL the copy an
interrupted rebuild leaves is dropped by the next one, and two rebuilds never run at once."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from factoryos.store import genealogy_indexes
from factoryos.store.catalog import Catalog, CatalogError
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.genealogy_indexes import GENEALOGY_INDEXES, rebuild_genealogy_indexes
from store.test_genealogy_edges import _made, _same_walks
from store.test_migrations import catalog, pg_url, sqlite_url, url

__all__ = ["catalog", "pg_url", "sqlite_url", "url"]

LINES = ("a", "b", "c", "d")


def _side_by_side(units: int) -> list[tuple[str, str]]:
    """Each line's lot → unit edges in time order: the lines' serials grow side by side, so
    every insert lands in the middle of the index, not at its end."""
    return [(f"lot:{line}{n // 50:04d}", f"unit:{line}{n:06d}") for n in range(units)
            for line in LINES]  # fmt: skip


def _valid_indexes(catalog: Catalog) -> dict[str, bool]:
    with catalog._read() as s:
        rows = s.execute(
            text(
                "SELECT c.relname, i.indisvalid FROM pg_index i"
                " JOIN pg_class c ON c.oid = i.indexrelid"
                " WHERE i.indrelid = to_regclass('epcis_genealogy')"
            )
        )
        return {name: valid for name, valid in rows}


def test_a_rebuild_packs_the_indexes_and_walks_answer_as_before(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    every = _made(tenant, store, _side_by_side(1000))
    rebuilt = rebuild_genealogy_indexes(catalog)
    postgres = catalog.url.startswith("postgresql")
    assert [r.index for r in rebuilt] == list(GENEALOGY_INDEXES)
    for r in rebuilt:
        assert r.bytes_before is not None and r.bytes_after is not None
        # PostgreSQL splits a page half and half when a key lands inside the index; SQLite
        # shares keys out among neighbouring pages, so its indexes are packed more already
        assert r.bytes_after < (0.85 if postgres else 0.95) * r.bytes_before, r
        assert r.seconds >= 0
    roots = ["lot:a0000", "lot:c0059", "unit:b000123", "unit:d000999"]
    _same_walks(store, tenant, every, roots, (1, 2))
    again = rebuild_genealogy_indexes(catalog)  # nothing left to pack
    assert [r.bytes_before for r in again] == [r.bytes_after for r in rebuilt]


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_the_copy_an_interrupted_rebuild_left_is_dropped(catalog: Catalog) -> None:
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    every = _made(tenant, store, _side_by_side(100))
    leftover = f"{GENEALOGY_INDEXES[0]}_ccnew"
    with pytest.raises(CatalogError), catalog._autocommit() as conn:
        # fails on the duplicate tenant ids and leaves an invalid index, as an interrupted
        # REINDEX … CONCURRENTLY does
        conn.execute(text(f"CREATE UNIQUE INDEX CONCURRENTLY {leftover} ON epcis_genealogy"
                          " (tenant_id)"))  # fmt: skip
    assert _valid_indexes(catalog)[leftover] is False
    rebuild_genealogy_indexes(catalog)
    indexes = _valid_indexes(catalog)
    assert leftover not in indexes
    assert all(indexes[name] for name in GENEALOGY_INDEXES)
    _same_walks(store, tenant, every, ["lot:a0000", "unit:c000042"], (2,))


LOCK = "SELECT pg_advisory_lock(to_regclass('epcis_genealogy')::oid::bigint)"
TRY_LOCK = LOCK.replace("pg_advisory_lock", "pg_try_advisory_lock")
UNLOCK = LOCK.replace("pg_advisory_lock", "pg_advisory_unlock")


def _lock_is_free(catalog: Catalog) -> bool:
    with catalog._autocommit() as other:
        taken = other.scalar(text(TRY_LOCK))
        other.execute(text(UNLOCK))
    return bool(taken)


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_two_rebuilds_never_run_at_once(catalog: Catalog) -> None:
    with catalog._autocommit() as other:
        other.execute(text(LOCK))  # a rebuild running elsewhere
        with pytest.raises(CatalogError, match="another rebuild of them is running"):
            rebuild_genealogy_indexes(catalog)
        other.execute(text(UNLOCK))
    assert [r.index for r in rebuild_genealogy_indexes(catalog)] == list(GENEALOGY_INDEXES)
    assert _lock_is_free(catalog)


@pytest.mark.parametrize("url", ["postgresql"], indirect=True)
def test_a_rebuild_that_waits_too_long_fails_and_the_next_one_succeeds(
    catalog: Catalog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(genealogy_indexes, "LOCK_TIMEOUT_S", 1)
    store = EpcisEvents(catalog)
    tenant = catalog.ensure_tenant("acme")
    every = _made(tenant, store, _side_by_side(100))
    with catalog._write() as writer:  # a capture whose transaction stays open
        writer.execute(text(
            "INSERT INTO epcis_genealogy (tenant_id, event, source, target, event_id,"
            " event_type, event_time_ns) SELECT tenant_id, event, 'x', 'y', event_id,"
            " event_type, event_time_ns FROM epcis_genealogy LIMIT 1"
        ))  # fmt: skip
        with pytest.raises(CatalogError, match="lock timeout"):
            rebuild_genealogy_indexes(catalog)
    assert _lock_is_free(catalog)
    # REINDEX … CONCURRENTLY also waits for other sessions' snapshots on the whole database
    # (the other test worker's): the usual timeout
    monkeypatch.undo()
    rebuild_genealogy_indexes(catalog)
    indexes = _valid_indexes(catalog)
    assert sorted(indexes) == sorted([*GENEALOGY_INDEXES, "epcis_genealogy_pkey"])
    assert all(indexes.values())
    _same_walks(store, tenant, every, ["lot:a0000", "unit:c000042"], (2,))


def test_a_catalog_without_the_edge_table_is_named(url: str) -> None:
    empty = Catalog(url)  # not migrated
    try:
        with pytest.raises(CatalogError, match="no edge table; run `factoryos db upgrade`"):
            rebuild_genealogy_indexes(empty)
    finally:
        empty.close()


def _reindex(url: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("factoryos")), "trace", "reindex"]
    wide = {**os.environ, "COLUMNS": "200"}
    return subprocess.run([*command, "--catalog", url], env=wide,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_the_reindex_command(catalog: Catalog) -> None:
    _made(catalog.ensure_tenant("acme"), EpcisEvents(catalog), _side_by_side(50))
    done = _reindex(catalog.url)
    assert done.returncode == 0, done.stderr
    for name in GENEALOGY_INDEXES:
        assert name in done.stdout
    assert done.stdout.count(" MB") == 4, done.stdout
    if not catalog.url.startswith("postgresql"):
        return
    with catalog._autocommit() as other:
        other.execute(text(LOCK))
        refused = _reindex(catalog.url)
        other.execute(text(UNLOCK))
    assert refused.returncode == 2
    assert "reindex: genealogy indexes: another rebuild of them is running" in refused.stderr
