"""Mosquitto 2 password files: ``user:$7$<iterations>$<salt b64>$<hash b64>``.

``$7$`` is PBKDF2-HMAC-SHA512 over the password with the raw salt bytes (12 of them, as
``mosquitto_passwd`` makes) giving a 64-byte hash, both base64 with padding. Mosquitto reads
the iteration count from each line. Our secrets are 256 random bits, so no dictionary can
guess them and the count only has to be what Mosquitto expects; we keep ``mosquitto_passwd``'s
own default, 101, because the broker runs this hash on every CONNECT on its single thread.
"""

import base64
import hashlib
import hmac
import os
import re

ITERATIONS = 101
MAX_ITERATIONS = 1_000_000  # bounds the work a crafted line can cost us
SALT_BYTES = 12
_LINE_RE = re.compile(r"^\$7\$(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$")


def _pbkdf2(password: str, salt: bytes, iterations: int) -> bytes:
    return hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations)


def hash_password(password: str, *, salt: bytes | None = None, iterations: int = ITERATIONS) -> str:
    """The ``$7$…`` hash of ``password`` (a fresh random salt unless one is given)."""
    salt = salt if salt is not None else os.urandom(SALT_BYTES)
    digest = _pbkdf2(password, salt, iterations)
    return f"$7${iterations}${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def verify(password: str, hashed: str) -> bool:
    """Whether ``hashed`` (a ``$7$`` hash) is the hash of ``password``; False for other formats."""
    match = _LINE_RE.match(hashed)
    if match is None:
        return False
    iterations, salt, digest = match.groups()
    if int(iterations) > MAX_ITERATIONS:
        return False
    try:
        expected = base64.b64decode(digest, validate=True)
        got = _pbkdf2(password, base64.b64decode(salt, validate=True), int(iterations))
    except ValueError:  # binascii.Error is a ValueError
        return False
    return hmac.compare_digest(got, expected)


def parse(text: str) -> dict[str, str]:
    """user → hash of a password file's lines (blank lines and ``#`` comments skipped)."""
    users: dict[str, str] = {}
    for line in text.splitlines():
        if line.strip() and not line.startswith("#") and ":" in line:
            user, hashed = line.split(":", 1)
            users[user] = hashed
    return users


def render(hashes: dict[str, str]) -> str:
    """A password file of user → hash, in the order given."""
    return "".join(f"{user}:{hashed}\n" for user, hashed in hashes.items())
