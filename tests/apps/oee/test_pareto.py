"""Pareto of downtime and the trend per bucket."""

import itertools

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.pareto import ParetoBy, ParetoRow, downtime_pareto, pareto
from factoryos.apps.oee.reasons import LossClass, Reason, ReasonSource
from factoryos.apps.oee.state import Intervals, PackMLState, Segment, timeline
from factoryos.apps.oee.stops import Stop, find_stops
from factoryos.apps.oee.taxonomy import TimeCategory
from factoryos.apps.oee.trend import trend

S = 1_000_000_000
C = TimeCategory


def _rows(rows: list[ParetoRow]) -> list[tuple[str, float, int, float, float, bool]]:
    return [
        (r.key, r.seconds, r.count, round(r.share, 9), round(r.cumulative, 9), r.other)
        for r in rows
    ]


ITEMS = [
    ("jam", 120.0),
    ("motor", 300.0),
    ("jam", 180.0),
    ("unassigned", 300.0),
    ("no material", 50.0),
    ("x", 50.0),
]


def test_rows_descending_with_ties_in_order_of_first_appearance() -> None:
    # jam 120 + 180 = 300, motor 300, unassigned 300, no material 50, x 50; total 1000
    assert _rows(pareto(ITEMS)) == [
        ("jam", 300, 2, 0.3, 0.3, False),
        ("motor", 300, 1, 0.3, 0.6, False),
        ("unassigned", 300, 1, 0.3, 0.9, False),
        ("no material", 50, 1, 0.05, 0.95, False),
        ("x", 50, 1, 0.05, 1.0, False),
    ]


def test_rows_after_top_n_are_one_other_row_at_the_end() -> None:
    # other = unassigned 300 + no material 50 + x 50 = 400 s from 3 stops
    assert _rows(pareto(ITEMS, top_n=2)) == [
        ("jam", 300, 2, 0.3, 0.3, False),
        ("motor", 300, 1, 0.3, 0.6, False),
        ("other", 400, 3, 0.4, 1.0, True),
    ]
    assert len(pareto(ITEMS, top_n=5)) == 5  # nothing left over: no other row


def test_empty_input_gives_no_rows() -> None:
    assert pareto([]) == []


@pytest.mark.parametrize(
    ("items", "top_n", "match"),
    [
        ([("a", 1.0)], 0, "top_n must be ≥ 1"),
        ([("a", -1.0)], None, "'a' has -1.0 s"),
        ([("a", float("nan"))], None, "'a' has nan s"),
    ],
)
def test_bad_input_is_refused(
    items: list[tuple[str, float]], top_n: int | None, match: str
) -> None:
    with pytest.raises(InvalidInputError, match=match):
        pareto(items, top_n)


def _stop(equipment: str, a: float, b: float, category: C, code: int | None = None) -> Stop:
    reason = None
    if code is not None:
        reason = Reason(code, ReasonSource.OPERATOR, f"r{code}", LossClass.BREAKDOWNS)
    seg = Segment(round(a * S), round(b * S), category)
    return Stop(equipment, seg.start_ns, seg.end_ns, category, (seg,), reason)


STOPS = [
    _stop("press1", 0, 60, C.UNPLANNED_DOWN, 101),
    _stop("press1", 100, 130, C.IDLE),
    _stop("press2", 0, 90, C.UNPLANNED_DOWN, 101),
    _stop("press2", 200, 1000, C.BREAK),  # planned: not downtime unless asked
    _stop("press2", 1000, 1010, C.SETUP, 201),
]


def test_downtime_by_reason_keeps_unassigned_and_skips_planned() -> None:
    # 101: 60 + 90 = 150 s; unassigned: 30 s; 201: 10 s; total 190 s
    rows = downtime_pareto(STOPS, ParetoBy.REASON)
    assert [(r.key, r.seconds, r.count) for r in rows] == [
        ("101 r101", 150, 2),
        ("unassigned", 30, 1),
        ("201 r201", 10, 1),
    ]
    assert rows[0].share == pytest.approx(150 / 190)


def test_downtime_by_equipment_with_planned_stops() -> None:
    rows = downtime_pareto(STOPS, ParetoBy.EQUIPMENT, include_planned=True)
    # press2: 90 + 800 + 10 = 900 s; press1: 60 + 30 = 90 s
    assert [(r.key, r.seconds, r.count) for r in rows] == [("press2", 900, 3), ("press1", 90, 2)]


def test_everything_unassigned_is_one_full_row() -> None:
    stops = [_stop("p", 0, 5, C.IDLE), _stop("p", 10, 12, C.IDLE)]
    assert _rows(downtime_pareto(stops, ParetoBy.REASON)) == [("unassigned", 7, 2, 1, 1, False)]


_keys = st.sampled_from(["a", "b", "c", "d", "e", "f"])


@given(st.lists(st.tuples(_keys, st.integers(0, 10**6).map(float)), max_size=40), st.integers(1, 6))
def test_pareto_shares_sum_to_one_and_nothing_is_lost(
    items: list[tuple[str, float]], top_n: int
) -> None:
    rows = pareto(items, top_n)
    total = sum(s for _, s in items)
    assert sum(r.count for r in rows) == len(items)
    assert sum(r.seconds for r in rows) == pytest.approx(total)
    if total > 0:
        assert sum(r.share for r in rows) == pytest.approx(1)
        assert rows[-1].cumulative == 1
    ranked = [r.seconds for r in rows if not r.other]
    assert ranked == sorted(ranked, reverse=True)
    assert [r.cumulative for r in rows] == sorted(r.cumulative for r in rows)


# --- trend -------------------------------------------------------------------------------


def test_stops_across_a_bucket_edge_are_split_by_time() -> None:
    a = Stop(
        "p",
        90 * S,
        130 * S,
        C.UNPLANNED_DOWN,
        (Segment(90 * S, 95 * S, C.IDLE), Segment(95 * S, 130 * S, C.UNPLANNED_DOWN)),
    )
    stops = [a, _stop("p", 150, 160, C.SETUP), _stop("p", 195, 220, C.IDLE)]
    day2, day1 = ("day 2", 100 * S, 200 * S), ("day 1", 0, 100 * S)
    rows = trend(stops, [day2, day1])  # rows come back in the order given
    assert [(r.label, r.seconds, r.stops) for r in rows] == [
        # 130 − 100 = 30 s of the breakdown, the 10 s setup, 200 − 195 = 5 s of idle
        ("day 2", {C.UNPLANNED_DOWN: 30, C.SETUP: 10, C.IDLE: 5}, 2),
        # idle 90–95, down 95–100; the stop started here, so it is counted here
        ("day 1", {C.IDLE: 5, C.UNPLANNED_DOWN: 5}, 1),
    ]


def test_no_stops_gives_empty_buckets() -> None:
    rows = trend([], [("d", 0, S)])
    assert [(r.label, r.seconds, r.stops) for r in rows] == [("d", {}, 0)]


@pytest.mark.parametrize(
    ("buckets", "match"),
    [
        ([("a", 0, 10 * S), ("b", 5 * S, 20 * S)], "'a' and 'b' overlap"),
        ([("a", 5 * S, 5 * S)], "'a': end not after start"),
    ],
)
def test_bad_buckets_are_refused(buckets: list[tuple[str, int, int]], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        trend([], buckets)


_STATES = [PackMLState.EXECUTE, PackMLState.IDLE, PackMLState.ABORTED, PackMLState.HELD]


@given(
    st.lists(st.tuples(st.integers(1, 500), st.sampled_from(_STATES)), min_size=1, max_size=30),
    st.lists(st.integers(1, 10**4), max_size=10),
)
def test_splitting_by_buckets_preserves_totals(
    spans: list[tuple[int, PackMLState]], cuts: list[int]
) -> None:
    ends = np.cumsum([d * S for d, _ in spans]).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    iv = Intervals(starts, ends, np.array([s for _, s in spans], dtype=np.int16))
    stops = find_stops("p", timeline(iv, 30))
    edges = sorted({0, int(ends[-1]), *(c * S for c in cuts if c * S < ends[-1])})
    buckets = [(f"b{k}", a, b) for k, (a, b) in enumerate(itertools.pairwise(edges))]
    rows = trend(stops, buckets)
    for category in C:
        expected = sum(g.seconds for s in stops for g in s.segments if g.category is category)
        got = sum(r.seconds.get(category, 0.0) for r in rows)
        assert got == pytest.approx(expected)
    assert sum(r.stops for r in rows) == len(stops)
