"""FastAPI dependencies: services, the caller's credential and role, tenant-scoped tags.

Tenant scoping lives here and only here: a tag path is always resolved within the
caller's tenant, so another tenant's tag is a 404 exactly as if it did not exist.
"""

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, HTTPException, Query, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from factoryos.api.services import Services
from factoryos.store.catalog import Principal, Role, TagInfo


def get_services(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(auto_error=False, description="An API key sent as a bearer token.")
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def current_principal(
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> Principal:
    """The caller behind ``Authorization: Bearer <key>`` or ``X-API-Key: <key>``."""
    key = bearer.credentials if bearer is not None else api_key
    if not key:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing credential: send 'Authorization: Bearer <key>' or 'X-API-Key: <key>'",
            headers=_CHALLENGE,
        )
    principal = services.catalog.authenticate(key)
    if principal is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "invalid, expired or revoked API key", headers=_CHALLENGE
        )
    return principal


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def require(role: Role) -> Callable[[Principal], Principal]:
    """A dependency that admits callers whose role is at least ``role``."""

    def check(principal: CurrentPrincipal) -> Principal:
        if principal.role < role:
            raise HTTPException(
                status.HTTP_403_FORBIDDEN,
                f"this needs the {role.label} role; key {principal.key_name!r} is "
                f"{principal.role.label}",
            )
        return principal

    return check


Viewer = Annotated[Principal, Depends(require(Role.VIEWER))]
Operator = Annotated[Principal, Depends(require(Role.OPERATOR))]
Engineer = Annotated[Principal, Depends(require(Role.ENGINEER))]
Admin = Annotated[Principal, Depends(require(Role.ADMIN))]


def scoped_tags(services: Services, principal: Principal, paths: list[str]) -> list[TagInfo]:
    """The caller's tags at ``paths``; any path outside its tenant is unknown."""
    return services.catalog.resolve_tags(principal.tenant_id, paths)


def scoped_tag(services: Services, principal: Principal, path: str) -> TagInfo:
    return scoped_tags(services, principal, [path])[0]


def tag_param(
    services: ServicesDep,
    principal: Viewer,
    tag: Annotated[str, Query(description="UNS path of the tag.", max_length=400)],
) -> TagInfo:
    return scoped_tag(services, principal, tag)


MAX_TAGS_PER_REQUEST = 10_000  # beyond this a request is refused, not run


def tags_param(
    services: ServicesDep,
    principal: Viewer,
    tag: Annotated[
        list[str],
        Query(
            description=f"UNS paths, repeat for many (at most {MAX_TAGS_PER_REQUEST:,}).",
            min_length=1,
            max_length=MAX_TAGS_PER_REQUEST,
        ),
    ],
) -> list[TagInfo]:
    return scoped_tags(services, principal, tag)


QueryTag = Annotated[TagInfo, Depends(tag_param)]
QueryTags = Annotated[list[TagInfo], Depends(tags_param)]

__all__ = [
    "Admin",
    "CurrentPrincipal",
    "Engineer",
    "Operator",
    "QueryTag",
    "QueryTags",
    "ServicesDep",
    "Viewer",
    "require",
    "scoped_tag",
]
