"""The tenant's asset tree and tag metadata."""

from typing import Annotated

from fastapi import APIRouter, Query

from factoryos.api.deps import ServicesDep, TenantCaller, scoped_tag
from factoryos.api.schemas import AssetOut, TagOut

router = APIRouter(prefix="/api", tags=["assets"])


@router.get("/assets", summary="The ISA-95 asset tree with tags")
def assets(services: ServicesDep, principal: TenantCaller) -> list[AssetOut]:
    return [AssetOut.of(n) for n in services.catalog.asset_tree(principal.tenant_id)]


@router.get("/tags", summary="Tags, optionally those under a path prefix")
def tags(
    services: ServicesDep,
    principal: TenantCaller,
    prefix: Annotated[str | None, Query(max_length=400)] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 10_000,
) -> list[TagOut]:
    found = services.catalog.tags(principal.tenant_id, prefix, limit=limit)
    return [TagOut.of(t) for t in found]


@router.get("/tags/{path:path}", summary="One tag by its UNS path")
def tag(path: str, services: ServicesDep, principal: TenantCaller) -> TagOut:
    return TagOut.of(scoped_tag(services, principal, path))
