"""``factoryos audit verify | head | list`` on real catalogs (SQLite files and PostgreSQL)."""

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from typer.testing import CliRunner

from factoryos import cli_audit
from factoryos.cli_audit import audit_app
from factoryos.store.catalog import Catalog
from store.test_migrations import pg_url

__all__ = ["pg_url"]  # the fixture, shared with the migration tests

runner = CliRunner()
DROP_SQLITE_TRIGGERS = ("DROP TRIGGER audit_log_no_update", "DROP TRIGGER audit_log_no_delete")


def _filled(url: str) -> Catalog:
    """A migrated catalog with three entries: two of tenant acme, one of the platform."""
    catalog = Catalog(url)
    catalog.migrate()
    acme = catalog.ensure_tenant("acme")
    catalog.audit.append("login", tenant_id=acme, actor="ann", at=datetime(2026, 1, 1, tzinfo=UTC))
    catalog.audit.append("config_change", actor="root", target="tenant/acme", detail={"a": [1]})
    catalog.audit.append("export", tenant_id=acme, actor="ann", target="plant1/line1")
    return catalog


@pytest.fixture
def data_dir(tmp_path: Path) -> Iterator[Path]:
    """A data directory whose catalog.sqlite holds three entries."""
    catalog = _filled(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    yield tmp_path
    catalog.close()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """No wrapped or cut cells: the console took its width when first imported, from
    whatever terminal (or none) the test run had."""
    monkeypatch.setattr(cli_audit.out, "width", 200)


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(audit_app, list(args))
    return result.exit_code, result.output


def test_verify_an_intact_log(data_dir: Path) -> None:
    code, output = _run("verify", "--data-dir", str(data_dir))

    assert code == 0, output
    assert "intact: 3 entries, head 3:" in output


def test_verify_names_the_first_broken_entry_and_exits_1(data_dir: Path) -> None:
    catalog = Catalog(f"sqlite:///{data_dir / 'catalog.sqlite'}")
    with catalog._engine.begin() as conn:
        for sql in (*DROP_SQLITE_TRIGGERS, "UPDATE audit_log SET actor = 'eve' WHERE id = 2"):
            conn.exec_driver_sql(sql)
    catalog.close()

    code, output = _run("verify", "--data-dir", str(data_dir))

    assert code == 1
    assert "broken at entry 2: hash mismatch" in output
    assert "1 entries before it are intact" in output


def test_an_exported_head_is_checked_by_verify(data_dir: Path) -> None:
    code, head = _run("head", "--data-dir", str(data_dir))
    assert code == 0
    entry_id, digest = head.strip().split(":")
    assert (entry_id, len(digest)) == ("3", 64)

    assert _run("verify", "--data-dir", str(data_dir), "--head", head.strip())[0] == 0
    code, output = _run("verify", "--data-dir", str(data_dir), "--head", f"3:{'0' * 64}")
    assert code == 1
    assert "broken at entry 3: head mismatch" in output
    code, output = _run("verify", "--data-dir", str(data_dir), "--head", "3")
    assert code == 2
    assert "ID:HASH" in output


def test_list_filters_by_tenant_and_since(data_dir: Path) -> None:
    code, everything = _run("list", "--data-dir", str(data_dir), "--limit", "10")
    assert code == 0, everything
    assert all(action in everything for action in ("login", "config_change", "export"))
    assert '{"a":[1]}' in everything  # detail shown as text, not read as markup

    code, acme = _run("list", "--data-dir", str(data_dir), "--tenant", "acme", "--since", "-1d")
    assert code == 0, acme
    assert "export" in acme
    assert "login" not in acme  # dated 2026-01-01
    assert "config_change" not in acme  # a platform entry


def test_list_refuses_an_unknown_tenant_and_a_bad_time(data_dir: Path) -> None:
    code, output = _run("list", "--data-dir", str(data_dir), "--tenant", "globex")
    assert code == 2
    assert "no tenant 'globex'" in output

    code, output = _run("list", "--data-dir", str(data_dir), "--since", "yesterday")
    assert code == 2
    assert "'yesterday' is not a time" in output


def test_a_missing_catalog_is_an_error_and_is_not_created(tmp_path: Path) -> None:
    code, output = _run("verify", "--data-dir", str(tmp_path))

    assert code == 2
    assert "no catalog at" in output
    assert not (tmp_path / "catalog.sqlite").exists()


def test_an_unmigrated_catalog_is_a_clean_error(tmp_path: Path) -> None:
    Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}").close()
    (tmp_path / "catalog.sqlite").touch()

    code, output = _run("head", "--data-dir", str(tmp_path))

    assert code == 2
    assert "audit_log" in output
    assert "Traceback" not in output


def test_verify_and_head_on_postgresql(pg_url: str) -> None:
    catalog = _filled(pg_url)
    try:
        code, output = _run("verify", "--catalog", pg_url)
        assert code == 0, output
        assert "intact: 3 entries" in output
        head = catalog.audit.head()
        assert head is not None
        assert _run("head", "--catalog", pg_url) == (0, f"{head.id}:{head.hash}\n")
    finally:
        catalog.close()
