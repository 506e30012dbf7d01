"""The REST and WebSocket API (FastAPI) over the catalog, the store and the bus."""

from factoryos.api.app import create_app
from factoryos.api.services import Services

__all__ = ["Services", "create_app"]
