"""Nelson's and the Western Electric run rules on hand-built series.

Every series has centre 0 and σ 1, so a value is its own z. For each rule: a series
that fires exactly where the pattern is completed, and near misses that must not fire.
"""

import math

import numpy as np
import pytest

from apps.trace.spc.reference_data import ORANGE_JUICE_DEFECTIVES
from factoryos.apps.trace.spc import SpcError, nelson_rules, p_chart, western_electric_rules


def _fired(rule: int, series: list[float]) -> tuple[int, ...]:
    result = nelson_rules(series, 0.0, 1.0)[rule - 1]
    assert result.rule == rule
    return result.indices


def test_all_eight_rules_are_reported_in_order_with_names() -> None:
    results = nelson_rules([0.0] * 20, 0.0, 1.0)
    assert [r.rule for r in results] == list(range(1, 9))
    assert results[1].name == "nine points in a row on one side of the centre line"
    # Twenty points at the centre: only "fifteen within 1σ" fires, at points 15–20.
    assert [r.indices for r in results] == [(), (), (), (), (), (), tuple(range(14, 20)), ()]


# Rule 1: one point beyond 3σ.
def test_rule_1_fires_on_each_point_beyond_three_sigma() -> None:
    assert _fired(1, [0.0, 0.5, 3.5, -3.2, 0.0]) == (2, 3)


def test_rule_1_near_miss_on_the_limit() -> None:
    assert _fired(1, [2.99, -2.99, 3.0, -3.0]) == ()


# Rule 2: nine points in a row on one side.
def test_rule_2_fires_at_the_ninth_point_and_each_after() -> None:
    assert _fired(2, [-0.5] + [0.5] * 9) == (9,)
    assert _fired(2, [0.5] * 10) == (8, 9)
    assert _fired(2, [-0.1] * 9) == (8,)


def test_rule_2_near_misses() -> None:
    assert _fired(2, [0.5] * 8 + [-0.5] + [0.5] * 8) == ()
    assert _fired(2, [0.5] * 4 + [0.0] + [0.5] * 4) == ()  # on the centre line: no side


# Rule 3: six points in a row steadily increasing or decreasing.
def test_rule_3_fires_at_the_sixth_point_of_a_trend() -> None:
    assert _fired(3, [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]) == (5,)
    assert _fired(3, [0.0, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.0]) == (6, 7)


def test_rule_3_near_misses() -> None:
    assert _fired(3, [0.0, 0.1, 0.2, 0.3, 0.4]) == ()  # five points
    assert _fired(3, [0.0, 0.1, 0.2, 0.2, 0.3, 0.4, 0.5]) == ()  # a tie breaks it
    assert _fired(3, [0.0, 0.1, 0.2, 0.1, 0.3, 0.4, 0.5]) == ()


# Rule 4: fourteen points in a row alternating up and down.
def test_rule_4_fires_at_the_fourteenth_alternating_point() -> None:
    assert _fired(4, [0.1, -0.1] * 7) == (13,)
    assert _fired(4, [-0.5] + [0.1, -0.1] * 7) == (13, 14)  # fifteen alternating
    assert _fired(4, [0.5] + [0.1, -0.1] * 7) == (14,)  # 0.5 → 0.1 → −0.1 is no flip


def test_rule_4_near_misses() -> None:
    assert _fired(4, ([0.1, -0.1] * 7)[:13]) == ()  # thirteen points
    broken = [0.1, -0.1] * 7
    broken[7] = broken[6]  # a flat step in the middle
    assert _fired(4, broken) == ()


# Rule 5: two of three points in a row beyond 2σ on the same side.
def test_rule_5_fires_where_two_of_three_are_completed() -> None:
    assert _fired(5, [0.0, 2.5, 0.0, 2.5, 0.0]) == (3,)
    assert _fired(5, [2.5, 2.1, 0.0]) == (1,)  # at the start of the series
    assert _fired(5, [0.0, -2.1, -2.5, -2.2]) == (2, 3)


def test_rule_5_near_misses() -> None:
    assert _fired(5, [2.5, 0.0, 0.0, 2.5]) == ()  # two of four
    assert _fired(5, [2.5, 0.0, -2.5]) == ()  # opposite sides
    assert _fired(5, [1.9, 2.5, 1.9, 2.0]) == ()  # one beyond; 2.0 is on the line


# Rule 6: four of five points in a row beyond 1σ on the same side.
def test_rule_6_fires_where_four_of_five_are_completed() -> None:
    assert _fired(6, [0.0, 1.5, 1.5, 0.0, 1.5, 1.5, 0.0]) == (5,)
    assert _fired(6, [-1.2, -1.5, -1.1, -1.9]) == (3,)


def test_rule_6_near_misses() -> None:
    assert _fired(6, [1.5, 1.5, 0.0, 0.0, 1.5, 1.5]) == ()
    assert _fired(6, [1.5, -1.5, 1.5, 1.5, 0.5, 1.5]) == ()  # one of them on the other side
    assert _fired(6, [1.5, 1.5, 1.0, 1.5]) == ()  # 1.0 is on the line, not beyond


# Rule 7: fifteen points in a row within 1σ (stratification).
def test_rule_7_fires_at_the_fifteenth_point_within_one_sigma() -> None:
    hugging = [0.3, -0.6, 0.2, 0.9, -0.4, 0.0, -0.95, 0.5, 0.1, -0.2, 0.7, -0.5, 0.4, -0.1, 0.6]
    assert _fired(7, [1.5, *hugging]) == (15,)


def test_rule_7_near_misses() -> None:
    assert _fired(7, [0.5] * 14) == ()
    assert _fired(7, [0.5] * 7 + [1.0] + [0.5] * 7) == ()  # 1.0 is not within 1σ


# Rule 8: eight points in a row beyond 1σ, on both sides (a mixture).
def test_rule_8_fires_at_the_eighth_point_beyond_one_sigma() -> None:
    assert _fired(8, [0.0] + [1.5, -1.5] * 4) == (8,)
    assert _fired(8, [1.2, 1.4, -2.0, 1.1, 1.6, 1.3, 1.5, 1.2, 0.0]) == (7,)


def test_rule_8_near_misses() -> None:
    assert _fired(8, [1.5, -1.5] * 3 + [1.5]) == ()  # seven points
    assert _fired(8, [1.5] * 8) == ()  # all on one side: a shift, not a mixture
    assert _fired(8, [1.5, -1.5, 1.5, -1.5, 0.5, 1.5, -1.5, 1.5, -1.5]) == ()


# Western Electric rules.
def test_western_electric_rule_4_is_eight_on_one_side_where_nelson_needs_nine() -> None:
    series = [0.5] * 8
    assert western_electric_rules(series, 0.0, 1.0)[3].indices == (7,)
    assert nelson_rules(series, 0.0, 1.0)[1].indices == ()
    assert western_electric_rules([0.5] * 7 + [-0.5], 0.0, 1.0)[3].indices == ()


def test_western_electric_rules_1_to_3_are_nelson_rules_1_5_6() -> None:
    series = np.random.default_rng(3).normal(0.3, 1.2, 500)
    nelson = nelson_rules(series, 0.0, 1.0)
    western = western_electric_rules(series, 0.0, 1.0)
    assert [r.rule for r in western] == [1, 2, 3, 4]
    assert western[0].indices == nelson[0].indices
    assert western[1].indices == nelson[4].indices
    assert western[2].indices == nelson[5].indices
    assert all(r.indices for r in western)  # the series does trip each of them


def test_rules_take_a_sigma_per_point_from_a_chart() -> None:
    # On the orange-juice p chart the zone rules see z = (p − p̄)/σ_p: the two samples
    # beyond the limits are rule 1, and nothing else is flagged as beyond 3σ.
    chart = p_chart(ORANGE_JUICE_DEFECTIVES, 50)
    results = nelson_rules(chart.points, chart.center, chart.point_sigma)
    assert results[0].indices == chart.out_of_control == (14, 22)


@pytest.mark.parametrize(
    ("values", "center", "sigma", "message"),
    [
        ([1.0, math.nan], 0.0, 1.0, "finite"),
        ([1.0, 2.0], math.inf, 1.0, "finite"),
        ([1.0, 2.0], 0.0, 0.0, "sigma must be > 0"),
        ([1.0, 2.0], 0.0, [1.0, -1.0], "sigma must be > 0"),
        ([1.0, 2.0], [0.0, 0.0, 0.0], 1.0, "one per point"),
        ([[1.0, 2.0]], 0.0, 1.0, "one-dimensional"),
    ],
)
def test_bad_series_are_refused(
    values: object, center: object, sigma: object, message: str
) -> None:
    with pytest.raises(SpcError, match=message):
        nelson_rules(values, center, sigma)  # type: ignore[arg-type]
