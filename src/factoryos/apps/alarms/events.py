"""What the alarm engine reports: one immutable event per life-cycle transition."""

from dataclasses import dataclass
from enum import IntEnum, StrEnum


class Priority(IntEnum):
    """ISA-18.2 alarm priority, 1 (low) to 4 (urgent)."""

    LOW = 1
    MEDIUM = 2
    HIGH = 3
    URGENT = 4


class AlarmState(StrEnum):
    """The ISA-18.2 states of one alarm (see lifecycle.py for the transitions)."""

    NORMAL = "normal"
    UNACKED = "active_unacked"
    ACKED = "active_acked"
    RTN_UNACKED = "cleared_unacked"
    SHELVED = "shelved"
    OUT_OF_SERVICE = "out_of_service"


class EventKind(StrEnum):
    ACTIVATED = "activated"
    CLEARED = "cleared"
    ACKNOWLEDGED = "acknowledged"
    SHELVED = "shelved"
    UNSHELVED = "unshelved"
    REMOVED_FROM_SERVICE = "removed_from_service"
    RETURNED_TO_SERVICE = "returned_to_service"


@dataclass(frozen=True, slots=True)
class AlarmEvent:
    """A transition of one alarm at ``ts`` (ns since the epoch, UTC).

    ``ts`` is the time of the sample that caused it, the ``now`` of the ``tick`` that found a
    delay or timeout elapsed, or the ``now`` of an operator command. ``value`` is the sample
    value when a sample caused the event, otherwise ``None``. ``state`` is the alarm's state
    right after the event (what a restart restores from the history); None only for events
    built by hand, outside a life cycle.
    """

    ts: int
    alarm: str
    kind: EventKind
    priority: Priority
    value: float | None = None
    state: AlarmState | None = None
