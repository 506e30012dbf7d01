"""The running platform as `factoryos demo` starts it: nothing published is lost at shutdown."""

import asyncio
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import psycopg
import pytest

from factoryos.bus.inprocess import Overflow
from factoryos.model import Quality, SampleBatch, SiteFile
from factoryos.runtime.platform import Platform
from factoryos.sim import SimulatorHost, VirtualFactory, load_demo_site, with_ports
from support.ports import free_ports

SILENT = "cnc-03-plc"  # accepts connections, never answers: its polls are in flight at stop


async def _silent_server(asked: asyncio.Event) -> tuple[asyncio.Server, int]:
    """A device that takes requests and never answers; ``asked`` is set by the first one."""

    async def hold(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while await reader.read(256):
            asked.set()
        writer.close()

    server = await asyncio.start_server(hold, "127.0.0.1", 0)
    return server, server.sockets[0].getsockname()[1]


def _site(silent_port: int) -> SiteFile:
    site = load_demo_site()
    names = [d.name for d in site.devices]
    ports = dict(zip(names, free_ports(len(names)), strict=True))
    ports[SILENT] = silent_port
    return with_ports(site, ports)


async def _run(tmp_path: Path, store_url: str | None) -> tuple[Platform, list[SampleBatch]]:
    asked = asyncio.Event()
    silent, silent_port = await _silent_server(asked)
    site = _site(silent_port)
    platform = Platform(site, tmp_path, store_url)
    audit = platform.bus.subscribe("audit", maxsize=100_000, overflow=Overflow.BLOCK)
    sim = SimulatorHost(VirtualFactory(site, seed=5, start_ns=time.time_ns()))
    sim.servers.pop(SILENT)  # played by the silent server instead
    stop = asyncio.Event()
    async with sim:
        stepping = asyncio.create_task(sim.run_realtime(stop))
        (port,) = free_ports(1)
        running = asyncio.create_task(platform.run("127.0.0.1", port, stop, lambda: None))
        await asyncio.sleep(2.0)  # a few polls of every device
        asked.clear()
        await asyncio.wait_for(asked.wait(), 10)
        stop.set()  # while the silent device's request waits for its 1 s timeout
        await asyncio.wait_for(running, 30)
        await stepping
    silent.close()
    return platform, audit.take_all()


PG = "postgresql://postgres@127.0.0.1:5432/test"


@pytest.fixture(params=["duckdb", "postgres"])
def store_url(request: pytest.FixtureRequest) -> Iterator[str | None]:
    """The embedded store, or a PostgreSQL schema of its own (server mode)."""
    if request.param == "duckdb":
        yield None
        return
    schema = f"platform_{uuid.uuid4().hex[:8]}"
    yield f"{PG}?schema={schema}"
    with psycopg.connect(PG, autocommit=True) as conn:
        conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')


def test_every_published_sample_is_stored_once_even_at_shutdown(
    tmp_path: Path, store_url: str | None
) -> None:
    platform, published = asyncio.run(_run(tmp_path, store_url))
    try:
        sent = SampleBatch.concat(published)
        assert len(sent) > 0
        silent_ids = {
            platform.tag_ids[r.path] for r in platform.site.tags() if r.equipment.device == SILENT
        }
        silent_rows = np.isin(sent.tag_ids, list(silent_ids))
        assert silent_rows.any(), "the silent device's timed-out polls must be published"
        assert np.all(sent.quality[silent_rows] == Quality.BAD)
        assert platform.store.count() == len(sent)
        for tag_id in np.unique(sent.tag_ids):
            mine = sent.take(sent.tag_ids == tag_id)
            got = platform.store.raw(int(tag_id), int(mine.ts.min()), int(mine.ts.max()) + 1)
            np.testing.assert_array_equal(got.ts, np.sort(mine.ts))
    finally:
        platform.close()


def test_admin_key_is_reused_while_valid_and_replaced_otherwise(tmp_path: Path) -> None:
    site = load_demo_site()
    platform = Platform(site, tmp_path)
    try:
        first = platform.admin_key("demo-admin")
        assert platform.admin_key("demo-admin") == first
        key_file = tmp_path / "admin.key"
        assert key_file.stat().st_mode & 0o777 == 0o600
        key_file.unlink()
        second = platform.admin_key("demo-admin")
        assert second != first
        assert platform.catalog.authenticate(first) is None  # replaced keys are revoked
        assert platform.catalog.authenticate(second) is not None
    finally:
        platform.close()


@pytest.mark.parametrize("content", ["fos_not-a-key\n", ""])
def test_an_invalid_key_file_is_replaced(tmp_path: Path, content: str) -> None:
    (tmp_path / "admin.key").write_text(content)
    platform = Platform(load_demo_site(), tmp_path)
    try:
        key = platform.admin_key("demo-admin")
        assert platform.catalog.authenticate(key) is not None
        assert (tmp_path / "admin.key").read_text().strip() == key
    finally:
        platform.close()
