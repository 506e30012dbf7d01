"""The last-value cache."""

import numpy as np

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.lastvalue import LastValueCache


def test_newest_sample_wins_and_older_ones_do_not_overwrite() -> None:
    cache = LastValueCache(capacity=2)
    cache.update(SampleBatch.build([1, 1, 2, 1], [30, 10, 5, 20], [3.0, 1.0, 5.0, 2.0]))
    cache.update(SampleBatch.build([1, 2], [25, 6], [9.0, 6.0], [Quality.GOOD, Quality.BAD]))
    got = cache.get(np.array([1, 2]))
    assert got.ts.tolist() == [30, 6]
    assert got.values.tolist() == [3.0, 6.0]
    assert got.quality.tolist() == [Quality.GOOD, Quality.BAD]


def test_an_equal_timestamp_keeps_the_first_value() -> None:
    cache = LastValueCache()
    cache.update(SampleBatch.build([4, 4], [10, 10], [1.0, 2.0]))
    cache.update(SampleBatch.build([4], [10], [3.0]))
    assert cache.get([4]).values.tolist() == [1.0]


def test_many_tags_grow_the_arrays_and_unseen_tags_are_omitted() -> None:
    cache = LastValueCache(capacity=4)
    ids = np.arange(0, 10_000, 2)
    cache.update(SampleBatch.build(ids, 100, ids * 1.5))
    got = cache.get(np.array([9998, 1, 4, 20_000, -1]))
    assert got.tag_ids.tolist() == [9998, 4]
    assert got.values.tolist() == [9998 * 1.5, 6.0]
    assert len(cache) == 5000


def test_update_fresh_takes_the_last_sample_of_each_tag() -> None:
    cache = LastValueCache()
    cache.update_fresh(SampleBatch.build([1, 2, 1, 2], [10, 10, 20, 20], [1.0, 2.0, 3.0, 4.0]))
    assert cache.get([1, 2]).values.tolist() == [3.0, 4.0]
