"""The alarm rule: on after k scores above 1 in a row, off after k at or below; gaps hold."""

import numpy as np
import pytest

from factoryos.apps.maintenance.detectors import Persistence, persistence

NAN = float("nan")


def test_on_after_k_above_and_off_after_k_below() -> None:
    s = np.array([2, 2, 0, 2, 2, 2, 0, 0, 2, 0, 0, 0, 0], dtype=float)
    got = persistence(s, 3).astype(int).tolist()
    assert got == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 0, 0]


def test_exactly_one_is_not_above_the_threshold() -> None:
    assert not persistence(np.ones(10), 1).any()
    assert persistence(np.full(3, 1.0001), 1).all()


def test_a_gap_neither_raises_nor_clears() -> None:
    s = np.array([2, 2, NAN, 2, 2, 0, 0, NAN, 0, 0, 0])
    got = persistence(s, 3).astype(int).tolist()
    assert got == [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]  # the gap broke the run of three
    s = np.array([2, 2, 2, 0, 0, NAN, 0, 0, 0])
    assert persistence(s, 3).astype(int).tolist() == [0, 0, 1, 1, 1, 1, 1, 1, 0]


def test_streaming_state_equals_the_batch() -> None:
    rng = np.random.default_rng(0)
    s = rng.uniform(0, 2, 500)
    stream = Persistence(4)
    one_by_one = [stream.step(float(v)) for v in s]
    chunked = Persistence(4)
    parts = np.concatenate([chunked.run(s[i : i + 37]) for i in range(0, 500, 37)])
    assert one_by_one == persistence(s, 4).tolist() == parts.tolist()
    verdicts = Persistence(4)
    assert [verdicts.update(bool(v > 1)) for v in s] == one_by_one


def test_k_must_be_positive() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        Persistence(0)
