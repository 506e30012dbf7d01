"""Fixtures of the virtual-factory tests: the demo site, moved to free ports."""

import socket

import pytest

from factoryos.model.site import SiteFile
from factoryos.sim import load_demo_site, with_ports


def free_ports(n: int) -> list[int]:
    """``n`` distinct ports free on 127.0.0.1 right now."""
    socks = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in socks:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


@pytest.fixture(scope="session")
def demo_site() -> SiteFile:
    return load_demo_site()


@pytest.fixture
def demo_on_free_ports(demo_site: SiteFile) -> SiteFile:
    names = [d.name for d in demo_site.devices]
    return with_ports(demo_site, dict(zip(names, free_ports(len(names)), strict=True)))
