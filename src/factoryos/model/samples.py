"""Columnar sample batches: the unit that flows from driver to store.

No Python object per sample on the hot path: a batch is four aligned numpy arrays.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.model.quality import QUALITY_DTYPE, Quality

TAG_ID_DTYPE = np.int32
TS_DTYPE = np.int64
VALUE_DTYPE = np.float64


@dataclass(frozen=True, slots=True)
class SampleBatch:
    """Samples as aligned columns: tag id, time (ns since the epoch, UTC), value, quality."""

    tag_ids: npt.NDArray[np.int32]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]

    def __post_init__(self) -> None:
        n = len(self.tag_ids)
        if not (len(self.ts) == len(self.values) == len(self.quality) == n):
            raise ValueError(
                "SampleBatch columns differ in length: "
                f"tag_ids={n} ts={len(self.ts)} values={len(self.values)} "
                f"quality={len(self.quality)}"
            )

    def __len__(self) -> int:
        return len(self.tag_ids)

    @classmethod
    def build(
        cls,
        tag_ids: npt.ArrayLike,
        ts: npt.ArrayLike,
        values: npt.ArrayLike,
        quality: npt.ArrayLike | None = None,
    ) -> "SampleBatch":
        """A batch from array-likes, cast to the canonical dtypes; ``ts`` may be a scalar."""
        ids = np.ascontiguousarray(tag_ids, dtype=TAG_ID_DTYPE)
        n = len(ids)
        ts_arr = np.asarray(ts, dtype=TS_DTYPE)
        if ts_arr.ndim == 0:
            ts_arr = np.full(n, ts_arr, dtype=TS_DTYPE)
        q = (
            np.full(n, Quality.GOOD, dtype=QUALITY_DTYPE)
            if quality is None
            else np.asarray(quality, dtype=QUALITY_DTYPE)
        )
        return cls(ids, ts_arr, np.asarray(values, dtype=VALUE_DTYPE), q)

    @classmethod
    def empty(cls) -> "SampleBatch":
        return cls.build([], [], [], [])

    @classmethod
    def concat(cls, batches: Sequence["SampleBatch"]) -> "SampleBatch":
        """One batch holding all samples of ``batches`` in order."""
        if not batches:
            return cls.empty()
        if len(batches) == 1:
            return batches[0]
        return cls(
            np.concatenate([b.tag_ids for b in batches]),
            np.concatenate([b.ts for b in batches]),
            np.concatenate([b.values for b in batches]),
            np.concatenate([b.quality for b in batches]),
        )

    def take(self, index: npt.NDArray[np.intp] | npt.NDArray[np.bool_]) -> "SampleBatch":
        """The samples selected by an index array or boolean mask."""
        return SampleBatch(
            self.tag_ids[index], self.ts[index], self.values[index], self.quality[index]
        )
