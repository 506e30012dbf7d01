"""The runtime objects the API serves from, built by whoever starts the server."""

from dataclasses import dataclass

from factoryos.bus.inprocess import InProcessBus
from factoryos.store.catalog import Catalog
from factoryos.store.duckdb_store import DuckDBStore


@dataclass(frozen=True)
class Services:
    """What ``create_app`` needs: metadata, time series and the live bus."""

    catalog: Catalog
    store: DuckDBStore
    bus: InProcessBus
