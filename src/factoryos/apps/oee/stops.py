"""Stop events of one equipment, from its categorized timeline (:func:`~.state.timeline`).

A **stop** is a maximal run of non-production time that one reason explains:

- idle and unplanned-down time that follow each other are **one** stop. PackML's recovery
  from a fault runs Aborted → Clearing → Stopped → Resetting → Idle → Starting → Execute,
  so a breakdown always ends in idle states; the operator (and the PLC's first-out code)
  gives one reason for the whole event. :func:`~.state.categorize` already treats such a
  run as one stop when it decides micro-stops. Its category is ``unplanned_down`` if any
  of it was, else ``idle``; :attr:`Stop.segments` keeps the exact time per category;
- a setup, a micro-stop and each planned category (break, no shift …) are stops of their
  own: a changeover or a break has its own reason;
- production and unknown time (no state known) end a stop.

A stop cut by the range asked for starts or ends at the range edge.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from factoryos.apps.oee.reasons import Reason
from factoryos.apps.oee.state import NS_PER_S, PLANNED_CATEGORIES, Segment
from factoryos.apps.oee.taxonomy import TimeCategory

_C = TimeCategory
# Categories that merge into one stop when adjacent; every other one stands alone.
_UNPLANNED_STOP = frozenset({_C.IDLE, _C.UNPLANNED_DOWN})


@dataclass(frozen=True, slots=True)
class Stop:
    """One stop ``[start_ns, end_ns)`` of ``equipment``; ``reason`` None = unassigned."""

    equipment: str
    start_ns: int
    end_ns: int
    category: TimeCategory
    segments: tuple[Segment, ...]
    reason: Reason | None = None

    @property
    def planned(self) -> bool:
        return self.category in PLANNED_CATEGORIES

    @property
    def seconds(self) -> float:
        return (self.end_ns - self.start_ns) / NS_PER_S


def _group(category: TimeCategory | None) -> str | None:
    """Segments with the same group that follow each other form one stop."""
    if category is None or category is _C.PRODUCING:
        return None
    return "unplanned" if category in _UNPLANNED_STOP else category.value


def _stop(equipment: str, run: list[Segment]) -> Stop:
    categories = {seg.category for seg in run}
    category = run[0].category
    if _C.UNPLANNED_DOWN in categories:
        category = _C.UNPLANNED_DOWN
    assert category is not None  # runs never hold unknown time
    return Stop(equipment, run[0].start_ns, run[-1].end_ns, category, tuple(run))


def find_stops(equipment: str, segments: Sequence[Segment]) -> list[Stop]:
    """The stops in ``segments`` (time-ordered, as :func:`~.state.timeline` gives them)."""
    stops: list[Stop] = []
    run: list[Segment] = []
    for seg in segments:
        group = _group(seg.category)
        contiguous = bool(run) and run[-1].end_ns == seg.start_ns
        if run and (group != _group(run[-1].category) or not contiguous):
            stops.append(_stop(equipment, run))
            run = []
        if group is not None:
            run.append(seg)
    if run:
        stops.append(_stop(equipment, run))
    return stops
