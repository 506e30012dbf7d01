"""De-duplication of (key, channel) pairs within a window, in bounded memory (pure: the
caller passes the time)."""

import heapq

from factoryos.apps.notify.errors import NotifyError

_Pair = tuple[str, str]


class Deduplicator:
    """Remembers each admitted (key, channel) until its window ends.

    At most ``max_keys`` pairs are remembered: expired pairs are purged first, and when
    the cap is still reached the pair closest to expiry is forgotten (its next repeat is
    then sent; :attr:`evicted` counts how often that happened).
    """

    def __init__(self, max_keys: int) -> None:
        if max_keys < 1:
            raise NotifyError(f"de-duplication: max_keys must be at least 1, not {max_keys}")
        self.max_keys = max_keys
        self.evicted = 0
        self._until: dict[_Pair, int] = {}
        # One heap entry per remembered pair: admit only adds a pair that is not remembered.
        self._expiry: list[tuple[int, _Pair]] = []

    def __len__(self) -> int:
        return len(self._until)

    def admit(self, key: str, channel: str, now_ns: int, window_ns: int) -> bool:
        """True if the pair is to be sent now (and is then remembered for ``window_ns``);
        False if it was admitted less than its window ago."""
        self._purge(now_ns)
        pair = (key, channel)
        if pair in self._until:
            return False
        if window_ns <= 0:
            return True
        if len(self._until) >= self.max_keys:
            _, oldest = heapq.heappop(self._expiry)
            del self._until[oldest]
            self.evicted += 1
        self._until[pair] = now_ns + window_ns
        heapq.heappush(self._expiry, (now_ns + window_ns, pair))
        return True

    def _purge(self, now_ns: int) -> None:
        while self._expiry and self._expiry[0][0] <= now_ns:
            _, pair = heapq.heappop(self._expiry)
            del self._until[pair]
