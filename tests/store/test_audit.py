"""The audit log on a migrated catalog, on SQLite and on the real PostgreSQL: the chain, the
database's refusal to change it, verification after tampering, and concurrent appenders."""

import json
import threading
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.exc import DBAPIError

from factoryos.store import migrate
from factoryos.store.audit import (
    GENESIS,
    AuditAction,
    AuditInputError,
    AuditRow,
    BreakKind,
    entry_hash,
)
from factoryos.store.catalog import (
    Base,
    Catalog,
    CatalogError,
    Principal,
    Role,
    TagInfo,
    WriteRecord,
)
from store.test_migrations import catalog, pg_url, sqlite_url, url

__all__ = [
    "catalog",
    "pg_url",
    "sqlite_url",
    "url",
]  # the fixtures, shared with the migration tests

AUDIT = AuditRow.__table__
TRIGGERS = {
    "sqlite": ["DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete"],
    "postgresql": [
        "DROP TRIGGER audit_log_no_change ON audit_log",
        "DROP TRIGGER audit_log_no_truncate ON audit_log",
    ],
}


def _fill(catalog: Catalog, n: int = 5) -> None:
    """``n`` entries alternating between tenant acme and the platform."""
    acme = catalog.ensure_tenant("acme")
    for i in range(n):
        catalog.audit.append(
            AuditAction.LOGIN if i % 2 else AuditAction.CONFIG_CHANGE,
            tenant_id=acme if i % 2 else None,
            actor=f"user{i}",
            target=f"thing/{i}",
            detail={"i": i},
        )


def _tamper(catalog: Catalog, *statements: str) -> None:
    """Drop the append-only triggers (as the table's owner could) and run ``statements``."""
    with catalog._engine.begin() as conn:
        for sql in [*TRIGGERS[conn.dialect.name], *statements]:
            conn.exec_driver_sql(sql)


def _assert_refused(catalog: Catalog, statement: str) -> None:
    with pytest.raises(DBAPIError, match="append-only"), catalog._engine.begin() as conn:
        conn.exec_driver_sql(statement)


def _forge(catalog: Catalog, entry_id: int, prev_hash: str) -> None:
    """Insert a self-consistent entry (its hash matches its fields) after dropping triggers."""
    row = AuditRow(
        id=entry_id,
        at=datetime.now(UTC).replace(microsecond=0),
        tenant_id=None,
        actor="eve",
        action="login",
        target="",
        detail="{}",
        prev_hash=prev_hash,
    )
    row.hash = entry_hash(row)
    columns = {c.name: getattr(row, c.name) for c in AUDIT.columns}
    with catalog._engine.begin() as conn:
        conn.execute(insert(AUDIT).values(**{**columns, "at": row.at.replace(tzinfo=None)}))


def test_each_entry_chains_to_the_one_before(catalog: Catalog) -> None:
    _fill(catalog, 3)

    entries = list(reversed(catalog.audit.entries()))
    assert [e.id for e in entries] == [1, 2, 3]
    assert [e.prev_hash for e in entries] == [GENESIS, entries[0].hash, entries[1].hash]
    assert len({e.hash for e in entries}) == 3
    assert (entries[1].tenant, entries[1].actor, entries[1].detail) == ("acme", "user1", '{"i":1}')
    result = catalog.audit.verify()
    assert result.ok
    assert result.checked == 3
    head = catalog.audit.head()
    assert head is not None
    assert result.head == head
    assert (head.id, head.hash) == (3, entries[2].hash)


def test_empty_log_verifies_and_has_no_head(catalog: Catalog) -> None:
    result = catalog.audit.verify()
    assert (result.ok, result.checked, result.head) == (True, 0, None)
    assert catalog.audit.head() is None


def test_entries_by_tenant_and_since_newest_first(catalog: Catalog) -> None:
    acme = catalog.ensure_tenant("acme")
    globex = catalog.ensure_tenant("globex")
    old = datetime(2026, 1, 1, tzinfo=UTC)
    catalog.audit.append("login", tenant_id=acme, actor="a", at=old)
    catalog.audit.append("export", tenant_id=globex, actor="g")
    catalog.audit.append("key_created", tenant_id=acme, actor="a", target="key/2")

    assert [e.id for e in catalog.audit.entries()] == [3, 2, 1]
    assert [e.id for e in catalog.audit.entries(acme)] == [3, 1]
    assert [e.id for e in catalog.audit.entries(acme, since=old + timedelta(days=1))] == [3]
    assert [e.id for e in catalog.audit.entries(limit=1)] == [3]
    assert catalog.audit.entries()[2].at == old


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"action": "Log In"}, "action"),
        ({"action": "login", "at": datetime(2026, 1, 1)}, "at: give a time zone"),
        ({"action": "login", "detail": {"x": object()}}, "detail: not JSON"),
    ],
)
def test_bad_entries_are_refused_and_change_nothing(
    catalog: Catalog, fields: dict[str, object], message: str
) -> None:
    with pytest.raises(AuditInputError, match=message):
        catalog.audit.append(**fields)  # type: ignore[arg-type]

    assert catalog.audit.entries() == []


def test_long_client_supplied_fields_are_clipped_not_refused(catalog: Catalog) -> None:
    entry = catalog.audit.append(
        "login_failed", actor="u" * 1000, target="t" * 1000, detail={"q": '"\\' * 9000}
    )

    assert entry.actor == "u" * 127 + "…"
    assert entry.target == "t" * 399 + "…"
    assert len(entry.detail) <= 8192
    assert json.loads(entry.detail)["clipped"].startswith('{"q":"\\"\\\\')
    assert catalog.audit.append("login", actor="").actor is None
    assert catalog.audit.verify().ok


def test_non_finite_numbers_are_recorded_as_text(catalog: Catalog) -> None:
    entry = catalog.audit.append("setpoint_write", detail={"written": float("nan"), "l": [-1e999]})

    assert entry.detail == '{"l":["-inf"],"written":"nan"}'
    assert catalog.audit.verify().ok


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_log SET actor = 'eve'", "DELETE FROM audit_log"]
)
def test_the_database_refuses_to_change_entries(catalog: Catalog, statement: str) -> None:
    _fill(catalog, 2)

    _assert_refused(catalog, statement)

    assert [e.actor for e in catalog.audit.entries()] == ["user1", "user0"]


def test_postgresql_refuses_truncate(pg_url: str) -> None:
    catalog = Catalog(pg_url)
    try:
        catalog.migrate()
        _fill(catalog, 1)
        _assert_refused(catalog, "TRUNCATE audit_log")
        assert catalog.audit.verify().checked == 1
    finally:
        catalog.close()


SWAP_2_AND_3 = (
    "UPDATE audit_log SET id = 100 WHERE id = 2",
    "UPDATE audit_log SET id = 2 WHERE id = 3",
    "UPDATE audit_log SET id = 3 WHERE id = 100",
)


@pytest.mark.parametrize(
    ("statements", "broken", "kind"),
    [
        (["UPDATE audit_log SET actor = 'eve' WHERE id = 3"], 3, BreakKind.HASH),
        (["UPDATE audit_log SET detail = '{\"i\":9}' WHERE id = 5"], 5, BreakKind.HASH),
        (["UPDATE audit_log SET hash = prev_hash WHERE id = 4"], 4, BreakKind.HASH),
        (["DELETE FROM audit_log WHERE id = 3"], 4, BreakKind.GAP),
        (["DELETE FROM audit_log WHERE id IN (2, 3)"], 4, BreakKind.GAP),
        (["DELETE FROM audit_log WHERE id = 1"], 2, BreakKind.GAP),
        (SWAP_2_AND_3, 2, BreakKind.HASH),
    ],
    ids=["edit", "edit-last", "rehash", "delete", "delete-two", "delete-first", "reorder"],
)
def test_verify_names_the_first_tampered_entry(
    catalog: Catalog, statements: list[str], broken: int, kind: BreakKind
) -> None:
    _fill(catalog)
    _tamper(catalog, *statements)

    result = catalog.audit.verify()

    assert result.broken is not None
    assert (result.broken.entry_id, result.broken.kind) == (broken, kind)


def test_a_forged_entry_in_place_of_a_deleted_one_breaks_the_next(catalog: Catalog) -> None:
    _fill(catalog)
    second = catalog.audit.entries()[3]
    assert second.id == 2
    _tamper(catalog, "DELETE FROM audit_log WHERE id = 3")
    _forge(catalog, 3, prev_hash=second.hash)

    result = catalog.audit.verify()

    assert result.broken is not None
    assert (result.broken.entry_id, result.broken.kind) == (4, BreakKind.PREV)


@pytest.mark.parametrize("entry_id", [6, 0], ids=["after-the-last", "before-the-first"])
def test_a_forged_entry_with_a_wrong_link_is_named(catalog: Catalog, entry_id: int) -> None:
    _fill(catalog)
    _tamper(catalog)
    _forge(catalog, entry_id, prev_hash=GENESIS)

    result = catalog.audit.verify()

    assert result.broken is not None
    assert (result.broken.entry_id, result.broken.kind) == (entry_id, BreakKind.PREV)


def test_an_exported_head_catches_truncation_and_rewriting(catalog: Catalog) -> None:
    _fill(catalog)
    head = catalog.audit.head()
    assert head is not None
    assert catalog.audit.verify((head.id, head.hash)).ok
    _tamper(catalog, "DELETE FROM audit_log WHERE id = 5")
    assert catalog.audit.verify().ok  # dropping the newest entries leaves a valid chain…

    truncated = catalog.audit.verify((head.id, head.hash))
    rewritten = catalog.audit.verify((4, head.hash))

    assert truncated.broken is not None
    assert (truncated.broken.entry_id, truncated.broken.kind) == (5, BreakKind.HEAD)
    assert rewritten.broken is not None
    assert (rewritten.broken.entry_id, rewritten.broken.kind) == (4, BreakKind.HEAD)


def test_an_append_rolled_back_with_its_transaction_leaves_no_gap(catalog: Catalog) -> None:
    def fail_after_appending() -> None:
        with catalog._write() as s:
            catalog.audit.append("export", actor="a", session=s)
            raise RuntimeError("the caller's other write failed")

    with pytest.raises(RuntimeError):
        fail_after_appending()

    entry = catalog.audit.append("export", actor="a")

    assert entry.id == 1
    assert catalog.audit.verify().ok


def test_record_write_keeps_the_write_log_and_appends_an_entry(catalog: Catalog) -> None:
    acme = catalog.ensure_tenant("acme")
    who = Principal(acme, "acme", Role.ENGINEER, "eng-key")
    tag = TagInfo(7, "plant1/a/b/c/d/sp", "sp", "rpm", "float32", "", None, None)
    at = datetime(2026, 11, 24, 8, 0, 0, 123456, tzinfo=UTC)
    record = WriteRecord(at, "eng-key", "plant1/a/b/c/d/sp", 1.0, 2.0, 2.0, "ok", "")

    catalog.record_write(who, tag, record)

    assert catalog.write_log(acme) == [record]
    [entry] = catalog.audit.entries(acme)
    assert (entry.action, entry.actor, entry.target, entry.at) == (
        "setpoint_write",
        "eng-key",
        "plant1/a/b/c/d/sp",
        at,
    )
    assert entry.detail == (
        '{"message":"","old_value":1.0,"outcome":"ok","requested":2.0,"tag_id":7,"written":2.0}'
    )
    assert catalog.audit.verify().ok


def _appender(url: str, n: int, start: threading.Barrier, errors: list[BaseException]) -> None:
    """``n`` appends through a catalog (engine, connections) of its own."""
    catalog = Catalog(url)
    try:
        start.wait(timeout=10)
        for i in range(n):
            catalog.audit.append("login", actor=threading.current_thread().name, detail={"i": i})
    except (CatalogError, threading.BrokenBarrierError) as exc:
        errors.append(exc)
    finally:
        catalog.close()


def test_concurrent_appenders_keep_one_chain(catalog: Catalog, url: str) -> None:
    n, errors = 100, []
    start = threading.Barrier(2)
    threads = [
        threading.Thread(target=_appender, args=(url, n, start, errors), name=f"t{i}")
        for i in range(2)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)

    assert errors == []
    result = catalog.audit.verify()
    assert result.ok
    assert result.checked == 2 * n
    assert {e.actor for e in catalog.audit.entries(limit=2 * n)} == {"t0", "t1"}


def test_a_create_all_catalog_is_append_only_and_adopted_at_0002(url: str) -> None:
    legacy = Catalog(url)
    try:
        legacy.create_all()
        _fill(legacy, 2)
        _assert_refused(legacy, "DELETE FROM audit_log")

        migrate.upgrade(url)

        assert migrate.current(url) == migrate.head()
        assert legacy.audit.verify().checked == 2
    finally:
        legacy.close()


def test_a_catalog_from_before_the_audit_log_gets_it_on_upgrade(url: str) -> None:
    engine = create_engine(url)
    try:
        initial = [Base.metadata.tables[n] for n in migrate.INITIAL_TABLES]
        Base.metadata.create_all(engine, tables=initial)
    finally:
        engine.dispose()
    assert migrate.current(url) is None

    migrate.upgrade(url)

    assert migrate.current(url) == migrate.head()
    catalog = Catalog(url)
    try:
        _fill(catalog, 1)
        _assert_refused(catalog, "UPDATE audit_log SET actor = 'eve'")
    finally:
        catalog.close()
