import numpy as np
import pytest

from factoryos.model import Quality, SampleBatch
from factoryos.model.uns import join, split


def test_build_broadcasts_scalar_timestamp_and_defaults_quality() -> None:
    b = SampleBatch.build([1, 2, 3], 1_000, [1.5, 2.5, 3.5])
    assert b.ts.tolist() == [1_000] * 3
    assert b.quality.tolist() == [Quality.GOOD] * 3
    assert b.tag_ids.dtype == np.int32 and b.ts.dtype == np.int64


def test_columns_must_align() -> None:
    with pytest.raises(ValueError, match="differ in length"):
        SampleBatch.build([1, 2], [1, 2], [1.0])


def test_concat_and_take() -> None:
    a = SampleBatch.build([1], 10, [1.0])
    b = SampleBatch.build([2, 3], 20, [2.0, 3.0], [Quality.BAD, Quality.GOOD])
    c = SampleBatch.concat([a, b])
    assert len(c) == 3
    assert c.take(c.quality == Quality.BAD).tag_ids.tolist() == [2]
    assert len(SampleBatch.concat([])) == 0


def test_uns_paths() -> None:
    assert join("demo", "machining", "cnc-01", "power_kw") == "demo/machining/cnc-01/power_kw"
    assert split("a/b_c/d-1") == ["a", "b_c", "d-1"]
    with pytest.raises(ValueError, match="invalid Unified Namespace"):
        join("Demo", "x")
    with pytest.raises(ValueError, match="invalid Unified Namespace path"):
        split("a//b")
