"""The resolver's settings, read from ``FACTORYOS_RESOLVER_*`` environment variables.

=====================================  =======================================  =========
variable                               meaning                                  default
=====================================  =======================================  =========
``FACTORYOS_RESOLVER_NODE``            this node's name, in every answer        host name
``FACTORYOS_RESOLVER_PARENT_URL``      the parent node (``https://host:8000``)  none
``FACTORYOS_RESOLVER_PARENT_KEY``      an API key of the parent node            none
``FACTORYOS_RESOLVER_TIMEOUT_S``       one request to the parent, seconds       2
``FACTORYOS_RESOLVER_ATTEMPTS``        tries per forward (connect failures)     2
``FACTORYOS_RESOLVER_CACHE_SIZE``      answers kept in memory                   20000
``FACTORYOS_RESOLVER_TTL_S``           how long a found answer is kept          60
``FACTORYOS_RESOLVER_NEGATIVE_TTL_S``  how long a not-found answer is kept      5
=====================================  =======================================  =========

Without a parent URL the node answers only for its own prefixes (a root node).
"""

import socket
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TypeVar
from urllib.parse import urlsplit

from factoryos.twin.errors import ResolverConfigError

ENV = "FACTORYOS_RESOLVER_"
T = TypeVar("T", int, float)


@dataclass(frozen=True, slots=True)
class ResolverConfig:
    node: str = "local"
    parent_url: str | None = None
    parent_key: str | None = None
    timeout_s: float = 2.0
    attempts: int = 2
    cache_size: int = 20_000
    ttl_s: float = 60.0
    negative_ttl_s: float = 5.0

    def __post_init__(self) -> None:
        _check_range("NODE length", len(self.node), 1, 64)
        _check_range("TIMEOUT_S", self.timeout_s, 0.05, 60.0)
        _check_range("ATTEMPTS", self.attempts, 1, 5)
        _check_range("CACHE_SIZE", self.cache_size, 1, 10_000_000)
        _check_range("TTL_S", self.ttl_s, 0.0, 86_400.0)
        _check_range("NEGATIVE_TTL_S", self.negative_ttl_s, 0.0, 86_400.0)
        if self.parent_url is not None:
            _check_url(self.parent_url)

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> "ResolverConfig":
        """The settings in ``env`` (``os.environ``); :class:`ResolverConfigError` naming the
        variable when one cannot be used."""
        defaults = cls()
        return cls(
            node=env.get(f"{ENV}NODE") or socket.gethostname() or defaults.node,
            parent_url=(env.get(f"{ENV}PARENT_URL") or "").rstrip("/") or None,
            parent_key=env.get(f"{ENV}PARENT_KEY") or None,
            timeout_s=_number(env, "TIMEOUT_S", float, defaults.timeout_s),
            attempts=_number(env, "ATTEMPTS", int, defaults.attempts),
            cache_size=_number(env, "CACHE_SIZE", int, defaults.cache_size),
            ttl_s=_number(env, "TTL_S", float, defaults.ttl_s),
            negative_ttl_s=_number(env, "NEGATIVE_TTL_S", float, defaults.negative_ttl_s),
        )


def _number(env: Mapping[str, str], name: str, kind: Callable[[str], T], default: T) -> T:
    text = env.get(ENV + name)
    if not text:
        return default
    try:
        return kind(text)
    except ValueError as exc:
        raise ResolverConfigError(f"{ENV}{name}: {text[:40]!r} is not a number") from exc


def _check_range(name: str, value: float, low: float, high: float) -> None:
    if not low <= value <= high:
        raise ResolverConfigError(f"{ENV}{name}: {value} is not {low:g} to {high:g}")


def _check_url(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ResolverConfigError(
            f"{ENV}PARENT_URL: {url[:80]!r} is not an http(s)://host[:port] URL"
        )
    if parts.query or parts.fragment or parts.username:
        raise ResolverConfigError(f"{ENV}PARENT_URL: no query, fragment or user in it")


__all__ = ["ResolverConfig"]
