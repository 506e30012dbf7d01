"""People: users with argon2id passwords and refresh tokens, in the catalog database.

A user belongs to one tenant with one role (viewer < operator < engineer < admin), or is a
**platform operator**: no tenant, manages tenants, and sees no tenant's data (an operator
who needs a tenant's data gets an account in that tenant from its admin).

Access tokens are short-lived and signed (api/tokens.py); what makes them revocable is
``token_version``: a token names the version it was issued under, and a password change,
"log out everywhere" or disabling the user moves the version on, so every older token
fails at once. Refresh tokens are random, stored as SHA-256, single use: refreshing
rotates them, and presenting a used one again (a stolen copy) revokes its whole family.
"""

import hashlib
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Boolean, ForeignKey, Integer, String, select, update
from sqlalchemy.orm import Mapped, Session, mapped_column

from factoryos.store.catalog import (
    Base,
    Catalog,
    CatalogInputError,
    Principal,
    Role,
    TenantRow,
    _UTCDateTime,
)

log = logging.getLogger(__name__)

MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 256  # argon2 takes any length; this bounds the work per request
REFRESH_PREFIX = "fosr_"
REFRESH_TTL = timedelta(days=14)
USERNAME_PATTERN = r"^[A-Za-z0-9_.@-]{1,64}$"
_HASHER = PasswordHasher()  # argon2id with the library's (RFC 9106 low-memory) parameters
_DUMMY_HASH = _HASHER.hash("an unknown user still costs one verification")


class UserRow(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(256))
    role: Mapped[int] = mapped_column(Integer)
    platform: Mapped[bool] = mapped_column(Boolean, default=False)
    disabled: Mapped[bool] = mapped_column(Boolean, default=False)
    token_version: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime)


class RefreshTokenRow(Base):
    __tablename__ = "refresh_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    family: Mapped[str] = mapped_column(String(32), index=True)
    expires_at: Mapped[datetime] = mapped_column(_UTCDateTime)
    used: Mapped[bool] = mapped_column(Boolean, default=False)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


@dataclass(frozen=True)
class UserInfo:
    """A user without the password hash."""

    id: int
    username: str
    tenant_id: int | None
    tenant: str | None
    role: Role
    platform: bool
    disabled: bool
    token_version: int


@dataclass(frozen=True)
class PlatformOperator:
    """A platform operator calling: manages tenants, reads no tenant's data."""

    user_id: int
    username: str


@dataclass(frozen=True)
class UserPrincipal(Principal):
    """A tenant's user calling (an API key is a plain Principal)."""

    user_id: int = 0


def principal_of(user: UserInfo) -> UserPrincipal | PlatformOperator:
    if user.platform or user.tenant_id is None or user.tenant is None:
        return PlatformOperator(user.id, user.username)
    return UserPrincipal(user.tenant_id, user.tenant, user.role, f"user {user.username}", user.id)


class Users:
    """User accounts and refresh tokens of a catalog. Synchronous, like the catalog."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    # -- accounts ----------------------------------------------------------------------

    def create(
        self, username: str, password: str, *, tenant: str | None, role: Role = Role.VIEWER
    ) -> UserInfo:
        """A new user of ``tenant`` (created if new) with ``role``; ``tenant`` None makes a
        platform operator. Refuses a taken username or a weak password (CatalogInputError)."""
        _check_username(username)
        password_hash = _hash(password)
        with self._catalog._write() as s:
            if s.scalar(select(UserRow.id).where(UserRow.username == username)) is not None:
                raise CatalogInputError(f"username: {username!r} is taken")
            tenant_id = None if tenant is None else self._catalog._tenant_id(s, tenant, create=True)
            row = UserRow(
                tenant_id=tenant_id,
                username=username,
                password_hash=password_hash,
                role=int(Role(role)),
                platform=tenant is None,
                disabled=False,
                token_version=1,
                created_at=datetime.now(UTC),
            )
            s.add(row)
            s.flush()
            user_id = row.id
        log.info("created user %r (%s)", username, tenant or "platform operator")
        found = self.get(user_id)
        assert found is not None
        return found

    def get(self, user_id: int) -> UserInfo | None:
        with self._catalog._read() as s:
            row = s.get(UserRow, user_id)
            return None if row is None else _info(s, row)

    def tenants(self) -> list[tuple[int, str]]:
        """(id, name) of every tenant, for platform operators."""
        with self._catalog._read() as s:
            rows = s.execute(select(TenantRow.id, TenantRow.name).order_by(TenantRow.id)).all()
            return [(int(r[0]), str(r[1])) for r in rows]

    def in_tenant(self, tenant_id: int) -> list[UserInfo]:
        with self._catalog._read() as s:
            rows = s.scalars(
                select(UserRow).where(UserRow.tenant_id == tenant_id).order_by(UserRow.id)
            ).all()
            return [_info(s, r) for r in rows]

    def check_password(self, username: str, password: str) -> UserInfo | None:
        """The user if ``password`` is theirs and they are enabled; None otherwise, after the
        same argon2 work whether or not the user exists (no user enumeration by timing)."""
        if len(password) > MAX_PASSWORD_LENGTH:
            return None
        with self._catalog._read() as s:
            row = s.scalar(select(UserRow).where(UserRow.username == username))
            stored = _DUMMY_HASH if row is None else row.password_hash
            ok = _verify(stored, password)
            if row is None or not ok or row.disabled:
                return None
            return _info(s, row)

    def update(
        self,
        tenant_id: int,
        user_id: int,
        *,
        role: Role | None = None,
        disabled: bool | None = None,
        password: str | None = None,
    ) -> UserInfo | None:
        """Change a user of ``tenant_id``; None when the tenant has no such user. A new
        password or disabling ends every session of the user."""
        password_hash = None if password is None else _hash(password)
        with self._catalog._write() as s:
            row = s.scalar(
                select(UserRow).where(UserRow.id == user_id, UserRow.tenant_id == tenant_id)
            )
            if row is None:
                return None
            if role is not None:
                row.role = int(Role(role))
            if disabled is not None:
                row.disabled = disabled
            if password_hash is not None:
                row.password_hash = password_hash
            if password_hash is not None or disabled or role is not None:
                _end_sessions(s, row)
        return self.get(user_id)

    def change_own_password(self, user_id: int, current: str, new: str) -> bool:
        """The user's own change, proven with the current password; ends other sessions."""
        user = self.get(user_id)
        if user is None or self.check_password(user.username, current) is None:
            return False
        new_hash = _hash(new)
        with self._catalog._write() as s:
            row = s.get(UserRow, user_id)
            if row is None:
                return False
            row.password_hash = new_hash
            _end_sessions(s, row)
        return True

    def end_sessions(self, user_id: int) -> None:
        """Log out everywhere: every access and refresh token of the user stops working."""
        with self._catalog._write() as s:
            row = s.get(UserRow, user_id)
            if row is not None:
                _end_sessions(s, row)

    # -- refresh tokens ----------------------------------------------------------------

    def issue_refresh(self, user_id: int, *, family: str | None = None) -> str:
        token = REFRESH_PREFIX + secrets.token_urlsafe(32)
        with self._catalog._write() as s:
            s.add(
                RefreshTokenRow(
                    user_id=user_id,
                    token_hash=_digest(token),
                    family=family or secrets.token_hex(16),
                    expires_at=datetime.now(UTC) + REFRESH_TTL,
                    used=False,
                    revoked=False,
                )
            )
        return token

    def rotate_refresh(self, token: str) -> tuple[UserInfo, str] | None:
        """Spend ``token`` for a new one of the same family; None if it is unknown, expired,
        revoked or its user disabled. A token spent twice revokes its family."""
        if not token.startswith(REFRESH_PREFIX) or len(token) > 128:
            return None
        with self._catalog._write() as s:
            row = s.scalar(
                select(RefreshTokenRow).where(RefreshTokenRow.token_hash == _digest(token))
            )
            if row is None or row.revoked:
                return None
            if row.used:
                log.warning(
                    "refresh token of user %d used twice: its family is revoked", row.user_id
                )
                _revoke_family(s, row.family)
                return None
            if row.expires_at <= datetime.now(UTC):
                return None
            user = s.get(UserRow, row.user_id)
            if user is None or user.disabled:
                return None
            row.used = True
            family, user_id = row.family, row.user_id
        return self._valid(user_id, family)

    def _valid(self, user_id: int, family: str) -> tuple[UserInfo, str] | None:
        user = self.get(user_id)
        if user is None:
            return None
        return user, self.issue_refresh(user_id, family=family)

    def revoke_refresh(self, token: str) -> None:
        """Log out one session: its refresh token family stops working."""
        with self._catalog._write() as s:
            row = s.scalar(
                select(RefreshTokenRow).where(RefreshTokenRow.token_hash == _digest(token))
            )
            if row is not None:
                _revoke_family(s, row.family)


def _check_username(username: str) -> None:
    if not re.fullmatch(USERNAME_PATTERN, username):
        raise CatalogInputError(f"username: {username!r} must be 1-64 letters, digits or _ . @ -")


def _hash(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise CatalogInputError(
            f"password: use {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters"
        )
    return _HASHER.hash(password)


def _verify(stored: str, password: str) -> bool:
    try:
        return _HASHER.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _refresh_row(s: Session, token: str) -> RefreshTokenRow | None:
    return s.scalar(select(RefreshTokenRow).where(RefreshTokenRow.token_hash == _digest(token)))


def _end_sessions(s: Session, row: UserRow) -> None:
    row.token_version += 1
    s.execute(update(RefreshTokenRow).where(RefreshTokenRow.user_id == row.id).values(revoked=True))


def _revoke_family(s: Session, family: str) -> None:
    s.execute(update(RefreshTokenRow).where(RefreshTokenRow.family == family).values(revoked=True))


def _info(s: Session, row: UserRow) -> UserInfo:
    tenant = None if row.tenant_id is None else s.get(TenantRow, row.tenant_id)
    return UserInfo(
        id=row.id,
        username=row.username,
        tenant_id=row.tenant_id,
        tenant=None if tenant is None else tenant.name,
        role=Role(row.role),
        platform=row.platform,
        disabled=row.disabled,
        token_version=row.token_version,
    )
