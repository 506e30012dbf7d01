"""Webhook signatures: HMAC-SHA256 over ``f"{timestamp}.".encode() + body``.

The header reads ``X-FactoryOS-Signature: t=<unix seconds>,v1=<hex digest>``. The
timestamp is signed too, so a captured request cannot be replayed outside the window
the receiver allows.
"""

import hashlib
import hmac

from factoryos.apps.notify.errors import SignatureError

SIGNATURE_HEADER = "X-FactoryOS-Signature"
EVENT_ID_HEADER = "X-FactoryOS-Event-Id"
MAX_HEADER = 1024


def _digest(secret: bytes, timestamp: int, body: bytes) -> str:
    return hmac.new(secret, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()


def sign(secret: bytes, body: bytes, timestamp: int) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (unix seconds)."""
    return f"t={timestamp},v1={_digest(secret, timestamp, body)}"


def _parse(header: str) -> tuple[int, list[str]]:
    if len(header) > MAX_HEADER:
        raise SignatureError(f"signature header longer than {MAX_HEADER} characters")
    timestamp: int | None = None
    digests = []
    for item in header.split(","):
        name, sep, value = item.strip().partition("=")
        if not sep:
            raise SignatureError(f"signature header item {item!r} is not name=value")
        if name == "t" and value.isdigit():
            timestamp = int(value)
        elif name == "v1":
            digests.append(value)
    if timestamp is None or not digests:
        raise SignatureError("signature header needs t=<unix seconds> and v1=<hex>")
    return timestamp, digests


def verify_signature(
    secret: bytes, header: str, body: bytes, now: float, tolerance_s: float = 300.0
) -> int:
    """Check a received webhook; return its signed timestamp.

    ``now`` is the receiver's clock in unix seconds; a timestamp more than ``tolerance_s``
    away from it is refused (a replay). Digests are compared in constant time. Several
    ``v1=`` items are accepted (one matching is enough), so a sender may sign with an old
    and a new secret while the secret is rotated.

    Raises :class:`SignatureError` saying which check failed.
    """
    timestamp, digests = _parse(header)
    if abs(now - timestamp) > tolerance_s:
        raise SignatureError(
            f"signature timestamp {timestamp} is {abs(now - timestamp):.0f} s from now "
            f"(tolerance {tolerance_s:.0f} s)"
        )
    expected = _digest(secret, timestamp, body)
    if not any(hmac.compare_digest(expected.encode(), d.encode(errors="replace")) for d in digests):
        raise SignatureError("signature does not match the body")
    return timestamp
