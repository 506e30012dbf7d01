"""Per-sample signals of the value-based rules (+1 activate, -1 clear, 0 hold), in numpy.

Each condition sees only the good-quality samples of its tag, in time order. NaN compares
false both ways, so an unknown reference or rate yields 0 (hold) by construction.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from factoryos.apps.alarms.rules import DeviationRule, LimitRule, RateRule, StateRule
from factoryos.model.samples import SampleBatch

Floats = npt.NDArray[np.float64]
Signal = npt.NDArray[np.int8]


def _signal(activate: npt.NDArray[np.bool_], clear: npt.NDArray[np.bool_]) -> Signal:
    return activate.astype(np.int8) - clear.astype(np.int8)


def above(x: Floats, limit: float, deadband: float) -> Signal:
    """Activate above ``limit``, clear at or below ``limit - deadband``."""
    return _signal(x > limit, x <= limit - deadband)


def below(x: Floats, limit: float, deadband: float) -> Signal:
    """Activate below ``limit``, clear at or above ``limit + deadband``."""
    return _signal(x < limit, x >= limit + deadband)


class Condition(Protocol):
    def signal(self, ts: npt.NDArray[np.int64], values: Floats, good: SampleBatch) -> Signal:
        """Signals for the samples (``ts``, ``values``) of the rule's tag; ``good`` is the
        whole batch (good samples only, time-ordered) for rules that read other tags."""
        ...


@dataclass
class LimitCondition:
    rule: LimitRule

    def signal(self, ts: npt.NDArray[np.int64], values: Floats, good: SampleBatch) -> Signal:
        r = self.rule
        return (above if r.is_high else below)(values, r.setpoint, r.deadband)


@dataclass
class StateCondition:
    rule: StateRule

    def signal(self, ts: npt.NDArray[np.int64], values: Floats, good: SampleBatch) -> Signal:
        hit = values == self.rule.value
        return _signal(hit, ~hit)


@dataclass
class RateCondition:
    """Rate between consecutive good samples; the previous one is carried across batches."""

    rule: RateRule
    prev_ts: int | None = None
    prev_value: float = np.nan

    def signal(self, ts: npt.NDArray[np.int64], values: Floats, good: SampleBatch) -> Signal:
        if len(ts) == 0:
            return np.zeros(0, dtype=np.int8)
        first_ts = ts[0] if self.prev_ts is None else self.prev_ts
        all_ts = np.concatenate(([first_ts], ts))
        all_values = np.concatenate(([self.prev_value], values))
        dt_s = np.diff(all_ts).astype(np.float64) / 1e9
        with np.errstate(divide="ignore", invalid="ignore"):
            rate = np.abs(np.diff(all_values) / np.where(dt_s > 0, dt_s, np.nan))
        self.prev_ts, self.prev_value = int(ts[-1]), float(values[-1])
        return above(rate, self.rule.limit_per_s, self.rule.deadband)


@dataclass
class DeviationCondition:
    """Deviation from a setpoint or from the latest good value of a reference tag at or
    before each sample (samples of the reference tag alone do not re-evaluate)."""

    rule: DeviationRule
    last_ref: float = np.nan

    def _reference(self, ts: npt.NDArray[np.int64], good: SampleBatch) -> Floats:
        if self.rule.setpoint is not None:
            return np.full(len(ts), self.rule.setpoint)
        mask = good.tag_ids == self.rule.reference_tag_id
        ref_ts, ref_values = good.ts[mask], good.values[mask]
        if len(ref_ts) == 0:
            return np.full(len(ts), self.last_ref)
        at = np.searchsorted(ref_ts, ts, side="right") - 1
        ref = np.where(at >= 0, ref_values[np.maximum(at, 0)], self.last_ref)
        self.last_ref = float(ref_values[-1])
        return ref

    def remember(self, slices: Mapping[int, tuple[npt.NDArray[np.int64], Floats]]) -> None:
        """Keep the newest reference value of a batch holding none of the rule's own tag."""
        found = slices.get(self.rule.reference_tag_id or -1)
        if found is not None and len(found[1]):
            self.last_ref = float(found[1][-1])

    def signal(self, ts: npt.NDArray[np.int64], values: Floats, good: SampleBatch) -> Signal:
        deviation = np.abs(values - self._reference(ts, good))
        return above(deviation, self.rule.limit, self.rule.deadband)


def condition_for(rule: LimitRule | DeviationRule | RateRule | StateRule) -> Condition:
    if isinstance(rule, LimitRule):
        return LimitCondition(rule)
    if isinstance(rule, DeviationRule):
        return DeviationCondition(rule)
    if isinstance(rule, RateRule):
        return RateCondition(rule)
    return StateCondition(rule)
