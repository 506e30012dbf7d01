"""A bounded cache: least recently used entries go first, and every entry expires.

The resolver keeps answers here (found and not found, each with its own time to live), so
a hot handle costs a dictionary lookup. The capacity bounds memory whatever callers ask
for; the time to live bounds how stale an answer can be when the change happened somewhere
this process cannot see (another process over the same catalog, the parent node).

Safe to share between the event loop and worker threads: registration forgets entries from
a worker thread while the loop reads. The clock is injectable for tests.
"""

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


@dataclass
class CacheStats:
    """Counters since the cache was made."""

    hits: int = 0
    misses: int = 0
    expired: int = 0
    evicted: int = 0

    @property
    def hit_rate(self) -> float:
        looked = self.hits + self.misses
        return self.hits / looked if looked else 0.0


class TtlLru(Generic[K, V]):
    """At most ``capacity`` entries, each valid for the time to live it was put with."""

    def __init__(self, capacity: int, clock: Callable[[], float] = time.monotonic) -> None:
        if capacity < 1:
            raise ValueError(f"capacity: {capacity}, must be at least 1")
        self.capacity = capacity
        self.stats = CacheStats()
        self._clock = clock
        self._entries: OrderedDict[K, tuple[float, V]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: K) -> V | None:
        """The live value of ``key``, now the most recently used; None if absent or expired."""
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                self.stats.misses += 1
                return None
            if entry[0] <= self._clock():
                del self._entries[key]
                self.stats.expired += 1
                self.stats.misses += 1
                return None
            self._entries.move_to_end(key)
            self.stats.hits += 1
            return entry[1]

    def put(self, key: K, value: V, ttl_s: float) -> None:
        """Keep ``value`` for ``ttl_s`` seconds (not at all when ``ttl_s`` <= 0), dropping the
        least recently used entries beyond the capacity."""
        if ttl_s <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock() + ttl_s, value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.capacity:
                self._entries.popitem(last=False)
                self.stats.evicted += 1

    def forget(self, key: K) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


__all__ = ["CacheStats", "TtlLru"]
