"""Short-lived access tokens for people: JWT, HS256, signed with the server's secret key.

A token carries the user id, the user's token version (see store/users.py: moving it on
revokes every older token) and a 15-minute expiry. Decoding pins the algorithm, requires
every claim and checks the type, so a token of another kind, an unsigned ("alg": "none")
or re-signed token, or an expired one is refused.
"""

import secrets
import time
from dataclasses import dataclass

import jwt

from factoryos.errors import FactoryOSError

ALGORITHM = "HS256"
ACCESS_TTL_S = 15 * 60
MIN_SECRET_BYTES = 32
ISSUER = "factoryos"
_REQUIRED = ["sub", "ver", "exp", "iat", "iss", "typ", "jti"]


class TokenConfigError(FactoryOSError):
    """The server's token secret is missing or too weak."""


@dataclass(frozen=True)
class AccessClaims:
    user_id: int
    token_version: int
    expires_at: int


class TokenIssuer:
    """Issues and checks access tokens with one secret key."""

    def __init__(self, secret: str, ttl_s: int = ACCESS_TTL_S) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise TokenConfigError(
                f"secret key: at least {MIN_SECRET_BYTES} bytes are needed to sign tokens"
                " (set FACTORYOS_SECRET_KEY or FACTORYOS_SECRET_KEY_FILE)"
            )
        self._secret = secret
        self.ttl_s = ttl_s

    def issue(self, user_id: int, token_version: int) -> str:
        now = int(time.time())
        claims = {
            "sub": str(user_id),
            "ver": token_version,
            "iat": now,
            "exp": now + self.ttl_s,
            "iss": ISSUER,
            "typ": "access",
            "jti": secrets.token_hex(8),
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def check(self, token: str) -> AccessClaims | None:
        """The claims of a valid access token; None for anything else."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                issuer=ISSUER,
                options={"require": _REQUIRED},
            )
            if claims["typ"] != "access":
                return None
            return AccessClaims(int(claims["sub"]), int(claims["ver"]), int(claims["exp"]))
        except (jwt.PyJWTError, ValueError, TypeError):
            return None


def new_secret() -> str:
    """A fresh random secret key (for the demo's data directory)."""
    return secrets.token_urlsafe(48)
