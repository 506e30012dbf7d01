"""API keys of the caller's tenant (admin only)."""

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam

from factoryos.api.audit import record_now
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.schemas import KeyCreate, KeyCreated, KeyOut
from factoryos.store.audit import AuditAction

router = APIRouter(prefix="/api/keys", tags=["keys"])


@router.get("", summary="The tenant's API keys, without secrets")
def list_keys(services: ServicesDep, principal: TenantCaller) -> list[KeyOut]:
    return [KeyOut.of(k) for k in services.catalog.api_keys(principal.tenant_id)]


@router.post("", status_code=status.HTTP_201_CREATED, summary="Create a key; secret shown once")
def create_key(body: KeyCreate, services: ServicesDep, principal: TenantCaller) -> KeyCreated:
    if body.role_value > principal.role:
        raise HTTPException(
            status.HTTP_403_FORBIDDEN, f"role: cannot grant {body.role}, above your own role"
        )
    key, info = services.catalog.issue_api_key(
        principal.tenant, body.role_value, body.name, body.expires_at
    )
    record_now(services, AuditAction.KEY_CREATED, principal, body.name, {"role": body.role})
    return KeyCreated(**KeyOut.of(info).model_dump(), key=key)


@router.delete("/{key_id}", status_code=status.HTTP_204_NO_CONTENT, summary="Revoke a key")
def revoke_key(
    key_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    services: ServicesDep,
    principal: TenantCaller,
) -> None:
    if not services.catalog.revoke_api_key(principal.tenant_id, key_id):
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"key_id: no API key {key_id}")
    record_now(services, AuditAction.KEY_REVOKED, principal, str(key_id))
