"""FastAPI dependencies: services, the caller (API key or user token) checked against the
access table (authz.RULES), tenant-scoped tags.

Tenant scoping lives here and only here: a tag path is always resolved within the
caller's tenant, so another tenant's tag is a 404 exactly as if it did not exist.
"""

from typing import Annotated

from fastapi import Depends, HTTPException, Query, status
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from factoryos.api.authz import ANYONE, PLATFORM, PUBLIC, RULES, WS, Access
from factoryos.api.ratelimit import FailureLimiter
from factoryos.api.services import Services
from factoryos.store.catalog import KEY_PREFIX, Principal, Role, TagInfo
from factoryos.store.users import PlatformOperator, principal_of


def get_services(conn: HTTPConnection) -> Services:
    services: Services = conn.app.state.services
    return services


ServicesDep = Annotated[Services, Depends(get_services)]

_bearer = HTTPBearer(
    auto_error=False, description="An API key or a user's access token, as a bearer token."
)
_api_key = APIKeyHeader(name="X-API-Key", auto_error=False, description="An API key.")
_CHALLENGE = {"WWW-Authenticate": "Bearer"}
CREDENTIAL_LIMIT = 30
CREDENTIAL_WINDOW_S = 60.0
"""Invalid API keys or tokens one client address may send per window before its invalid
ones are answered 429 (valid ones from it still pass)."""

Caller = Principal | PlatformOperator


def authenticate(services: Services, credential: str) -> Caller | None:
    """The caller behind an API key (``fos_…``) or a user's access token; None when it is
    unknown, expired, revoked, or its user disabled or logged out since."""
    if credential.startswith(KEY_PREFIX):
        return services.catalog.authenticate(credential)
    if services.tokens is None:
        return None
    claims = services.tokens.check(credential)
    if claims is None:
        return None
    user = services.users.get(claims.user_id)
    if user is None or user.disabled or user.token_version != claims.token_version:
        return None
    return principal_of(user)


def admit(caller: Caller, access: Access) -> str | None:
    """Why ``caller`` may not have ``access`` (for a 403), or None when it may."""
    if access in (PUBLIC, ANYONE):
        return None
    if access is PLATFORM:
        return None if isinstance(caller, PlatformOperator) else "this needs a platform operator"
    if isinstance(caller, PlatformOperator):
        return "platform operators see no tenant's data; ask the tenant's admin for an account"
    assert isinstance(access, Role)
    if caller.role < access:
        return f"this needs the {access.label} role; {caller.key_name!r} is {caller.role.label}"
    return None


def rule_of(conn: HTTPConnection) -> Access:
    """The access the matched route needs (WebSocket routes under method WS)."""
    route = conn.scope.get("route")
    method = WS if conn.scope["type"] == "websocket" else conn.scope["method"]
    path = getattr(route, "path", "")
    if method == "HEAD":
        method = "GET"
    access = RULES.get((method, path))
    if access is None:  # create_app checks the table, so only a route added later lands here
        raise HTTPException(status.HTTP_403_FORBIDDEN, f"no access rule for {method} {path}")
    return access


def authorize(
    conn: HTTPConnection,
    services: ServicesDep,
    bearer: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> None:
    """The whole app's gate: applies the route's rule from RULES before its handler runs and
    leaves the caller in ``conn.state.caller``. WebSocket routes check after their hello
    message (browsers cannot set headers on a WebSocket), with :func:`admit`."""
    if conn.scope["type"] == "websocket":
        return
    access = rule_of(conn)
    credential = bearer.credentials if bearer is not None else api_key
    if access is PUBLIC and not credential:
        return
    if not credential:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "missing credential: send 'Authorization: Bearer <key or token>' or 'X-API-Key'",
            headers=_CHALLENGE,
        )
    caller = authenticate(services, credential)
    if caller is None:
        _count_failure(conn)
        if access is PUBLIC:
            return
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            "invalid, expired or revoked credential",
            headers=_CHALLENGE,
        )
    refused = admit(caller, access)
    if refused is not None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, refused)
    conn.state.caller = caller


def _count_failure(conn: HTTPConnection) -> None:
    """Count an invalid credential of the client's address; past the limit, answer 429.
    Valid credentials from the same address still pass: one client polling with a revoked
    key must not lock out every HMI behind the same NAT or proxy (keys and tokens are too
    long to guess, so the limit is about noise, not brute force)."""
    limiter: FailureLimiter = conn.app.state.credential_limiter
    client = conn.client.host if conn.client else "unknown"
    wait = limiter.retry_after(client)
    limiter.failed(client)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many invalid credentials from this address; try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )


def current_caller(conn: HTTPConnection) -> Caller:
    caller: Caller | None = getattr(conn.state, "caller", None)
    if caller is None:  # a handler asked for its caller on a PUBLIC route
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, "missing credential")
    return caller


def tenant_caller(caller: Annotated[Caller, Depends(current_caller)]) -> Principal:
    """The caller of a tenant route (RULES let no platform operator through to one)."""
    if not isinstance(caller, Principal):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs a tenant credential")
    return caller


def platform_caller(caller: Annotated[Caller, Depends(current_caller)]) -> PlatformOperator:
    if not isinstance(caller, PlatformOperator):
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs a platform operator")
    return caller


CurrentCaller = Annotated[Caller, Depends(current_caller)]
TenantCaller = Annotated[Principal, Depends(tenant_caller)]
PlatformCaller = Annotated[PlatformOperator, Depends(platform_caller)]


def scoped_tags(services: Services, principal: Principal, paths: list[str]) -> list[TagInfo]:
    """The caller's tags at ``paths``; any path outside its tenant is unknown."""
    return services.catalog.resolve_tags(principal.tenant_id, paths)


def scoped_tag(services: Services, principal: Principal, path: str) -> TagInfo:
    return scoped_tags(services, principal, [path])[0]


def tag_param(
    services: ServicesDep,
    principal: TenantCaller,
    tag: Annotated[str, Query(description="UNS path of the tag.", max_length=400)],
) -> TagInfo:
    return scoped_tag(services, principal, tag)


MAX_TAGS_PER_REQUEST = 10_000  # beyond this a request is refused, not run


def tags_param(
    services: ServicesDep,
    principal: TenantCaller,
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
    "Caller",
    "CurrentCaller",
    "PlatformCaller",
    "QueryTag",
    "QueryTags",
    "ServicesDep",
    "TenantCaller",
    "authenticate",
    "authorize",
    "scoped_tag",
]
