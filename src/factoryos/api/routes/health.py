"""Liveness, readiness and identity.

``/api/health`` says the process answers; ``/api/ready`` says it can do its work (the store
and the catalog both answer), for load balancers and Kubernetes readiness probes. Neither
needs a credential: probes carry none, and neither reveals data.
"""

import asyncio
from collections.abc import Callable
from typing import Literal

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel

from factoryos import __version__
from factoryos.api.deps import CurrentCaller, ServicesDep
from factoryos.api.schemas import Health, Me
from factoryos.api.services import Services

router = APIRouter(prefix="/api", tags=["system"])

CHECK_TIMEOUT_S = 2.0
_PROBE_TENANT = "-readiness-probe-"  # a name no tenant can have: the lookup reads, finds nothing


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, str]
    """Per dependency: ``ok`` or why it is not ready."""


def _store_answers(services: Services) -> None:
    services.store.raw(0, 0, 1, limit=1)  # an indexed, empty range: cheap on every backend


def _catalog_answers(services: Services) -> None:
    services.catalog.tenant_id(_PROBE_TENANT)


async def _check(probe: Callable[[Services], None], services: Services) -> str:
    try:
        async with asyncio.timeout(CHECK_TIMEOUT_S):
            await asyncio.to_thread(probe, services)
    except TimeoutError:
        return f"no answer within {CHECK_TIMEOUT_S:g} s"
    except Exception as exc:  # any failure means "not ready"; the reason goes to the caller
        return f"{type(exc).__name__}: {exc}"
    return "ok"


@router.get("/health", summary="Liveness (no credential needed)")
def health() -> Health:
    return Health(version=__version__)


@router.get(
    "/ready",
    summary="Readiness: the store and the catalog answer (no credential needed)",
    responses={503: {"model": Readiness, "description": "A dependency is not ready"}},
)
async def ready(services: ServicesDep) -> JSONResponse:
    checks = {
        "store": await _check(_store_answers, services),
        "catalog": await _check(_catalog_answers, services),
    }
    ok = all(v == "ok" for v in checks.values())
    body = Readiness(status="ready" if ok else "not ready", checks=checks)
    return JSONResponse(body.model_dump(), status_code=200 if ok else 503)


@router.get("/me", summary="Who the credential belongs to")
def me(principal: CurrentCaller) -> Me:
    return Me.of(principal)
