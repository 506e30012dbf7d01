"""Gap-aware resampling: hand-computed cases, and a property test against brute force."""

import itertools
import math
from statistics import median

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.errors import QueryError
from factoryos.store.resample import Method, Resampled, default_max_gap, resample

S = 10**9
G, U, B = Quality.GOOD, Quality.UNCERTAIN, Quality.BAD
NAN = math.nan


def batch(*samples: tuple[float, float, int]) -> SampleBatch:
    """Samples as (seconds, value, quality)."""
    if not samples:
        return SampleBatch.empty()
    secs, values, quality = zip(*samples, strict=True)
    return SampleBatch.build([1] * len(samples), np.round(np.array(secs) * S), values, quality)


def run(
    b: SampleBatch, start: float, end: float, every: float, method: Method, gap: float | None
) -> Resampled:
    max_gap = None if gap is None else round(gap * S)
    return resample(
        b, round(start * S), round(end * S), round(every * S), method, max_gap_ns=max_gap
    )


def check(r: Resampled, buckets: list[float], values: list[float], gaps: list[bool]) -> None:
    assert r.bucket_ns.tolist() == [round(t * S) for t in buckets]
    np.testing.assert_allclose(r.value, values, rtol=1e-12, equal_nan=True)
    assert r.gap.tolist() == gaps


def test_a_step_change_mid_bucket_weighs_by_time_held() -> None:
    b = batch((0, 10, G), (2, 20, G))
    check(run(b, 0, 20, 10, "twa", 100), [0, 10], [18, 20], [False, False])
    check(run(b, 0, 20, 10, "step", 100), [0, 10], [10, 20], [False, False])


def test_a_bad_sample_is_a_gap_until_the_next_good_one() -> None:
    b = batch((0, 10, G), (4, NAN, B), (6, 30, G))
    check(run(b, 0, 10, 10, "twa", 100), [0], [20], [True])  # (10×4 + 30×4) / 8
    check(run(b, 0, 15, 5, "twa", 100), [0, 5, 10], [10, 30, 30], [True, True, False])
    check(run(b, 0, 15, 5, "step", 100), [0, 5, 10], [10, NAN, 30], [False, True, False])


def test_a_bad_sample_with_a_value_still_holds_no_value() -> None:
    b = batch((0, 10, G), (5, 99, B))
    check(run(b, 0, 10, 10, "twa", 100), [0], [10], [True])


def test_uncertain_holds_its_value_but_a_nan_value_does_not() -> None:
    b = batch((0, 10, U), (5, NAN, G))
    check(run(b, 0, 10, 5, "twa", 100), [0, 5], [10, NAN], [False, True])


def test_silence_beyond_max_gap_is_a_gap() -> None:
    b = batch((0, 10, G), (30, 20, G))
    expected = [10, NAN, NAN, 20]
    check(run(b, 0, 40, 10, "twa", 10), [0, 10, 20, 30], expected, [False, True, True, False])
    check(run(b, 0, 40, 10, "step", 10), [0, 10, 20, 30], expected, [False, True, True, False])
    check(
        run(b, 0, 40, 10, "twa", 15), [0, 10, 20, 30], [10, 10, NAN, 20], [False, True, True, False]
    )


def test_samples_exactly_on_bucket_edges() -> None:
    b = batch((0, 1, G), (10, 2, G), (20, 3, G))
    for method in ("twa", "step"):
        check(run(b, 0, 30, 10, method, 100), [0, 10, 20], [1, 2, 3], [False] * 3)


def test_empty_input_is_all_gap() -> None:
    check(run(batch(), 0, 30, 10, "twa", None), [0, 10, 20], [NAN] * 3, [True] * 3)
    check(run(batch(), 5, 25, 10, "step", 1), [0, 10, 20], [NAN] * 3, [True] * 3)


def test_the_state_at_start_comes_from_the_sample_before_it() -> None:
    b = batch((-5, 7, G), (5, 9, G))
    check(run(b, 0, 10, 5, "twa", 100), [0, 5], [7, 9], [False, False])
    check(run(b, 0, 10, 5, "step", 100), [0, 5], [7, 9], [False, False])
    # older than max_gap before start: it no longer holds
    check(run(b, 0, 10, 5, "step", 4), [0, 5], [NAN, 9], [True, False])
    check(run(b, 0, 10, 10, "twa", 4), [0], [9], [True])


def test_buckets_are_epoch_aligned_and_cut_by_the_range() -> None:
    b = batch((0, 10, G), (5, 20, G))
    check(run(b, 3, 17, 10, "twa", 100), [0, 10], [120 / 7, 20], [False, False])
    check(run(b, 3, 17, 10, "step", 100), [0, 10], [10, 20], [False, False])


def test_default_max_gap_is_ten_median_intervals() -> None:
    b = batch((0, 1, G), (1, 2, G), (2, 3, G), (3, 4, G), (50, 5, G))
    assert default_max_gap(b.ts) == 10 * S
    assert default_max_gap(batch((1, 1, G), (1, 2, G)).ts) is None
    r = run(b, 0, 60, 10, "twa", None)
    check(r, [0, 10, 20, 30, 40, 50], [3.4, 4, NAN, NAN, NAN, 5], [False] + [True] * 4 + [False])


def test_without_an_interval_a_value_holds_to_the_end() -> None:
    check(run(batch((1, 4, G)), 0, 1000, 500, "twa", None), [0, 500], [4, 4], [True, False])


def test_order_of_input_does_not_matter_and_a_later_duplicate_wins() -> None:
    b = batch((5, 20, G), (0, 10, G), (5, 30, G))
    check(run(b, 0, 10, 10, "twa", 100), [0], [20], [False])
    check(run(b, 0, 10, 5, "step", 100), [0, 5], [10, 30], [False, False])


def test_a_constant_far_from_zero_is_exact_at_real_times() -> None:
    t0 = 1_714_564_800 * S
    n = 100_000
    b = SampleBatch.build(np.ones(n), t0 + np.arange(n) * S, np.full(n, 1234.5678))
    r = resample(b, t0, t0 + n * S, 60 * S, "twa")
    assert len(r.value) == math.ceil(n / 60)
    assert np.all(r.value == 1234.5678)
    assert not r.gap.any()


@pytest.mark.parametrize(
    ("kwargs", "name"),
    [
        ({"method": "mean"}, "method"),
        ({"max_gap_ns": 0}, "max_gap_ns"),
        ({"max_gap_ns": 2**63}, "max_gap_ns"),
        ({"every_ns": 0}, "every"),
        ({"every_ns": 1}, "every"),
        ({"end_ns": 0}, "start_ns"),
    ],
)
def test_bad_parameters_name_themselves(kwargs: dict[str, object], name: str) -> None:
    args: dict[str, object] = {"start_ns": 0, "end_ns": 10 * S, "every_ns": S, "method": "twa"}
    with pytest.raises(QueryError, match=name):
        resample(batch((0, 1, G)), **(args | kwargs))  # type: ignore[arg-type]


# -- property test: the columnar version equals a slow walk over every nanosecond ------------


def reference(
    samples: list[tuple[int, float, int]],
    start: int,
    end: int,
    every: int,
    method: Method,
    max_gap: int | None,
) -> tuple[list[int], list[float], list[bool]]:
    """Per bucket, the tag's state at each integer ns (all times are integers, so the integral
    of a step function equals the sum over its nanoseconds)."""
    ordered = sorted(samples, key=lambda s: s[0])  # stable: a later duplicate comes later
    if max_gap is None:
        intervals = [b[0] - a[0] for a, b in itertools.pairwise(ordered)]
        positive = [i for i in intervals if i > 0]
        max_gap = int(10 * median(positive)) if positive else None

    def state(t: int) -> float | None:
        before = [s for s in ordered if s[0] <= t]
        if not before:
            return None
        ts, value, quality = before[-1]
        stale = max_gap is not None and t - ts >= max_gap
        return None if quality >= B or math.isnan(value) or stale else value

    buckets, values, gaps = [], [], []
    b = start // every * every
    while b < end:
        lo, hi = max(b, start), min(b + every, end)
        held = [state(t) for t in (range(lo, hi) if method == "twa" else [lo])]
        good = [v for v in held if v is not None]
        buckets.append(b)
        values.append(sum(good) / len(good) if good else NAN)
        gaps.append(len(good) < len(held))
        b += every
    return buckets, values, gaps


sample = st.tuples(
    st.integers(-40, 60),
    st.one_of(st.integers(-100, 100).map(lambda v: v / 2), st.just(NAN)),
    st.sampled_from([int(G), int(U), int(B)]),
)


@settings(max_examples=300, deadline=None)
@given(
    samples=st.lists(sample, max_size=12),
    start=st.integers(-30, 40),
    length=st.integers(1, 60),
    every=st.integers(1, 25),
    method=st.sampled_from(["twa", "step"]),
    max_gap=st.one_of(st.none(), st.integers(1, 40)),
)
def test_matches_a_per_nanosecond_reference(
    samples: list[tuple[int, float, int]],
    start: int,
    length: int,
    every: int,
    method: Method,
    max_gap: int | None,
) -> None:
    ts = [s[0] for s in samples]
    values = [s[1] for s in samples]
    quality = [s[2] for s in samples]
    b = SampleBatch.build([1] * len(samples), ts, values, quality)
    r = resample(b, start, start + length, every, method, max_gap_ns=max_gap)
    buckets, expected, gaps = reference(samples, start, start + length, every, method, max_gap)
    assert r.bucket_ns.tolist() == buckets
    np.testing.assert_allclose(r.value, expected, rtol=1e-12, atol=1e-12, equal_nan=True)
    assert r.gap.tolist() == gaps
