"""The running platform: drivers → bus → ingest → store, with the API and web page on top.

``factoryos demo`` and ``factoryos serve`` both build a :class:`Platform`; the demo also
starts the virtual factory, whose Modbus servers the drivers then poll like any real PLC.
"""

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from factoryos.api.app import create_app
from factoryos.api.services import Services
from factoryos.bus.inprocess import InProcessBus
from factoryos.connect import build_pollers, run_pollers
from factoryos.model import SiteFile
from factoryos.store.catalog import Catalog, Role
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor

log = logging.getLogger(__name__)


@dataclass
class Platform:
    """Everything one embedded FactoryOS process runs, opened on a data directory."""

    site: SiteFile
    data_dir: Path
    catalog: Catalog = field(init=False)
    store: DuckDBStore = field(init=False)
    bus: InProcessBus = field(init=False)
    tag_ids: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(f"sqlite:///{self.data_dir / 'catalog.sqlite'}")
        self.catalog.create_all()
        self.tag_ids = self.catalog.register_site(self.site)
        self.store = DuckDBStore(self.data_dir / "timeseries.duckdb")
        self.bus = InProcessBus()

    def admin_key(self, name: str) -> str:
        """A new admin API key for the site's tenant, written to ``data_dir/admin.key``."""
        key = self.catalog.create_api_key(self.site.site.tenant, Role.ADMIN, name)
        key_file = self.data_dir / "admin.key"
        key_file.write_text(key + "\n")
        key_file.chmod(0o600)
        return key

    async def run(
        self, host: str, port: int, stop: asyncio.Event, on_ready: Callable[[], None]
    ) -> None:
        """Poll devices, ingest, and serve the API until ``stop`` is set."""
        app = create_app(Services(catalog=self.catalog, store=self.store, bus=self.bus))
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="on")
        server = uvicorn.Server(config)
        ingestor = Ingestor(self.store, self.bus)
        pollers = build_pollers(self.site, self.tag_ids)
        tasks = [
            asyncio.create_task(ingestor.run(stop), name="ingest"),
            asyncio.create_task(run_pollers(pollers, self.bus.publish, stop), name="pollers"),
            asyncio.create_task(server.serve(), name="api"),
        ]
        # uvicorn exposes start-up only as a flag.
        while not server.started and not tasks[2].done():  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if tasks[2].done():
            await tasks[2]  # re-raises why the API could not start (port in use …)
        on_ready()
        await stop.wait()
        server.should_exit = True
        await asyncio.gather(*tasks)

    def close(self) -> None:
        self.bus.close()
        self.store.close()
