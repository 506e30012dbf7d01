"""Fixtures the store suites share: the backend contract suite's, and a migrated catalog."""

from collections.abc import Iterator

import pytest

from factoryos.store.catalog import Catalog
from store.test_backends import backend, store
from store.test_migrations import pg_url, sqlite_url

__all__ = ["backend", "catalog", "pg_url", "sqlite_url", "store"]


@pytest.fixture(params=["sqlite", "postgresql"])
def catalog(request: pytest.FixtureRequest) -> Iterator[Catalog]:
    """A migrated catalog on SQLite and on the real PostgreSQL."""
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    c = Catalog(str(url))
    c.migrate()
    yield c
    c.close()
