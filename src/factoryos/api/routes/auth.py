"""People's sessions: log in for a short-lived access token and a refresh token, refresh,
log out (one session or everywhere), change one's own password.

Logins are limited per username and per client address (``LOGIN_LIMIT`` failures in
``LOGIN_WINDOW_S``: then 429 with Retry-After), and every attempt is audited.
"""

import logging

from fastapi import APIRouter, HTTPException, Request, status
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import CurrentCaller, ServicesDep
from factoryos.api.ratelimit import FailureLimiter
from factoryos.api.schemas import Login, PasswordChange, RefreshRequest, Tokens
from factoryos.api.services import Services
from factoryos.store.audit import AuditAction
from factoryos.store.users import PlatformOperator, UserInfo, UserPrincipal, principal_of

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api/auth", tags=["auth"])

LOGIN_LIMIT = 5
LOGIN_WINDOW_S = 300.0
_BAD_LOGIN = "wrong username or password, or the account is disabled"


def _limiter(request: Request) -> FailureLimiter:
    limiter: FailureLimiter | None = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        limiter = request.app.state.login_limiter = FailureLimiter(LOGIN_LIMIT, LOGIN_WINDOW_S)
    return limiter


def _tokens(services: Services, user: UserInfo) -> Tokens:
    if services.tokens is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "user login is not enabled here")
    access = services.tokens.issue(user.id, user.token_version)
    refresh = services.users.issue_refresh(user.id)
    return Tokens(access_token=access, refresh_token=refresh, expires_in=services.tokens.ttl_s)


@router.post(
    "/login",
    summary="Log in: an access token (15 min) and a refresh token",
    responses={401: {"description": _BAD_LOGIN}, 429: {"description": "too many failures"}},
)
async def login(body: Login, request: Request, services: ServicesDep) -> Tokens:
    if services.tokens is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "user login is not enabled here")
    limiter = _limiter(request)
    client = request.client.host if request.client else "unknown"
    keys = (f"user:{body.username}", f"addr:{client}")
    wait = max(limiter.retry_after(k) for k in keys)
    if wait > 0:
        raise HTTPException(
            status.HTTP_429_TOO_MANY_REQUESTS,
            f"too many failed logins; try again in {wait:.0f} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )
    user = await run_in_threadpool(services.users.check_password, body.username, body.password)
    if user is None:
        for key in keys:
            limiter.failed(key)
        log.warning("failed login for %r from %s", body.username, client)
        await record(services, AuditAction.LOGIN_FAILED, None, body.username[:64],
                     {"client": client}, actor=None)  # fmt: skip
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, _BAD_LOGIN)
    for key in keys:
        limiter.succeeded(key)
    log.info("user %r logged in from %s", user.username, client)
    await record(services, AuditAction.LOGIN, principal_of(user), user.username,
                 {"client": client})  # fmt: skip
    return await run_in_threadpool(_tokens, services, user)


@router.post("/refresh", summary="A new token pair for a refresh token (which is spent)")
async def refresh(body: RefreshRequest, services: ServicesDep) -> Tokens:
    rotated = await run_in_threadpool(services.users.rotate_refresh, body.refresh_token)
    if rotated is None or services.tokens is None:
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED, "refresh_token: invalid, expired, used or revoked"
        )
    user, new_refresh = rotated
    access = services.tokens.issue(user.id, user.token_version)
    return Tokens(access_token=access, refresh_token=new_refresh, expires_in=services.tokens.ttl_s)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT, summary="End this session")
async def logout(body: RefreshRequest, services: ServicesDep) -> None:
    await run_in_threadpool(services.users.revoke_refresh, body.refresh_token)


@router.post(
    "/logout-all",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="End every session of the calling user (all access and refresh tokens)",
)
async def logout_all(caller: CurrentCaller, services: ServicesDep) -> None:
    user = await run_in_threadpool(_user_of, services, caller)
    await run_in_threadpool(services.users.end_sessions, user.id)
    await record(services, "sessions_ended", caller, user.username)


@router.post(
    "/password",
    status_code=status.HTTP_204_NO_CONTENT,
    summary="Change one's own password (ends the user's other sessions)",
)
async def change_password(
    body: PasswordChange, caller: CurrentCaller, services: ServicesDep
) -> None:
    user = await run_in_threadpool(_user_of, services, caller)
    changed = await run_in_threadpool(
        services.users.change_own_password, user.id, body.current_password, body.new_password
    )
    if not changed:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "current_password: wrong password")
    await record(services, AuditAction.PASSWORD_CHANGED, caller, user.username)


def _user_of(services: Services, caller: object) -> UserInfo:
    """The user behind a user's token; API keys belong to no user."""
    user_id = getattr(caller, "user_id", None)
    user = (
        services.users.get(user_id)
        if isinstance(caller, UserPrincipal | PlatformOperator) and user_id
        else None
    )
    if user is None:
        raise HTTPException(status.HTTP_403_FORBIDDEN, "this needs a user's token, not an API key")
    return user
