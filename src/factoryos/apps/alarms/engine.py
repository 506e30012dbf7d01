"""The alarm engine: rules in, sample batches and clock ticks in, life-cycle events out.

Pure and single-threaded: the caller (:mod:`factoryos.apps.alarms.processor`) feeds every
batch to :meth:`AlarmEngine.process` and calls :meth:`AlarmEngine.tick` about once a second
so that on/off delays, stale timeouts and shelving expiry fire without new samples.

Samples of BAD quality are dropped before any rule sees them: they neither activate nor
clear an alarm, and they do not count as data for stale rules.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.apps.alarms.conditions import Condition, DeviationCondition, condition_for
from factoryos.apps.alarms.debounce import Debouncer
from factoryos.apps.alarms.errors import AlarmStateError, UnknownAlarmError
from factoryos.apps.alarms.events import AlarmEvent, AlarmState, Priority
from factoryos.apps.alarms.lifecycle import Lifecycle
from factoryos.apps.alarms.rules import AlarmRule, StaleRule, check_unique, seconds_to_ns
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch

I64 = npt.NDArray[np.int64]
F64 = npt.NDArray[np.float64]

DEFAULT_MAX_SHELVE_S = 8 * 3600.0  # a shift: shelving is temporary by definition


@dataclass(frozen=True, slots=True)
class AlarmStatus:
    """A snapshot of one alarm for display."""

    name: str
    state: AlarmState
    condition_active: bool
    activations: int
    shelved_until: int | None
    priority: Priority


@dataclass
class _ValueAlarm:
    tag_id: int
    condition: Condition
    debouncer: Debouncer
    life: Lifecycle

    def process(self, good: SampleBatch, ts: I64, values: F64) -> list[AlarmEvent]:
        """``ts``/``values``: this alarm's tag's samples in ``good`` (time order)."""
        events = []
        for i, active in self.debouncer.feed(ts, self.condition.signal(ts, values, good)):
            events += self.life.expire(int(ts[i]))
            events += self.life.condition(active, int(ts[i]), float(values[i]))
        return events

    def restore(self, state: AlarmState, shelved_until: int | None) -> None:
        self.life.restore(state, shelved_until)
        # The debouncer must agree with the restored condition, or a normal sample would
        # never clear an alarm restored as active.
        self.debouncer.raw = self.debouncer.confirmed = self.life.active

    def tick(self, now: int) -> list[AlarmEvent]:
        if self.debouncer.due(now):
            return self.life.condition(self.debouncer.confirmed, now, None)
        return []


@dataclass
class _StaleAlarm:
    tag_id: int
    timeout_ns: int
    life: Lifecycle
    last_seen: int | None = None  # last good sample, or the first tick (start of watching)

    def process(self, good: SampleBatch, ts: I64, values: F64) -> list[AlarmEvent]:
        first, last = int(ts[0]), int(ts[-1])
        self.last_seen = last if self.last_seen is None else max(last, self.last_seen)
        if not self.life.active:
            return []
        return self.life.expire(first) + self.life.condition(False, first, float(values[0]))

    def restore(self, state: AlarmState, shelved_until: int | None) -> None:
        self.life.restore(state, shelved_until)

    def tick(self, now: int) -> list[AlarmEvent]:
        if self.last_seen is None:
            self.last_seen = now
        if self.life.active or now - self.last_seen < self.timeout_ns:
            return []
        return self.life.condition(True, now, None)


_Alarm = _ValueAlarm | _StaleAlarm


def _build(rule: AlarmRule) -> _Alarm:
    life = Lifecycle(rule.name, rule.priority)
    if isinstance(rule, StaleRule):
        return _StaleAlarm(rule.tag_id, seconds_to_ns(rule.timeout_s), life)
    debouncer = Debouncer(seconds_to_ns(rule.on_delay_s), seconds_to_ns(rule.off_delay_s))
    return _ValueAlarm(rule.tag_id, condition_for(rule), debouncer, life)


def _by_tag(good: SampleBatch) -> dict[int, tuple[I64, F64]]:
    """Each tag's samples of a time-ordered batch, in time order: one sort per batch, so a
    rule costs nothing when its tag is not in the batch (thousands of rules stay cheap)."""
    if len(good) == 0:
        return {}
    order = np.argsort(good.tag_ids, kind="stable")
    tags = good.tag_ids[order]
    firsts = np.flatnonzero(np.append(True, tags[1:] != tags[:-1]))
    ends = np.append(firsts[1:], tags.size)
    return {
        int(tags[a]): (good.ts[order[a:b]], good.values[order[a:b]])
        for a, b in zip(firsts.tolist(), ends.tolist(), strict=True)
    }


def _by_time(events: list[AlarmEvent]) -> list[AlarmEvent]:
    return sorted(events, key=lambda e: e.ts)  # stable: per-alarm order is kept


class AlarmEngine:
    """Evaluates alarm rules over sample batches and keeps each alarm's ISA-18.2 state."""

    def __init__(
        self, rules: Sequence[AlarmRule], *, max_shelve_s: float = DEFAULT_MAX_SHELVE_S
    ) -> None:
        check_unique(rules)
        self._alarms = {rule.name: _build(rule) for rule in rules}
        self._max_shelve_ns = seconds_to_ns(max_shelve_s)

    def process(self, batch: SampleBatch) -> list[AlarmEvent]:
        """Events caused by ``batch`` (any order of tags and times), in time order."""
        good = batch.take(batch.quality != Quality.BAD)
        good = good.take(np.argsort(good.ts, kind="stable"))
        slices = _by_tag(good)
        events: list[AlarmEvent] = []
        for alarm in self._alarms.values():  # rule order, so equal times keep it
            found = slices.get(alarm.tag_id)
            if found is not None:
                events += alarm.process(good, *found)
            elif isinstance(alarm, _ValueAlarm) and isinstance(alarm.condition, DeviationCondition):
                # The reference may arrive in batches of its own (another device, poll rate).
                alarm.condition.remember(slices)
        return _by_time(events)

    def tick(self, now_ns: int) -> list[AlarmEvent]:
        """Events due by ``now_ns``: elapsed delays, stale tags, shelving expiry."""
        events: list[AlarmEvent] = []
        for alarm in self._alarms.values():
            events += alarm.life.expire(now_ns)
            events += alarm.tick(now_ns)
        return _by_time(events)

    def _life(self, name: str) -> Lifecycle:
        try:
            return self._alarms[name].life
        except KeyError:
            raise UnknownAlarmError(f"no alarm named {name!r}") from None

    def acknowledge(self, name: str, now_ns: int) -> list[AlarmEvent]:
        return self._life(name).acknowledge(now_ns)

    def shelve(self, name: str, until_ns: int, now_ns: int) -> list[AlarmEvent]:
        """Shelve until ``until_ns``, at most ``max_shelve_s`` ahead of ``now_ns``."""
        if not now_ns < until_ns <= now_ns + self._max_shelve_ns:
            raise AlarmStateError(
                f"alarm {name!r}: shelve end must be after now and at most "
                f"{self._max_shelve_ns / 1e9:g} s ahead"
            )
        return self._life(name).shelve(until_ns, now_ns)

    def unshelve(self, name: str, now_ns: int) -> list[AlarmEvent]:
        return self._life(name).unshelve(now_ns)

    def remove_from_service(self, name: str, now_ns: int) -> list[AlarmEvent]:
        return self._life(name).remove_from_service(now_ns)

    def return_to_service(self, name: str, now_ns: int) -> list[AlarmEvent]:
        return self._life(name).return_to_service(now_ns)

    def restore(self, name: str, state: AlarmState, shelved_until: int | None) -> None:
        """Set an alarm to the state a previous run left it in (no event): an unacknowledged
        alarm stays unacknowledged, a shelved one shelved until ``shelved_until``."""
        alarm = self._alarms.get(name)
        if alarm is None:
            raise UnknownAlarmError(f"no alarm named {name!r}")
        alarm.restore(state, shelved_until)

    def status(self, name: str) -> AlarmStatus:
        life = self._life(name)
        return AlarmStatus(
            life.name, life.state, life.active, life.activations, life.shelved_until, life.priority
        )

    @property
    def names(self) -> list[str]:
        return list(self._alarms)
