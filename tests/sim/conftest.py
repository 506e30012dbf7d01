"""Fixtures of the virtual-factory tests: the demo site, moved to free ports."""

import pytest

from factoryos.model.site import SiteFile
from factoryos.sim import load_demo_site, with_ports
from support.ports import free_ports


@pytest.fixture(scope="session")
def demo_site() -> SiteFile:
    return load_demo_site()


@pytest.fixture
def demo_on_free_ports(demo_site: SiteFile) -> SiteFile:
    names = [d.name for d in demo_site.devices]
    return with_ports(demo_site, dict(zip(names, free_ports(len(names)), strict=True)))
