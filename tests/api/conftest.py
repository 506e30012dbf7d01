"""A real app over a real catalog (SQLite file), DuckDB store and in-process bus.

Two tenants, ``acme`` and ``globex``, own sites with the very same tag paths, so every test
can check that neither sees the other. The fixtures live in tests/support/tenants.py, shared
with the attack tests of tests/security.
"""

from collections.abc import Callable

import pytest

from support.sites import site_yaml
from support.tenants import acme, app, client, globex, services

__all__ = ["acme", "app", "client", "globex", "services"]  # fixtures, used by name


@pytest.fixture
def site_text() -> Callable[[str], str]:
    """The test site file of a tenant, as YAML text."""
    return site_yaml
