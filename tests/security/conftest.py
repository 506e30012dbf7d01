"""Fixtures: a local CA, and private Mosquittos running the generated config
(see support.secure_broker)."""

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from factoryos.security.pki import PkiDir
from support.secure_broker import SecuredBroker, make_pki, started_broker


@pytest.fixture
def pki(tmp_path: Path) -> PkiDir:
    return make_pki(tmp_path / "pki")


@pytest.fixture
async def secured(tmp_path: Path, pki: PkiDir) -> AsyncIterator[SecuredBroker]:
    """The generated config: a TLS listener, passwords, the ACL."""
    async with started_broker(tmp_path, pki) as broker:
        yield broker


@pytest.fixture
async def secured_mtls(tmp_path: Path, pki: PkiDir) -> AsyncIterator[SecuredBroker]:
    """The generated config with --mtls-port: there a client certificate is the login."""
    async with started_broker(tmp_path, pki, mtls=True) as broker:
        yield broker
