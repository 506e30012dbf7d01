"""The broker users' secrets, kept in a JSON file (mode 0600) next to the generated broker
files, so a re-run keeps every password that devices already use.

``{"format": "factoryos-broker-secrets/1", "users": {"<user>": "<password>", …}}``

A user that is new gets a fresh secret (256 random bits, URL-safe base64); ``rotate`` names
users whose secret is replaced; a user no longer derived from the site loses its secret,
which is what revokes it.
"""

import json
import secrets
from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from factoryos.security.errors import BrokerConfigError
from factoryos.security.files import PRIVATE, read_generated, write_file

FORMAT = "factoryos-broker-secrets/1"


class Status(StrEnum):
    NEW = "new"
    ROTATED = "rotated"
    KEPT = "kept"


@dataclass(frozen=True)
class Credential:
    user: str
    password: str
    status: Status


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def _decode(text: str, path: Path) -> dict[str, str]:
    try:
        doc = json.loads(text)
    except ValueError as exc:
        raise BrokerConfigError(f"{path}: not JSON ({exc})") from exc
    users = doc.get("users") if isinstance(doc, dict) else None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT or not isinstance(users, dict):
        raise BrokerConfigError(f"{path}: not a secrets file of format {FORMAT}")
    bad = [u for u, p in users.items() if not isinstance(p, str) or not p]
    if bad:
        raise BrokerConfigError(f"{path}: users.{bad[0]}: the password must be a non-empty string")
    return users


def load(path: Path) -> dict[str, str]:
    """user → password of a secrets file; empty when there is none yet."""
    try:
        data = read_generated(path)
    except OSError as exc:
        raise BrokerConfigError(f"cannot read {path}: {exc.strerror}") from exc
    if data is None:
        return {}
    try:
        return _decode(data.decode(), path)
    except UnicodeDecodeError as exc:
        raise BrokerConfigError(f"{path}: not UTF-8 text") from exc


def reconcile(
    users: Sequence[str],
    known: Mapping[str, str],
    rotate: Collection[str] = (),
    make: Callable[[], str] = new_secret,
) -> list[Credential]:
    """One credential per user, in order: the known secret, or a new one when the user is new
    or named in ``rotate`` (which must name users)."""
    unknown = sorted(set(rotate) - set(users))
    if unknown:
        raise BrokerConfigError(
            f"--rotate {unknown[0]}: no broker user of that name (users: {', '.join(users)})"
        )
    found = []
    for user in users:
        if user in rotate:
            found.append(Credential(user, make(), Status.ROTATED))
        elif user in known:
            found.append(Credential(user, known[user], Status.KEPT))
        else:
            found.append(Credential(user, make(), Status.NEW))
    return found


def save(path: Path, credentials: Sequence[Credential]) -> None:
    doc = {"format": FORMAT, "users": {c.user: c.password for c in credentials}}
    try:
        write_file(path, (json.dumps(doc, indent=2) + "\n").encode(), PRIVATE, overwrite=True)
    except OSError as exc:
        raise BrokerConfigError(f"cannot write {path}: {exc.strerror}") from exc
