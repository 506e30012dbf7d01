"""The FastAPI application: routers, error mapping, the web UI."""

from collections.abc import Sequence
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.routing import APIWebSocketRoute
from prometheus_client import CollectorRegistry
from starlette.routing import BaseRoute, Mount, Route

from factoryos import __version__
from factoryos.api.authz import RULES, WS
from factoryos.api.deps import CREDENTIAL_LIMIT, CREDENTIAL_WINDOW_S, authorize
from factoryos.api.errors import install_error_handlers
from factoryos.api.hardening import Hardening
from factoryos.api.ratelimit import FailureLimiter
from factoryos.api.routes import (
    alarms,
    assets,
    auth,
    carbon,
    energy,
    epcis,
    export,
    health,
    history,
    identifiers,
    keys,
    live,
    maintenance,
    metrics,
    oee,
    resample,
    schedules,
    sites,
    spc,
    users,
    workorders,
    writes,
)
from factoryos.api.services import Services
from factoryos.web.pages import mount_web

DESCRIPTION = """\
Query FactoryOS: the asset tree, tag metadata, raw history, aggregates per time bucket,
last values and a live WebSocket stream.

Every route except health, login and refresh needs a credential: an API key or a user's
access token (`POST /api/auth/login`), sent as `Authorization: Bearer <credential>` (or an API
key as `X-API-Key: <key>`). Roles: viewer < operator < engineer < admin, per tenant; platform
operators manage tenants and see no tenant's data. Every answer is scoped to the caller's
tenant. Times are ISO 8601 with a zone (`Z` in answers).
"""


GATE_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, invalid, expired or revoked credential"},
    403: {"description": "the credential's role or kind may not do this (api/authz.py)"},
    404: {"description": "no such tag, key or user in the caller's tenant"},
    429: {"description": "too many failed logins or invalid credentials; see Retry-After"},
}
"""What the access gate and tenant scoping may answer on any route, for the OpenAPI docs."""


def create_app(services: Services, *, metrics_registry: CollectorRegistry | None = None) -> FastAPI:
    """The API and web UI over ``services``; the caller owns their lifecycle.

    ``metrics_registry`` is what ``GET /metrics`` exports (see factoryos.runtime.metrics).
    """
    app = FastAPI(
        dependencies=[Depends(authorize)],
        title="FactoryOS",
        version=__version__,
        description=DESCRIPTION,
        docs_url=None,  # served by the web package from vendored Swagger UI, not a CDN
        openapi_url="/openapi.json",
        redoc_url=None,
    )
    app.state.services = services
    app.state.credential_limiter = FailureLimiter(CREDENTIAL_LIMIT, CREDENTIAL_WINDOW_S)
    app.state.metrics = metrics_registry
    install_error_handlers(app)
    modules = (
        health,
        auth,
        users,
        assets,
        history,
        resample,
        export,
        keys,
        sites,
        live,
        oee,
        alarms,
        maintenance,
        workorders,
        schedules,
        epcis,
        identifiers,
        spc,
        energy,
        carbon,
    )
    for module in (*modules, writes, metrics):
        app.include_router(module.router, responses=GATE_RESPONSES)
    mount_web(app)
    app.add_middleware(Hardening)
    unruled = sorted(set(route_keys(app)) - RULES.keys())
    if unruled:
        raise RuntimeError(f"routes without an access rule in api/authz.py RULES: {unruled}")
    return app


def route_keys(app: FastAPI) -> list[tuple[str, str]]:
    """(method, path) of every route of ``app`` as RULES names them."""
    return _keys(app.routes)


def _keys(routes: Sequence[BaseRoute]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    for route in routes:
        included = getattr(route, "original_router", None)  # an include_router'ed APIRouter
        if included is not None:
            keys += _keys(included.routes)
        elif isinstance(route, APIWebSocketRoute):
            keys.append((WS, route.path))
        elif isinstance(route, Mount):
            keys.append(("GET", route.path))
        elif isinstance(route, Route):
            keys += [(m, route.path) for m in route.methods or () if m != "HEAD"]
    return keys
