"""Registering site files (engineer and up)."""

from typing import Annotated

from fastapi import APIRouter, Body, HTTPException, status

from factoryos.api.audit import record_now
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.schemas import SiteRegistered
from factoryos.model.site import parse_site
from factoryos.store.audit import AuditAction

router = APIRouter(prefix="/api/sites", tags=["sites"])

MAX_SITE_FILE = 2_000_000


@router.post("", summary="Register or update a site from its YAML site file")
def register_site(
    services: ServicesDep,
    principal: TenantCaller,
    text: Annotated[
        str,
        Body(media_type="application/yaml", max_length=MAX_SITE_FILE, description="Site file."),
    ],
) -> SiteRegistered:
    site = parse_site(text, "request body")
    if site.site.tenant != principal.tenant:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN,
            f"site.tenant: {site.site.tenant!r} is not your tenant {principal.tenant!r}",
        )
    ids = services.catalog.register_site(site)
    detail = {"tags": len(ids)}
    record_now(services, AuditAction.CONFIG_CHANGE, principal, f"site {site.site.name}", detail)
    return SiteRegistered(site=site.site.name, tenant=principal.tenant, tags=len(ids))
