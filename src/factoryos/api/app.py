"""The FastAPI application: routers, error mapping, the web UI."""

from fastapi import FastAPI
from prometheus_client import CollectorRegistry

from factoryos import __version__
from factoryos.api.errors import install_error_handlers
from factoryos.api.routes import (
    assets,
    export,
    health,
    history,
    keys,
    live,
    metrics,
    resample,
    sites,
    writes,
)
from factoryos.api.services import Services
from factoryos.web.pages import mount_web

DESCRIPTION = """\
Query FactoryOS: the asset tree, tag metadata, raw history, aggregates per time bucket,
last values and a live WebSocket stream.

Every route except `/api/health` needs an API key, sent as `Authorization: Bearer <key>`
or `X-API-Key: <key>`. Roles: viewer < operator < engineer < admin. Every answer is scoped
to the key's tenant. Times are ISO 8601 with a zone (`Z` in answers).
"""


def create_app(services: Services, *, metrics_registry: CollectorRegistry | None = None) -> FastAPI:
    """The API and web UI over ``services``; the caller owns their lifecycle.

    ``metrics_registry`` is what ``GET /metrics`` exports (see factoryos.runtime.metrics).
    """
    app = FastAPI(
        title="FactoryOS",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by the web package from vendored Swagger UI, not a CDN
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.services = services
    app.state.metrics = metrics_registry
    install_error_handlers(app)
    for module in (health, assets, history, resample, export, keys, sites, live, writes, metrics):
        app.include_router(module.router)
    mount_web(app)
    return app
