"""Quantities from cumulative part counters, with resets and rollovers handled.

A PLC part counter only grows, until it is reset (operator, new order, power cycle) or
wraps at its register size. :func:`counter_increase` turns its samples into the number of
parts counted over the samples' span:

- between two samples ``dt`` apart the counter can plausibly count ``limit = max_step +
  max_rate × dt`` parts (either term may be absent): ``max_step`` covers the usual sampling
  interval, ``max_rate`` (parts per hour) lets a counter read again after a long outage rise
  by what the machine could make meanwhile;
- an increase adds the difference;
- a drop is a **rollover** when the counter has a ``modulus`` and the wrapped difference
  ``new + modulus - old`` is at most ``limit``; it adds that difference;
- any other drop is a **reset**: the counter restarted from 0, so it adds the new value
  (parts counted between the last sample and the reset are lost: sample faster than a
  reset can happen if that matters); with ``allow_resets=False`` it is an error instead;
- an increase above ``limit``, a silence long enough for a wrapping counter to turn a whole
  round unseen (``limit`` at or above the modulus: the count across it cannot be known), a
  negative, NaN or fractional value, a value at or above the modulus, or out-of-order times
  raise :class:`~.errors.CounterError` naming the tag and the sample time.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from factoryos.apps.oee.errors import CounterError

NS_PER_H = 3_600_000_000_000


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """How to read one counter tag.

    ``modulus``: the counter wraps to 0 at this value (``2**16``, ``2**32``); None when it
    does not wrap. The largest plausible increase between two samples ``dt`` apart is
    ``max_step + max_rate × dt`` (``max_rate`` in parts per hour); one of them is required
    with a modulus, because that is what tells a rollover from a reset.
    """

    tag: str
    modulus: int | None = None
    max_step: int | None = None
    allow_resets: bool = True
    max_rate: float | None = None

    def __post_init__(self) -> None:
        if self.modulus is not None and self.modulus < 2:
            raise CounterError(f"counter {self.tag!r}: modulus must be ≥ 2")
        if self.max_step is not None and self.max_step < 1:
            raise CounterError(f"counter {self.tag!r}: max_step must be ≥ 1")
        if self.max_rate is not None and not self.max_rate > 0:
            raise CounterError(f"counter {self.tag!r}: max_rate must be > 0")
        unbounded = self.max_step is None and self.max_rate is None
        if self.modulus is not None and (unbounded or (self.max_step or 0) >= self.modulus):
            raise CounterError(
                f"counter {self.tag!r}: a wrapping counter needs max_step < modulus or a "
                "max_rate to tell a rollover from a reset"
            )

    def limit(self, dt_ns: int) -> float | None:
        """The most parts it can count in ``dt_ns``; None: unbounded."""
        if self.max_step is None and self.max_rate is None:
            return None
        return (self.max_step or 0) + (self.max_rate or 0.0) * dt_ns / NS_PER_H


def _value(spec: CounterSpec, t_ns: int, value: float) -> int:
    where = f"counter {spec.tag!r} at t={t_ns} ns"
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise CounterError(f"{where}: {value!r} is not a count ≥ 0")
    if spec.modulus is not None and value >= spec.modulus:
        raise CounterError(f"{where}: {value!r} is not below the modulus {spec.modulus}")
    return int(value)


def _step(spec: CounterSpec, t_ns: int, dt_ns: int, old: int, new: int) -> int:
    """Parts counted between two consecutive samples ``dt_ns`` apart."""
    where = f"counter {spec.tag!r} at t={t_ns} ns"
    limit = spec.limit(dt_ns)
    if spec.modulus is not None and limit is not None and limit >= spec.modulus:
        raise CounterError(
            f"{where}: {dt_ns / 1e9:.0f} s since the last sample, long enough at max_rate "
            f"{spec.max_rate:g}/h to turn the counter a whole round (modulus {spec.modulus}) "
            "unseen: the count across it cannot be known"
        )
    if new >= old:
        step = new - old
        if limit is not None and step > limit:
            raise CounterError(f"{where}: jump {old} → {new} exceeds {_limit_text(spec, limit)}")
        return step
    if spec.modulus is not None and limit is not None:
        wrapped = new + spec.modulus - old
        if wrapped <= limit:
            return wrapped
    if not spec.allow_resets:
        raise CounterError(f"{where}: decreased {old} → {new} and resets are not allowed")
    return new


def _limit_text(spec: CounterSpec, limit: float) -> str:
    if spec.max_rate is None:
        return f"max_step {spec.max_step}"
    return f"the {limit:g} parts max_step {spec.max_step or 0} + max_rate {spec.max_rate:g}/h allow"


def counter_increase(spec: CounterSpec, samples: Sequence[tuple[int, float]]) -> int:
    """Parts counted over ``samples``, a time-ordered sequence of ``(t_ns, value)``.

    One sample gives 0 (no change observed); no sample at all is an error, because "no
    data" must not read as "no parts".
    """
    if not samples:
        raise CounterError(f"counter {spec.tag!r}: no samples in the period")
    prev_t, first = samples[0]
    old = _value(spec, prev_t, first)
    total = 0
    for t_ns, raw in samples[1:]:
        if t_ns <= prev_t:
            raise CounterError(
                f"counter {spec.tag!r} at t={t_ns} ns: not after the previous sample "
                f"at t={prev_t} ns"
            )
        new = _value(spec, t_ns, raw)
        total += _step(spec, t_ns, t_ns - prev_t, old, new)
        prev_t, old = t_ns, new
    return total
