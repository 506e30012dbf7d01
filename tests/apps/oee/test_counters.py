"""Part counts from cumulative counters: increases, resets, rollovers and bad samples."""

import math

import pytest

from factoryos.apps.oee.counters import CounterSpec, counter_increase
from factoryos.apps.oee.errors import CounterError

PLAIN = CounterSpec("line1/press/count")
U16 = CounterSpec("line1/press/count", modulus=2**16, max_step=1_000)


def _series(*values: float) -> list[tuple[int, float]]:
    return [(i * 1_000_000_000, v) for i, v in enumerate(values)]


def test_increases_add_up() -> None:
    # (12 − 10) + (12 − 12) + (20 − 12) = 10
    assert counter_increase(PLAIN, _series(10, 12, 12, 20)) == 10


def test_one_sample_counts_nothing() -> None:
    assert counter_increase(PLAIN, _series(42)) == 0


def test_no_samples_is_an_error_not_zero() -> None:
    with pytest.raises(CounterError, match="no samples"):
        counter_increase(PLAIN, [])


def test_a_drop_is_a_reset_that_restarts_from_zero() -> None:
    # 100 → 150: 50; reset, then 0 → 7: 7; 7 → 9: 2; total 59
    assert counter_increase(PLAIN, _series(100, 150, 7, 9)) == 59


def test_a_reset_is_an_error_when_resets_are_not_allowed() -> None:
    spec = CounterSpec("c", allow_resets=False)
    with pytest.raises(CounterError, match="'c' at t=2000000000 ns: decreased 150 → 7"):
        counter_increase(spec, _series(100, 150, 7))


def test_a_16_bit_rollover_counts_across_the_wrap() -> None:
    # 65 530 → 65 535: 5; wrap 65 535 → 4: 4 + 65 536 − 65 535 = 5; 4 → 10: 6; total 16
    assert counter_increase(U16, _series(65_530, 65_535, 4, 10)) == 16


def test_a_32_bit_rollover_counts_across_the_wrap() -> None:
    spec = CounterSpec("c", modulus=2**32, max_step=10_000)
    # 2³² − 3 → 2: 2 + 2³² − (2³² − 3) = 5
    assert counter_increase(spec, _series(2**32 - 3, 2)) == 5


def test_a_big_drop_on_a_wrapping_counter_is_a_reset() -> None:
    # 40 000 → 3: wrapped difference 3 + 65 536 − 40 000 = 25 539 > max_step, so a reset: 3
    assert counter_increase(U16, _series(40_000, 3)) == 3


def test_a_jump_above_max_step_is_refused() -> None:
    with pytest.raises(CounterError, match="jump 10 → 2000 exceeds max_step 1000"):
        counter_increase(U16, _series(10, 2_000))


@pytest.mark.parametrize("bad", [-1.0, math.nan, math.inf, 2.5])
def test_a_bad_value_is_refused_naming_tag_and_time(bad: float) -> None:
    with pytest.raises(CounterError, match=r"'line1/press/count' at t=1000000000 ns"):
        counter_increase(PLAIN, _series(1, bad))


def test_a_value_at_the_modulus_is_refused() -> None:
    with pytest.raises(CounterError, match="not below the modulus 65536"):
        counter_increase(U16, _series(1, 65_536))


def test_samples_out_of_order_are_refused() -> None:
    with pytest.raises(CounterError, match="not after the previous sample"):
        counter_increase(PLAIN, [(2, 1.0), (2, 3.0)])


HOUR = 3_600_000_000_000
AFTER_OUTAGES = CounterSpec("c", modulus=2**16, max_step=100, max_rate=600.0)


def test_after_an_outage_the_counter_may_rise_by_what_the_machine_could_make() -> None:
    # 5 h without samples: 100 + 600/h × 5 h = 3,100 parts allowed; 1,000 → 3,900 = 2,900
    assert counter_increase(AFTER_OUTAGES, [(0, 1_000), (5 * HOUR, 3_900)]) == 2_900
    # within an hour only 700: 1,000 → 1,800 is a glitch, not production
    with pytest.raises(CounterError, match="jump 1000 → 1800 exceeds the 700 parts max_step"):
        counter_increase(AFTER_OUTAGES, [(0, 1_000), (HOUR, 1_800)])
    # fixed max_step alone refuses the 5-h rise (the behaviour without max_rate)
    with pytest.raises(CounterError, match="exceeds max_step 100"):
        counter_increase(CounterSpec("c", max_step=100), [(0, 1_000), (5 * HOUR, 3_900)])


def test_a_rollover_during_an_outage_is_counted_not_taken_for_a_reset() -> None:
    # 3 h: limit 100 + 1,800 = 1,900; 65,000 → 1,000 wraps: 1,000 + 65,536 − 65,000 = 1,536
    assert counter_increase(AFTER_OUTAGES, [(0, 65_000), (3 * HOUR, 1_000)]) == 1_536
    # with max_step alone the same drop reads as a reset (1,000 parts, 536 lost)
    assert counter_increase(U16, [(0, 65_000), (3 * HOUR, 1_000)]) == 1_000


def test_a_silence_long_enough_for_a_whole_round_unseen_is_refused() -> None:
    # 110 h at 600/h: 66,100 ≥ 65,536, the counter may have wrapped without a trace
    with pytest.raises(CounterError, match=r"396000 s since the last sample.*whole round"):
        counter_increase(AFTER_OUTAGES, [(0, 1_000), (110 * HOUR, 2_000)])
    assert counter_increase(AFTER_OUTAGES, [(0, 1_000), (100 * HOUR, 2_000)]) == 1_000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_rate": 0.0},
        {"modulus": 2**16},  # no max_step: rollover and reset cannot be told apart
        {"modulus": 2**16, "max_step": 2**16},
        {"modulus": 1, "max_step": 1},
        {"max_step": 0},
    ],
)
def test_an_inconsistent_spec_is_refused(kwargs: dict[str, float]) -> None:
    with pytest.raises(CounterError, match="'c'"):
        CounterSpec("c", **kwargs)  # type: ignore[arg-type]
