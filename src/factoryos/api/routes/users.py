"""The tenant's users (admin), and tenants (platform operators).

An admin manages the users of their own tenant only, and cannot grant a role above their
own. A platform operator creates tenants with their first admin and lists them; they see
no tenant's data.
"""

from typing import Annotated

from fastapi import APIRouter, HTTPException, status
from fastapi import Path as PathParam
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import PlatformCaller, ServicesDep, TenantCaller
from factoryos.api.schemas import TenantCreate, TenantOut, UserCreate, UserOut, UserUpdate
from factoryos.store.catalog import CatalogInputError, Role

router = APIRouter(prefix="/api", tags=["users"])


@router.get("/users", summary="The tenant's users")
async def list_users(services: ServicesDep, caller: TenantCaller) -> list[UserOut]:
    users = await run_in_threadpool(services.users.in_tenant, caller.tenant_id)
    return [UserOut.of(u) for u in users]


@router.post("/users", status_code=status.HTTP_201_CREATED, summary="Add a user to the tenant")
async def create_user(body: UserCreate, services: ServicesDep, caller: TenantCaller) -> UserOut:
    role = _grantable(body.role, caller.role)
    try:
        user = await run_in_threadpool(
            lambda: services.users.create(
                body.username, body.password, tenant=caller.tenant, role=role
            )
        )
    except CatalogInputError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    await record(services, "user_created", caller, user.username, {"role": user.role.label})
    return UserOut.of(user)


@router.patch(
    "/users/{user_id}",
    summary="Change a user's role, disable or enable them, or set a new password",
)
async def update_user(
    user_id: Annotated[int, PathParam(ge=1, le=2**63 - 1)],
    body: UserUpdate,
    services: ServicesDep,
    caller: TenantCaller,
) -> UserOut:
    role = None if body.role is None else _grantable(body.role, caller.role)
    updated = await run_in_threadpool(
        lambda: services.users.update(
            caller.tenant_id, user_id, role=role, disabled=body.disabled, password=body.password
        )
    )
    if updated is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"user_id: no user {user_id}")
    changed = {"role": body.role, "disabled": body.disabled, "password": body.password is not None}
    await record(services, "user_changed", caller, updated.username, changed)
    return UserOut.of(updated)


@router.get("/tenants", summary="Every tenant (platform operators)")
async def list_tenants(services: ServicesDep, caller: PlatformCaller) -> list[TenantOut]:
    rows = await run_in_threadpool(services.users.tenants)
    return [TenantOut(id=i, name=n) for i, n in rows]


@router.post(
    "/tenants",
    status_code=status.HTTP_201_CREATED,
    summary="Create a tenant and its first admin (platform operators)",
)
async def create_tenant(
    body: TenantCreate, services: ServicesDep, caller: PlatformCaller
) -> TenantOut:
    if await run_in_threadpool(services.catalog.tenant_id, body.name) is not None:
        raise HTTPException(status.HTTP_409_CONFLICT, f"name: tenant {body.name!r} exists")
    try:
        await run_in_threadpool(
            lambda: services.users.create(
                body.admin_username, body.admin_password, tenant=body.name, role=Role.ADMIN
            )
        )
    except CatalogInputError as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from exc
    tenant_id = await run_in_threadpool(services.catalog.tenant_id, body.name)
    assert tenant_id is not None
    await record(services, "tenant_created", caller, body.name, {"admin": body.admin_username})
    return TenantOut(id=tenant_id, name=body.name)


def _grantable(label: str, own: Role) -> Role:
    role = Role.parse(label)
    if role > own:
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"role: cannot grant {label}, above yours")
    return role
