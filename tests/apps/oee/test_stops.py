"""Stop events from the categorized timeline, and the reasons attached to them."""

import numpy as np
import pytest
from pydantic import ValidationError

from factoryos.apps.oee.attribution import (
    ConflictingEntriesError,
    ReasonTag,
    attribute,
    automatic_codes,
)
from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.reasons import (
    LossClass,
    OperatorEntry,
    ReasonCatalog,
    ReasonSource,
    UnknownReasonError,
)
from factoryos.apps.oee.state import Intervals, PackMLState, PlannedWindow, Segment, timeline
from factoryos.apps.oee.stops import Stop, find_stops
from factoryos.apps.oee.taxonomy import TimeCategory

S = 1_000_000_000
P, C = PackMLState, TimeCategory
EXE, IDLE, DOWN, HELD, UNDEF = P.EXECUTE, P.IDLE, P.ABORTED, P.HELD, P.UNDEFINED


def _intervals(*spans: tuple[float, PackMLState]) -> Intervals:
    """Consecutive intervals from (duration s, state) pairs, starting at 0."""
    ends = np.cumsum([round(d * S) for d, _ in spans]).astype(np.int64)
    starts = np.concatenate([[0], ends[:-1]]).astype(np.int64)
    return Intervals(starts, ends, np.array([s for _, s in spans], dtype=np.int16))


def _stops(*spans: tuple[float, PackMLState], micro: float = 10, planned=()) -> list[Stop]:
    return find_stops("press1", timeline(_intervals(*spans), micro, planned))


def _summary(stops: list[Stop]) -> list[tuple[float, float, TimeCategory]]:
    return [(s.start_ns / S, s.end_ns / S, s.category) for s in stops]


# --- stops -------------------------------------------------------------------------------


def test_idle_then_down_is_one_stop_classed_as_breakdown() -> None:
    stops = _stops((10, EXE), (5, IDLE), (20, DOWN), (10, EXE))
    # idle 10..15 and down 15..35 are one event; 25 s ≥ the 10 s micro-stop limit
    assert _summary(stops) == [(10, 35, C.UNPLANNED_DOWN)]
    assert [(g.seconds, g.category) for g in stops[0].segments] == [
        (5, C.IDLE),
        (20, C.UNPLANNED_DOWN),
    ]
    assert stops[0].seconds == 25
    assert not stops[0].planned


def test_packml_recovery_states_stay_in_the_fault_stop() -> None:
    # Aborted → Clearing → Stopped → Idle → Starting: one breakdown, idle tail included
    stops = _stops((5, EXE), (30, DOWN), (5, P.CLEARING), (4, P.STOPPED), (6, IDLE), (5, EXE))
    assert _summary(stops) == [(5, 50, C.UNPLANNED_DOWN)]


def test_setup_and_micro_stops_are_stops_of_their_own() -> None:
    stops = _stops((10, EXE), (3, IDLE), (10, EXE), (60, HELD), (20, IDLE), (5, EXE))
    # 3 s idle between producing < 10 s: micro-stop; setup then idle: two stops
    assert _summary(stops) == [
        (10, 13, C.MICRO_STOP),
        (23, 83, C.SETUP),
        (83, 103, C.IDLE),
    ]


def test_planned_window_splits_a_stop_and_is_marked_planned() -> None:
    window = PlannedWindow(20 * S, 50 * S, C.BREAK)
    stops = _stops((10, EXE), (50, DOWN), (10, EXE), planned=[window])
    assert _summary(stops) == [
        (10, 20, C.UNPLANNED_DOWN),
        (20, 50, C.BREAK),
        (50, 60, C.UNPLANNED_DOWN),
    ]
    assert [s.planned for s in stops] == [False, True, False]


def test_unknown_state_ends_a_stop() -> None:
    stops = _stops((10, IDLE), (5, UNDEF), (10, IDLE))
    assert _summary(stops) == [(0, 10, C.IDLE), (15, 25, C.IDLE)]


def test_stops_at_the_range_edges_are_clipped_to_it() -> None:
    stops = _stops((30, DOWN), (10, EXE), (20, IDLE))
    assert _summary(stops) == [(0, 30, C.UNPLANNED_DOWN), (40, 60, C.IDLE)]


def test_no_stops_when_always_producing() -> None:
    assert _stops((100, EXE)) == []
    assert find_stops("press1", []) == []


def test_segments_with_a_gap_are_two_stops() -> None:
    segments = [Segment(0, 5 * S, C.IDLE), Segment(7 * S, 9 * S, C.IDLE)]
    assert _summary(find_stops("x", segments)) == [(0, 5, C.IDLE), (7, 9, C.IDLE)]


# --- reason catalog ------------------------------------------------------------------------

CATALOG = ReasonCatalog.model_validate(
    {
        101: {"text": "jam", "loss": "breakdowns", "category": "unplanned_down"},
        102: {"text": "motor fault", "loss": "breakdowns"},
        "201": {"text": "changeover", "loss": "setup_adjustments", "category": "setup"},
        301: {"text": "no material", "loss": "small_stops"},
    }
)


def test_catalog_accepts_yaml_ints_and_json_strings() -> None:
    assert CATALOG.spec(201, "here").text == "changeover"
    assert CATALOG.spec(101, "here").loss is LossClass.BREAKDOWNS


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({0: {"text": "ok", "loss": "breakdowns"}}, "greater than or equal to 1"),
        ({2**31: {"text": "x", "loss": "breakdowns"}}, "less than or equal"),
        ({1: {"text": "", "loss": "breakdowns"}}, "at least 1 character"),
        ({1: {"text": "x", "loss": "slow"}}, "breakdowns"),
        ({1: {"text": "x", "loss": "breakdowns", "category": "setup"}}, "setup_adjustments"),
        ({1: {"text": "x", "loss": "planned", "category": "producing"}}, "production loss"),
        ({1: {"text": "x", "loss": "breakdowns", "colour": "red"}}, "Extra inputs"),
    ],
)
def test_catalog_refuses_bad_entries(raw: dict[object, object], match: str) -> None:
    with pytest.raises(ValidationError, match=match):
        ReasonCatalog.model_validate(raw)


def test_unknown_code_names_where() -> None:
    with pytest.raises(UnknownReasonError, match="line 3: reason code 999 is not in the catalog"):
        CATALOG.spec(999, "line 3")


# --- automatic reasons ---------------------------------------------------------------------

STOPS = _stops((10, EXE), (20, DOWN), (10, EXE), (30, IDLE), (10, EXE))  # 10–30, 40–70


def _tag(*samples: tuple[float, float]) -> ReasonTag:
    ts = np.array([round(t * S) for t, _ in samples], dtype=np.int64)
    return ReasonTag(ts, np.array([v for _, v in samples]), "press1/fault_code")


def test_code_in_force_at_the_start_wins() -> None:
    # 102 set at 5 s still holds at 10 s (first stop); 0 from 30 s, 301 from 45 s
    tag = _tag((5, 102), (30, 0), (45, 301), (60, 101))
    assert automatic_codes(STOPS, tag) == [102, 301]


def test_first_nonzero_code_during_the_stop_when_none_at_start() -> None:
    # NaN (bad sample) is no code; 0 is no code; 101 appears at 12 s
    tag = _tag((0, np.nan), (11, 0), (12, 101), (13, 102), (70, 301))
    # second stop 40–70: 102 holds from 13 s through it (in force at 40 s)
    assert automatic_codes(STOPS, tag) == [101, 102]


def test_code_only_after_the_stop_is_no_code() -> None:
    tag = _tag((0, 0), (30, 101), (40, 0), (70, 102))
    # 101 appears exactly at the first stop's end (exclusive), 102 at the second's end
    assert automatic_codes(STOPS, tag) == [None, None]


@pytest.mark.parametrize("value", [-1.0, 1.5, 2.0**31])
def test_a_value_that_is_no_code_is_refused(value: float) -> None:
    with pytest.raises(InvalidInputError, match=r"press1/fault_code at t=3000000000 ns"):
        automatic_codes(STOPS, _tag((0, 0), (3, value)))


# --- operator reasons ----------------------------------------------------------------------


def _entry(t: float, code: int, user: str = "ana", equipment: str = "press1") -> OperatorEntry:
    return OperatorEntry(equipment, round(t * S), code, "see log", user)


def test_operator_entry_overrides_automatic_and_unassigned_stays() -> None:
    tag = _tag((0, 0), (12, 102))
    result = attribute(STOPS, CATALOG, tag=tag, entries=[_entry(15, 101)])
    first, second = result.stops
    assert first.reason is not None
    assert (first.reason.code, first.reason.source) == (101, ReasonSource.OPERATOR)
    assert (first.reason.comment, first.reason.user) == ("see log", "ana")
    assert second.reason is not None  # 102 holds from 12 s through the second stop
    assert (second.reason.code, second.reason.source) == (102, ReasonSource.AUTOMATIC)
    assert attribute(STOPS, CATALOG).stops[0].reason is None


def test_unknown_automatic_code_is_kept_under_its_number() -> None:
    result = attribute(STOPS, CATALOG, tag=_tag((0, 4711)))
    reason = result.stops[0].reason
    assert reason is not None
    assert (reason.code, reason.loss, reason.key) == (4711, None, "4711 (not in catalog)")


def test_entry_within_tolerance_matches_the_nearest_stop() -> None:
    # stops 10–30 and 40–70; an entry at 36 s is 6 s after the first, 4 s before the second
    result = attribute(STOPS, CATALOG, entries=[_entry(36, 301)], tolerance_s=8)
    assert [s.reason.code if s.reason else None for s in result.stops] == [None, 301]
    # without tolerance it matches nothing and is reported back
    result = attribute(STOPS, CATALOG, entries=[_entry(36, 301)])
    assert [s.reason for s in result.stops] == [None, None]
    assert result.unmatched == [_entry(36, 301)]


def test_entry_at_equal_distance_goes_to_the_earlier_stop() -> None:
    result = attribute(STOPS, CATALOG, entries=[_entry(35, 301)], tolerance_s=10)
    # 35 s is 5 s after the first stop (ends at 30 s) and 5 s before the second (40 s)
    assert [s.reason.code if s.reason else None for s in result.stops] == [301, None]


def test_unknown_operator_code_is_refused_even_when_unmatched() -> None:
    with pytest.raises(UnknownReasonError, match="by 'bo' for 'press1' at 500000000000 ns"):
        attribute(STOPS, CATALOG, entries=[_entry(500, 999, user="bo")])


def test_conflicting_entries_are_refused_and_duplicates_are_not() -> None:
    same = attribute(STOPS, CATALOG, entries=[_entry(12, 101), _entry(14, 101, "bo")])
    assert same.stops[0].reason is not None
    assert same.stops[0].reason.user == "ana"  # the earlier entry of the two
    with pytest.raises(ConflictingEntriesError, match=r"codes 101 \(by 'ana'\) and 102"):
        attribute(STOPS, CATALOG, entries=[_entry(12, 101), _entry(14, 102, "bo")])


def test_entries_of_other_equipment_are_ignored() -> None:
    result = attribute(STOPS, CATALOG, entries=[_entry(15, 101, equipment="press2")])
    assert result.stops[0].reason is None
    assert result.unmatched == []


def test_stops_of_several_equipment_are_refused() -> None:
    other = [Stop("press2", 0, S, C.IDLE, (Segment(0, S, C.IDLE),))]
    with pytest.raises(InvalidInputError, match="several equipment"):
        attribute([*STOPS, *other], CATALOG)


def test_an_entry_at_the_stop_end_is_outside_it_without_tolerance() -> None:
    # stops are [start, end): 30 s is the first instant after the first stop
    result = attribute(STOPS, CATALOG, entries=[_entry(30, 301)])
    assert result.unmatched == [_entry(30, 301)]
    result = attribute(STOPS, CATALOG, entries=[_entry(30, 301)], tolerance_s=0.5)
    assert result.stops[0].reason is not None


def test_an_entry_at_a_stops_start_goes_to_it_not_to_the_stop_ending_there() -> None:
    # down 10–30, then setup 30–50: two stops meeting at 30 s
    stops = _stops((10, EXE), (20, DOWN), (20, PackMLState.HELD), (10, EXE))
    assert _summary(stops)[1][0] == 30
    result = attribute(stops, CATALOG, entries=[_entry(30, 201)], tolerance_s=300)
    assert [s.reason.code if s.reason else None for s in result.stops] == [None, 201]
