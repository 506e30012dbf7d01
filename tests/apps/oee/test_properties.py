"""Properties that hold for every valid input, under every preset."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from factoryos.apps.oee.counters import CounterSpec, counter_increase
from factoryos.apps.oee.kpi import (
    PeriodInput,
    ProductOutput,
    availability,
    effectiveness,
    oee_index,
    quality_ratio,
    times,
)
from factoryos.apps.oee.taxonomy import PRESETS, Taxonomy, TimeCategory

# Millisecond resolution keeps derived cycle times far from float underflow.
_seconds = st.integers(0, 10**9).map(lambda ms: ms / 1_000)
_time_s = st.fixed_dictionaries({c: _seconds for c in TimeCategory})
_presets = st.sampled_from(list(PRESETS.values()))


@st.composite
def _period(draw: st.DrawFn) -> PeriodInput:
    """A period with one product whose ideal cycle time keeps effectiveness ≤ 1."""
    time_s = draw(_time_s)
    apt = time_s[TimeCategory.PRODUCING] + time_s[TimeCategory.MICRO_STOP]
    produced = draw(st.integers(0, 10_000)) if apt > 0 else 0
    good = draw(st.integers(0, produced))
    share = draw(st.floats(min_value=0.01, max_value=1.0))
    ideal = share * apt / produced if produced else 1.0
    product = ProductOutput("p", produced, good, ideal_cycle_s=ideal)
    return PeriodInput("eq", time_s, (product,))


@given(_period(), _presets)
def test_factors_are_ratios_and_oee_is_their_product(period: PeriodInput, t: Taxonomy) -> None:
    a, e, q = (
        availability(period, t).value,
        effectiveness(period, t).value,
        quality_ratio(period).value,
    )
    oee = oee_index(period, t).value
    for factor in (a, e, q):
        assert factor is None or 0 <= factor <= 1 + 1e-9
    if a is None or e is None or q is None:
        assert oee is None
    else:
        assert oee == pytest.approx(a * e * q)


@given(_period(), _presets)
def test_oee_is_valuable_operating_time_over_planned_busy_time(
    period: PeriodInput, t: Taxonomy
) -> None:
    oee = oee_index(period, t).value
    if oee is None:
        return
    (product,) = period.products
    assert product.ideal_cycle_s is not None
    valuable = product.good * product.ideal_cycle_s  # VOT = GQ × PRI
    assert oee == pytest.approx(valuable / times(period, t).pbt, rel=1e-9, abs=1e-12)


@given(_time_s)
def test_teep_never_exceeds_oee(time_s: dict[TimeCategory, float]) -> None:
    # TEEP's planned busy time is the whole calendar, so its availability is never higher
    period = PeriodInput("eq", time_s)
    iso, teep = availability(period, PRESETS["iso22400"]), availability(period, PRESETS["teep"])
    if iso.value is not None and teep.value is not None:
        assert teep.value <= iso.value + 1e-12


@given(st.lists(st.integers(0, 1_000), max_size=50), st.integers(0, 2**16 - 1))
def test_a_16_bit_counter_recovers_every_increment(steps: list[int], start: int) -> None:
    # Each step is ≤ max_step, so every drop is a rollover and nothing is lost.
    spec = CounterSpec("c", modulus=2**16, max_step=1_000)
    values = [start]
    for step in steps:
        values.append((values[-1] + step) % 2**16)
    samples = [(i, float(v)) for i, v in enumerate(values)]
    assert counter_increase(spec, samples) == sum(steps)
