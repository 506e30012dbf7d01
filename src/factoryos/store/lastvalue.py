"""The last-value cache: the newest sample of every tag, in numpy arrays indexed by tag id."""

import numpy as np
import numpy.typing as npt

from factoryos.model.samples import SampleBatch

NEVER = np.iinfo(np.int64).min
"""The timestamp of a tag that has no sample."""


class LastValueCache:
    """Newest (ts, value, quality) per tag id. A newer ts wins; an equal or older one does
    not overwrite (late and replayed samples leave the cache alone).

    Not thread-safe: its owner serialises updates (the store does so under its write lock).
    """

    def __init__(self, capacity: int = 1024) -> None:
        self._ts = np.full(capacity, NEVER, dtype=np.int64)
        self._values = np.zeros(capacity, dtype=np.float64)
        self._quality = np.zeros(capacity, dtype=np.uint8)

    def __len__(self) -> int:
        """How many tags have a value."""
        return int(np.count_nonzero(self._ts != NEVER))

    def newest_ts(self) -> int:
        """The newest ts of any tag (NEVER when empty)."""
        return int(self._ts.max())

    def latest_ts(self, tag_ids: npt.NDArray[np.int32]) -> npt.NDArray[np.int64]:
        """The newest ts of each tag id (NEVER for tags without a sample); ids must be >= 0."""
        if len(tag_ids) == 0:
            return np.empty(0, dtype=np.int64)
        self._grow(int(tag_ids.max()) + 1)
        return self._ts[tag_ids]

    def update(self, batch: SampleBatch) -> None:
        """Take the newest sample per tag from ``batch`` where it is newer than the cache.

        Tag ids must be >= 0. Among samples of one tag with the same newest ts, the first wins.
        """
        if len(batch) == 0:
            return
        ids, ts = batch.tag_ids, batch.ts
        self._grow(int(ids.max()) + 1)
        newest = self._ts.copy()
        np.maximum.at(newest, ids, ts)
        wins = np.flatnonzero((ts == newest[ids]) & (ts > self._ts[ids]))
        if len(wins) == 0:
            return
        _, first = np.unique(ids[wins], return_index=True)
        rows = wins[first]
        tags = ids[rows]
        self._ts[tags] = ts[rows]
        self._values[tags] = batch.values[rows]
        self._quality[tags] = batch.quality[rows]

    def update_fresh(self, batch: SampleBatch) -> None:
        """`update` for a batch known to be newer than the cache for every sample and in
        strictly increasing ts per tag (what the store's fast write path checks): the last
        sample of each tag wins, with no comparisons."""
        if len(batch) == 0:
            return
        ids = batch.tag_ids
        self._grow(int(ids.max()) + 1)
        last = np.full(len(self._ts), -1, dtype=np.int64)
        np.maximum.at(last, ids, np.arange(len(ids), dtype=np.int64))
        rows = last[last >= 0]
        tags = ids[rows]
        self._ts[tags] = batch.ts[rows]
        self._values[tags] = batch.values[rows]
        self._quality[tags] = batch.quality[rows]

    def get(self, tag_ids: npt.ArrayLike) -> SampleBatch:
        """The last sample of each requested tag, in request order; tags never seen are omitted."""
        ids = np.asarray(tag_ids, dtype=np.int32)
        ids = ids[(ids >= 0) & (ids < len(self._ts))]
        ids = ids[self._ts[ids] != NEVER]
        return SampleBatch(ids, self._ts[ids], self._values[ids], self._quality[ids])

    def _grow(self, size: int) -> None:
        if size <= len(self._ts):
            return
        capacity = max(size, 2 * len(self._ts))
        extra = capacity - len(self._ts)
        self._ts = np.concatenate([self._ts, np.full(extra, NEVER, dtype=np.int64)])
        self._values = np.concatenate([self._values, np.zeros(extra, dtype=np.float64)])
        self._quality = np.concatenate([self._quality, np.zeros(extra, dtype=np.uint8)])
