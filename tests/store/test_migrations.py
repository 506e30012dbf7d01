"""The catalog's migrations: from empty they reproduce the models, on SQLite and PostgreSQL."""

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from factoryos.model.site import parse_site
from factoryos.store import migrate
from factoryos.store.catalog import Base, Catalog
from factoryos.store.migrate import MigrationError
from support.sites import site_yaml

PG_URL = os.environ.get(
    "FACTORYOS_TEST_PG_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
CATALOG_TABLES = {t.name for t in Base.metadata.sorted_tables}

SITE = parse_site(site_yaml("acme"))


def _schema_diff(url: str) -> list[Any]:
    """What autogenerate would change to make the database at ``url`` match the models."""
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            ctx = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            return list(compare_metadata(ctx, Base.metadata))
    finally:
        engine.dispose()


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return set(inspect(conn).get_table_names())
    finally:
        engine.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'catalog.sqlite'}"


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards."""
    with pg_schema_url() as url:
        yield url


@contextmanager
def pg_schema_url() -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped afterwards (for any fixture scope)."""
    admin = create_engine(PG_URL, connect_args={"connect_timeout": 5})
    schema = f"fos_mig_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"CREATE SCHEMA {schema}")
    except OperationalError as exc:
        admin.dispose()
        pytest.skip(f"PostgreSQL at {PG_URL} is not reachable: {exc}")
    url = make_url(PG_URL).update_query_dict({"options": f"-csearch_path={schema}"})
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with admin.begin() as conn:
            conn.exec_driver_sql(f"DROP SCHEMA {schema} CASCADE")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest) -> str:
    return str(
        request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    )


@pytest.fixture
def catalog(url: str) -> Iterator[Catalog]:
    """A migrated catalog on each backend (shared with the store's other tests)."""
    migrated = Catalog(url)
    migrated.migrate()
    yield migrated
    migrated.close()


def test_upgrade_from_empty_reproduces_the_models(url: str) -> None:
    assert migrate.current(url) is None

    migrate.upgrade(url)

    assert migrate.current(url) == migrate.head()
    assert _schema_diff(url) == []
    assert _tables(url) == CATALOG_TABLES | {migrate.VERSION_TABLE}


def test_upgrade_twice_changes_nothing(url: str) -> None:
    migrate.upgrade(url)
    migrate.upgrade(url)

    assert migrate.current(url) == migrate.head()
    assert _schema_diff(url) == []


def test_downgrade_to_base_drops_every_catalog_table(url: str) -> None:
    migrate.upgrade(url)

    migrate.downgrade(url, "base")

    assert migrate.current(url) is None
    assert _tables(url) & CATALOG_TABLES == set()


def test_migrated_catalog_works(url: str) -> None:
    migrate.upgrade(url)
    catalog = Catalog(url)
    try:
        ids = catalog.register_site(SITE)
        tenant = catalog.tenant_id("acme")
        assert tenant is not None
        assert [t.path for t in catalog.tags(tenant)] == list(ids)
    finally:
        catalog.close()


def test_sqlite_tag_ids_are_never_reused(sqlite_url: str) -> None:
    migrate.upgrade(sqlite_url)

    engine = create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            ddl = conn.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'tags'"))
    finally:
        engine.dispose()
    assert "AUTOINCREMENT" in str(ddl)


def test_create_all_catalog_is_stamped_and_keeps_its_data(url: str) -> None:
    legacy = Catalog(url)
    legacy.create_all()
    ids = legacy.register_site(SITE)
    legacy.close()
    assert migrate.current(url) is None

    migrate.upgrade(url)

    assert migrate.current(url) == migrate.head()
    assert _schema_diff(url) == []
    catalog = Catalog(url)
    try:
        tenant = catalog.tenant_id("acme")
        assert tenant is not None
        assert {t.path: t.id for t in catalog.tags(tenant)} == ids
    finally:
        catalog.close()


def test_partial_catalog_is_refused_and_left_alone(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    try:
        Base.metadata.tables["tenants"].create(engine)
    finally:
        engine.dispose()

    with pytest.raises(MigrationError, match=r"not \['api_keys'"):
        migrate.upgrade(sqlite_url)

    assert _tables(sqlite_url) == {"tenants"}


def test_failed_upgrade_is_rolled_back_whole(url: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as conn:
            # Index names are per schema: the upgrade makes every table, then trips on this.
            conn.exec_driver_sql("CREATE TABLE squatter (x INTEGER)")
            conn.exec_driver_sql("CREATE INDEX ix_tags_tenant_id ON squatter (x)")
    finally:
        engine.dispose()

    with pytest.raises(MigrationError, match="upgrade to 'head'"):
        migrate.upgrade(url)

    assert _tables(url) == {"squatter"}
    assert migrate.current(url) is None


def test_unknown_revision_is_a_migration_error(sqlite_url: str) -> None:
    with pytest.raises(MigrationError, match="nope"):
        migrate.upgrade(sqlite_url, "nope")

    assert _tables(sqlite_url) == set()


def test_catalog_migrate_on_shared_memory_database() -> None:
    catalog = Catalog("sqlite://")
    try:
        catalog.migrate()
        catalog.migrate()
        assert catalog.ensure_tenant("acme") == catalog.tenant_id("acme")
    finally:
        catalog.close()


def test_catalog_migrate_keeps_foreign_keys_enforced(sqlite_url: str) -> None:
    catalog = Catalog(sqlite_url)
    try:
        catalog.migrate()
        with catalog._engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        catalog.close()
