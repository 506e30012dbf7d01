"""Run rules for special causes: Nelson's eight tests and the Western Electric four.

Nelson's tests (L. S. Nelson, "The Shewhart Control Chart — Tests for Special Causes",
*Journal of Quality Technology* 16(4), 1984, pp. 237–239), with z = (x − centre)/σ:

1. one point beyond 3σ (|z| > 3);
2. nine points in a row on the same side of the centre line;
3. six points in a row steadily increasing, or steadily decreasing;
4. fourteen points in a row alternating up and down;
5. two out of three points in a row beyond 2σ, on the same side;
6. four out of five points in a row beyond 1σ, on the same side;
7. fifteen points in a row within 1σ of the centre line, either side;
8. eight points in a row beyond 1σ, with points on both sides of the centre line.

The Western Electric rules (*Statistical Quality Control Handbook*, Western Electric,
1956) are the older zone tests: WE 1 = Nelson 1, WE 2 = Nelson 5, WE 3 = Nelson 6, and
WE 4 is "eight points in a row on the same side" — Nelson 2 with eight points, not nine.

Conventions (where the rule texts leave room):

* A rule reports the index of the point that *completes* a pattern. A longer run fires
  again at every further point (a 10-point run on one side fires rule 2 at its 9th and
  10th points), as a chart marks each point that fails the test.
* A run (rules 2, 3, 4, 7, 8) needs all its points inside the series. Rules 5 and 6
  fire as soon as ``k`` of the last ``m`` points are beyond the line, counting from the
  start of the series (two points beyond 2σ as the first two are two of three), and
  only at a point that is itself beyond it: the pattern is reported where it is
  completed, not again at a later point of the same window.
* Strict inequalities: a point exactly on a zone line is not beyond it, a point on the
  centre line is on neither side (it ends a one-side run), and equal neighbours end a
  trend or an alternation. Rules 3 and 4 look at the values themselves, the zone rules
  at z, so σ may vary point by point (a p chart with varying subgroup sizes).
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from numpy.lib.stride_tricks import sliding_window_view

from factoryos.apps.trace.spc.errors import SpcError

FloatArray = npt.NDArray[np.float64]
BoolArray = npt.NDArray[np.bool_]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True, slots=True)
class RuleResult:
    """The points at which one rule fired."""

    rule: int
    name: str
    indices: tuple[int, ...]


def _run_ends(mask: BoolArray, length: int) -> IndexArray:
    """Indices at which ``length`` consecutive True values end."""
    if mask.size < length:
        return np.empty(0, dtype=np.intp)
    full = sliding_window_view(mask, length).all(axis=1)
    return np.flatnonzero(full) + (length - 1)


def _k_of_m(beyond: BoolArray, k: int, m: int) -> IndexArray:
    """Points beyond a line that complete ``k`` of the last ``m`` beyond it."""
    # Padding with "not beyond" lets the first points count: two points beyond 2σ at the
    # start are two of three, whatever the third turns out to be.
    padded = np.concatenate([np.zeros(m - 1, dtype=bool), beyond])
    counts = sliding_window_view(padded, m).sum(axis=1)
    return np.flatnonzero((counts >= k) & beyond)


def _both_sides(hit: Callable[[BoolArray], IndexArray], z: FloatArray, line: float) -> IndexArray:
    """A same-side test applied above and below the centre, merged."""
    return np.union1d(hit(z > line), hit(z < -line))


def _beyond_3_sigma(x: FloatArray, z: FloatArray) -> IndexArray:
    return np.flatnonzero(np.abs(z) > 3)


def _nine_same_side(x: FloatArray, z: FloatArray) -> IndexArray:
    return _both_sides(lambda side: _run_ends(side, 9), z, 0.0)


def _eight_same_side(x: FloatArray, z: FloatArray) -> IndexArray:
    return _both_sides(lambda side: _run_ends(side, 8), z, 0.0)


def _six_trending(x: FloatArray, z: FloatArray) -> IndexArray:
    # Six points make five steps; step j ends at point j + 1.
    steps = np.diff(x)
    return np.union1d(_run_ends(steps > 0, 5), _run_ends(steps < 0, 5)) + 1


def _fourteen_alternating(x: FloatArray, z: FloatArray) -> IndexArray:
    # Fourteen points make 13 steps, so 12 consecutive sign flips; flip j ends at j + 2.
    signs = np.sign(np.diff(x))
    flips = (signs[1:] * signs[:-1]) < 0
    return _run_ends(flips, 12) + 2


def _two_of_three_beyond_2(x: FloatArray, z: FloatArray) -> IndexArray:
    return _both_sides(lambda side: _k_of_m(side, 2, 3), z, 2.0)


def _four_of_five_beyond_1(x: FloatArray, z: FloatArray) -> IndexArray:
    return _both_sides(lambda side: _k_of_m(side, 4, 5), z, 1.0)


def _fifteen_within_1(x: FloatArray, z: FloatArray) -> IndexArray:
    return _run_ends(np.abs(z) < 1, 15)


def _eight_beyond_1_both_sides(x: FloatArray, z: FloatArray) -> IndexArray:
    ends = _run_ends(np.abs(z) > 1, 8)
    if ends.size == 0:
        return ends
    # Both sides present: all on one side is a shift (rules 2 and 6), not a mixture.
    windows = sliding_window_view(z, 8)[ends - 7]
    mixed = (windows > 0).any(axis=1) & (windows < 0).any(axis=1)
    return ends[mixed]


_Rule = tuple[int, str, Callable[[FloatArray, FloatArray], IndexArray]]

NELSON_RULES: tuple[_Rule, ...] = (
    (1, "one point beyond 3σ", _beyond_3_sigma),
    (2, "nine points in a row on one side of the centre line", _nine_same_side),
    (3, "six points in a row steadily increasing or decreasing", _six_trending),
    (4, "fourteen points in a row alternating up and down", _fourteen_alternating),
    (5, "two of three points in a row beyond 2σ on one side", _two_of_three_beyond_2),
    (6, "four of five points in a row beyond 1σ on one side", _four_of_five_beyond_1),
    (7, "fifteen points in a row within 1σ of the centre line", _fifteen_within_1),
    (8, "eight points in a row beyond 1σ on both sides", _eight_beyond_1_both_sides),
)

WESTERN_ELECTRIC_RULES: tuple[_Rule, ...] = (
    (1, "one point beyond 3σ", _beyond_3_sigma),
    (2, "two of three points in a row beyond 2σ on one side", _two_of_three_beyond_2),
    (3, "four of five points in a row beyond 1σ on one side", _four_of_five_beyond_1),
    (4, "eight points in a row on one side of the centre line", _eight_same_side),
)


def _standardised(
    values: npt.ArrayLike, center: npt.ArrayLike, sigma: npt.ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """The series and its z-scores; centre and σ may be scalars or one per point."""
    x = np.asarray(values, dtype=np.float64)
    if x.ndim != 1:
        raise SpcError(f"a series must be one-dimensional, got shape {x.shape}")
    try:
        c, s = np.broadcast_arrays(np.asarray(center, np.float64), np.asarray(sigma, np.float64))
        c, s = np.broadcast_to(c, x.shape), np.broadcast_to(s, x.shape)
    except ValueError as exc:
        raise SpcError(f"centre and sigma must be scalars or one per point ({x.size})") from exc
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(c)) and np.all(np.isfinite(s))):
        raise SpcError("the series, centre and sigma must be finite numbers (no NaN)")
    if np.any(s <= 0):
        raise SpcError("sigma must be > 0 at every point")
    return x, (x - c) / s


def _apply(rules: tuple[_Rule, ...], x: FloatArray, z: FloatArray) -> tuple[RuleResult, ...]:
    return tuple(
        RuleResult(rule=number, name=name, indices=tuple(int(i) for i in test(x, z)))
        for number, name, test in rules
    )


def nelson_rules(
    values: npt.ArrayLike, center: npt.ArrayLike, sigma: npt.ArrayLike
) -> tuple[RuleResult, ...]:
    """Nelson's tests 1–8 on ``values``, in order; σ is that of the plotted statistic."""
    x, z = _standardised(values, center, sigma)
    return _apply(NELSON_RULES, x, z)


def western_electric_rules(
    values: npt.ArrayLike, center: npt.ArrayLike, sigma: npt.ArrayLike
) -> tuple[RuleResult, ...]:
    """The Western Electric zone rules 1–4 on ``values``, in order."""
    x, z = _standardised(values, center, sigma)
    return _apply(WESTERN_ELECTRIC_RULES, x, z)
