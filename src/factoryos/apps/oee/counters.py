"""Quantities from cumulative part counters, with resets and rollovers handled.

A PLC part counter only grows, until it is reset (operator, new order, power cycle) or
wraps at its register size. :func:`counter_increase` turns its samples into the number of
parts counted over the samples' span:

- an increase adds the difference;
- a drop is a **rollover** when the counter has a ``modulus`` and the wrapped difference
  ``new + modulus - old`` is at most ``max_step``; it adds that difference;
- any other drop is a **reset**: the counter restarted from 0, so it adds the new value
  (parts counted between the last sample and the reset are lost: sample faster than a
  reset can happen if that matters); with ``allow_resets=False`` it is an error instead;
- an increase above ``max_step``, a negative, NaN or fractional value, a value at or above
  the modulus, or out-of-order times raise :class:`~.errors.CounterError` naming the tag
  and the sample time.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass

from factoryos.apps.oee.errors import CounterError


@dataclass(frozen=True, slots=True)
class CounterSpec:
    """How to read one counter tag.

    ``modulus``: the counter wraps to 0 at this value (``2**16``, ``2**32``); None when it
    does not wrap. ``max_step``: the largest plausible increase between two samples; it
    is required with a modulus, because it is what tells a rollover from a reset.
    """

    tag: str
    modulus: int | None = None
    max_step: int | None = None
    allow_resets: bool = True

    def __post_init__(self) -> None:
        if self.modulus is not None and self.modulus < 2:
            raise CounterError(f"counter {self.tag!r}: modulus must be ≥ 2")
        if self.max_step is not None and self.max_step < 1:
            raise CounterError(f"counter {self.tag!r}: max_step must be ≥ 1")
        if self.modulus is not None and (self.max_step is None or self.max_step >= self.modulus):
            raise CounterError(
                f"counter {self.tag!r}: a wrapping counter needs 1 ≤ max_step < modulus "
                "to tell a rollover from a reset"
            )


def _value(spec: CounterSpec, t_ns: int, value: float) -> int:
    where = f"counter {spec.tag!r} at t={t_ns} ns"
    if not math.isfinite(value) or value < 0 or value != int(value):
        raise CounterError(f"{where}: {value!r} is not a count ≥ 0")
    if spec.modulus is not None and value >= spec.modulus:
        raise CounterError(f"{where}: {value!r} is not below the modulus {spec.modulus}")
    return int(value)


def _step(spec: CounterSpec, t_ns: int, old: int, new: int) -> int:
    """Parts counted between two consecutive samples."""
    where = f"counter {spec.tag!r} at t={t_ns} ns"
    if new >= old:
        step = new - old
        if spec.max_step is not None and step > spec.max_step:
            raise CounterError(f"{where}: jump {old} → {new} exceeds max_step {spec.max_step}")
        return step
    if spec.modulus is not None and spec.max_step is not None:
        wrapped = new + spec.modulus - old
        if wrapped <= spec.max_step:
            return wrapped
    if not spec.allow_resets:
        raise CounterError(f"{where}: decreased {old} → {new} and resets are not allowed")
    return new


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
        total += _step(spec, t_ns, old, new)
        prev_t, old = t_ns, new
    return total
