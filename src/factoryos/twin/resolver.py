"""Resolution: a handle → its record, from the cache, this node's registry, or the parent.

1. The handle is parsed (a malformed one is refused before any lookup).
2. The cache answers what it holds: found answers for ``ttl_s``, not-found answers for the
   shorter ``negative_ttl_s`` (an identifier registered a moment later shows up soon).
3. Otherwise the registry is asked (in a worker thread: the catalog is synchronous). A handle
   under a prefix this node serves is answered here, found or not.
4. A handle under a prefix it does not serve goes to the parent node when one is configured;
   without one it is not found. The parent's answer is cached like a local one.

Concurrent requests for one uncached handle share one lookup, so a hot handle whose entry
just expired costs one read (or one forward), not one per waiting request. Registration on
this node forgets the handle's entry at once; a lookup that was under way when it did is
not cached, so it cannot put the old record back. Changes this process cannot see (another
API process over the same catalog, the parent) show within the time to live.

Resolution is the same for every caller (the record is what its owner published), which is
why one cache serves all tenants.
"""

import asyncio
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from anyio import to_thread

from factoryos.store.identifier_registry import Lookup
from factoryos.twin.answers import Missing, Outcome, Resolution, resolution_of
from factoryos.twin.cache import TtlLru
from factoryos.twin.config import ResolverConfig
from factoryos.twin.errors import NotFoundError, TwinError
from factoryos.twin.handles import Handle, parse_handle
from factoryos.twin.parent import Parent

NO_IDENTIFIER = "no such identifier"
NOT_SERVED = "no node serves its prefix"


class LocalRegistry(Protocol):
    """This node's identifiers (the registry, or a test's fake)."""

    def lookup(self, handle: Handle) -> Lookup: ...


@dataclass
class ResolverStats:
    """Where answers came from, since the resolver was made."""

    resolutions: int = 0
    from_cache: int = 0
    local: int = 0
    forwarded: int = 0
    not_found: int = 0


class Resolver:
    """The node's resolver; one per node (process), shared by every request."""

    def __init__(
        self,
        registry: LocalRegistry,
        config: ResolverConfig,
        parent: Parent | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.node = config.node
        self.parent = parent
        self.stats = ResolverStats()
        self._registry = registry
        self._ttl_s = config.ttl_s
        self._negative_ttl_s = config.negative_ttl_s
        self._cache: TtlLru[str, Outcome] = TtlLru(config.cache_size, clock)
        self._inflight: dict[tuple[str, int], asyncio.Future[Outcome]] = {}  # <= waiting requests
        self._epoch = 0  # bumped by every forget: lookups begun before do not cache

    @property
    def cache(self) -> TtlLru[str, Outcome]:
        return self._cache

    async def resolve(self, text: str, hops: int = 0) -> Resolution:
        """The answer for handle ``text``; :class:`NotFoundError` when there is none,
        :class:`HandleError` when ``text`` is no handle, :class:`ParentError` when the
        parent was needed and failed. ``hops``: forwards that led to this node."""
        handle = parse_handle(text)
        key = str(handle)
        self.stats.resolutions += 1
        outcome = self._cache.get(key)
        if outcome is not None:
            self.stats.from_cache += 1
        else:
            outcome = await self._shared_lookup(handle, key, hops)
        if isinstance(outcome, Missing):
            self.stats.not_found += 1
            raise NotFoundError(key, outcome.node, outcome.reason)
        return outcome

    async def resolve_many(
        self, texts: Sequence[str], hops: int = 0
    ) -> list[Resolution | TwinError]:
        """Each of ``texts`` resolved, concurrently, in order: its answer or the refusal
        :meth:`resolve` would raise for it (one bad handle does not spoil the others)."""

        async def one(text: str) -> Resolution | TwinError:
            try:
                return await self.resolve(text, hops)
            except TwinError as exc:
                return exc

        return list(await asyncio.gather(*(one(text) for text in texts)))

    def forget(self, handle: str) -> None:
        """Drop ``handle``'s answer (it was just registered or changed here)."""
        self._epoch += 1
        self._cache.forget(handle)

    def clear(self) -> None:
        """Drop every answer (a prefix was allocated here: what it serves changed)."""
        self._epoch += 1
        self._cache.clear()

    async def _shared_lookup(self, handle: Handle, key: str, hops: int) -> Outcome:
        # Shared per hop count too: a request that came back round a loop of misconfigured
        # parents must not wait for the lookup that sent it (it would wait for itself).
        slot = (key, hops)
        pending = self._inflight.get(slot)
        if pending is None:
            pending = asyncio.ensure_future(self._lookup(handle, key, hops))
            self._inflight[slot] = pending
            pending.add_done_callback(lambda done: self._settled(slot, done))
        # shield: one waiter giving up (a client hanging up) does not cancel the others'
        return await asyncio.shield(pending)

    def _settled(self, slot: tuple[str, int], done: "asyncio.Future[Outcome]") -> None:
        self._inflight.pop(slot, None)
        if not done.cancelled():
            done.exception()  # retrieved: no "never retrieved" warning if every waiter left

    async def _lookup(self, handle: Handle, key: str, hops: int) -> Outcome:
        epoch = self._epoch
        outcome = await to_thread.run_sync(self._local, handle)
        if outcome is None:
            assert self.parent is not None  # _local answers when there is no parent
            outcome = await self.parent.resolve(key, hops)
            self.stats.forwarded += 1
        else:
            self.stats.local += 1
        if epoch == self._epoch:
            found = isinstance(outcome, Resolution)
            ttl = self._ttl_s if found else self._negative_ttl_s
            self._cache.put(key, _as_cached(outcome), ttl)
        return outcome

    def _local(self, handle: Handle) -> Outcome | None:
        """This node's answer, or None: ask the parent. Runs in a worker thread."""
        local = self._registry.lookup(handle)
        if local.found is not None:
            return resolution_of(local.found, self.node)
        if local.served:
            return Missing(str(handle), self.node, NO_IDENTIFIER)
        if self.parent is None:
            return Missing(str(handle), self.node, NOT_SERVED)
        return None


def _as_cached(outcome: Outcome) -> Outcome:
    """The form a cache hit returns, made once when cached rather than once per hit."""
    if isinstance(outcome, Resolution):
        return outcome.model_copy(update={"cached": True})
    return outcome


__all__ = ["NOT_SERVED", "NO_IDENTIFIER", "LocalRegistry", "Resolver", "ResolverStats"]
