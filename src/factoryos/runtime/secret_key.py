"""The secret that signs users' access tokens: from ``FACTORYOS_SECRET_KEY`` or the file
``FACTORYOS_SECRET_KEY_FILE`` (a mounted secret); the demo makes one in its data directory.

A server refuses to start without one, or with one that is short or a well-known default:
anyone who knows the secret can mint a token for any user.
"""

import os
from pathlib import Path

from factoryos.api.tokens import MIN_SECRET_BYTES, new_secret
from factoryos.errors import FactoryOSError

KNOWN_DEFAULTS = frozenset(
    {"", "changeme", "change-me", "secret", "default", "password", "factoryos", "please-change"}
)
MAX_FILE_BYTES = 4096
DEMO_FILE = "secret.key"


class SecretKeyError(FactoryOSError):
    """No usable token secret: the message says what to set."""


def server_secret(value: str | None, file: Path | None) -> str:
    """The configured secret of a server; refuses none, a short one or a default."""
    if value is None and file is not None:
        value = _read(file)
    if value is None:
        raise SecretKeyError(
            "no secret key to sign user tokens: set FACTORYOS_SECRET_KEY or"
            " FACTORYOS_SECRET_KEY_FILE (e.g. `python -c 'import secrets;"
            " print(secrets.token_urlsafe(48))'`)"
        )
    if value.strip().lower() in KNOWN_DEFAULTS or len(value.encode()) < MIN_SECRET_BYTES:
        raise SecretKeyError(
            f"the secret key is a default or under {MIN_SECRET_BYTES} bytes; set a random one"
        )
    return value


def demo_secret(data_dir: Path) -> str:
    """The demo's secret in ``data_dir/secret.key``, made on first use (owner-only file)."""
    path = data_dir / DEMO_FILE
    if path.exists():
        return server_secret(None, path)
    secret = new_secret()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as out:
        out.write(secret + "\n")
    return secret


def _read(file: Path) -> str:
    try:
        with file.open("rb") as f:
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise SecretKeyError(f"secret key file {file}: {exc.strerror}") from exc
    if len(data) > MAX_FILE_BYTES:
        raise SecretKeyError(f"secret key file {file}: larger than {MAX_FILE_BYTES} bytes")
    return data.decode("utf-8", errors="strict").strip()
