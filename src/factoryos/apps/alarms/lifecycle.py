"""The ISA-18.2 state machine of one alarm, driven by its (debounced) condition and operators.

    NORMAL --condition--> UNACKED --ack--> ACKED --clear--> NORMAL
    UNACKED --clear--> RTN_UNACKED --ack--> NORMAL;  RTN_UNACKED --condition--> UNACKED
    any --shelve--> SHELVED --unshelve/expiry--> UNACKED (condition active) or NORMAL
    any --remove--> OUT_OF_SERVICE --return--> UNACKED (condition active) or NORMAL

While shelved or out of service the condition is still tracked, but nothing is annunciated:
no activated/cleared events and no activation counted.
"""

from dataclasses import dataclass

from factoryos.apps.alarms.errors import AlarmStateError
from factoryos.apps.alarms.events import AlarmEvent, AlarmState, EventKind, Priority

_SUPPRESSED = (AlarmState.SHELVED, AlarmState.OUT_OF_SERVICE)


@dataclass
class Lifecycle:
    name: str
    priority: Priority
    state: AlarmState = AlarmState.NORMAL
    active: bool = False  # the debounced process condition, tracked even when suppressed
    shelved_until: int | None = None
    activations: int = 0  # annunciated activations since the engine started

    def _event(self, ts: int, kind: EventKind, value: float | None = None) -> AlarmEvent:
        return AlarmEvent(ts, self.name, kind, self.priority, value, self.state)

    def condition(self, active: bool, ts: int, value: float | None) -> list[AlarmEvent]:
        """The debounced condition changed to ``active`` at ``ts``."""
        self.active = active
        if self.state in _SUPPRESSED:
            return []
        if active:
            return self._activate(ts, value)
        self.state = (
            AlarmState.RTN_UNACKED if self.state is AlarmState.UNACKED else (AlarmState.NORMAL)
        )
        return [self._event(ts, EventKind.CLEARED, value)]

    def _activate(self, ts: int, value: float | None) -> list[AlarmEvent]:
        self.state = AlarmState.UNACKED
        self.activations += 1
        return [self._event(ts, EventKind.ACTIVATED, value)]

    def acknowledge(self, ts: int) -> list[AlarmEvent]:
        """Acknowledge; a no-op (no event) when there is nothing unacknowledged."""
        if self.state is AlarmState.UNACKED:
            self.state = AlarmState.ACKED
        elif self.state is AlarmState.RTN_UNACKED:
            self.state = AlarmState.NORMAL
        else:
            return []
        return [self._event(ts, EventKind.ACKNOWLEDGED)]

    def shelve(self, until: int, ts: int) -> list[AlarmEvent]:
        if self.state is AlarmState.OUT_OF_SERVICE:
            raise AlarmStateError(f"alarm {self.name!r} is out of service; cannot shelve it")
        self.state = AlarmState.SHELVED
        self.shelved_until = until
        return [self._event(ts, EventKind.SHELVED)]

    def unshelve(self, ts: int) -> list[AlarmEvent]:
        if self.state is not AlarmState.SHELVED:
            raise AlarmStateError(f"alarm {self.name!r} is not shelved (it is {self.state})")
        self.shelved_until = None
        return self._back(ts, EventKind.UNSHELVED)

    def expire(self, now: int) -> list[AlarmEvent]:
        """Unshelve automatically once the shelving time is over."""
        if self.shelved_until is not None and now >= self.shelved_until:
            return self.unshelve(now)
        return []

    def remove_from_service(self, ts: int) -> list[AlarmEvent]:
        if self.state is AlarmState.OUT_OF_SERVICE:
            return []
        self.state = AlarmState.OUT_OF_SERVICE
        self.shelved_until = None
        return [self._event(ts, EventKind.REMOVED_FROM_SERVICE)]

    def return_to_service(self, ts: int) -> list[AlarmEvent]:
        if self.state is not AlarmState.OUT_OF_SERVICE:
            raise AlarmStateError(f"alarm {self.name!r} is not out of service")
        return self._back(ts, EventKind.RETURNED_TO_SERVICE)

    def _back(self, ts: int, kind: EventKind) -> list[AlarmEvent]:
        """Back from suppression (the event records NORMAL): a still-active condition is
        then annunciated anew."""
        self.state = AlarmState.NORMAL
        back = self._event(ts, kind)
        return [back, *self._activate(ts, None)] if self.active else [back]

    def restore(self, state: AlarmState, shelved_until: int | None) -> None:
        """Take up the state a previous run left (from the alarm history). The condition is
        taken as active exactly when the state says so; while suppressed it is unknown until
        the next samples, so it starts inactive."""
        self.state = state
        self.active = state in (AlarmState.UNACKED, AlarmState.ACKED)
        self.shelved_until = shelved_until if state is AlarmState.SHELVED else None
