"""Attaching reasons to the stops of one equipment.

1. **Automatic**: the machine's reason tag (e.g. a PLC first-out fault code) sampled as
   ``(ts_ns, value)``. A stop gets the code in force when it started if that is non-zero,
   else the first non-zero code sampled during the stop: a machine that went idle (code 0)
   and then faulted is explained by the fault, and a code set a few milliseconds after the
   state changed still counts. NaN (a BAD sample) is no code.
2. **Operator**: an :class:`~.reasons.OperatorEntry` matches the stop of its equipment
   whose span ``[start − tolerance, end + tolerance)`` holds the entry's ``start_ns``
   (the nearest such stop, the earlier one on a tie). It overrides the automatic reason.
3. A stop with neither stays unassigned (``reason`` None).

An entry naming a code outside the catalog is refused (:class:`~.reasons.UnknownReasonError`),
and two entries with different codes for one stop are a :class:`ConflictingEntriesError`:
which of them is right is the operators' call, not a rule's.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import numpy.typing as npt

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.reasons import (
    MAX_CODE,
    OperatorEntry,
    Reason,
    ReasonCatalog,
    automatic_reason,
    operator_reason,
)
from factoryos.apps.oee.state import NS_PER_S
from factoryos.apps.oee.stops import Stop


class ConflictingEntriesError(InvalidInputError):
    """Operator entries with different codes match the same stop."""


@dataclass(frozen=True, slots=True)
class ReasonTag:
    """Samples of a machine's numeric reason tag: codes (as floats, NaN = no value)."""

    ts_ns: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    name: str = "reason tag"


@dataclass(frozen=True, slots=True)
class Attribution:
    """The stops with their reasons, and the operator entries that matched no stop."""

    stops: list[Stop]
    unmatched: list[OperatorEntry]


def _codes(tag: ReasonTag) -> npt.NDArray[np.int64]:
    """Valid codes, 0 where the sample holds no code; a code that cannot be one is refused."""
    ts = np.asarray(tag.ts_ns, dtype=np.int64)
    values = np.asarray(tag.values, dtype=np.float64)
    if ts.shape != values.shape or ts.ndim != 1:
        raise InvalidInputError(f"{tag.name}: timestamps and values differ in length")
    if np.any(np.diff(ts) <= 0):
        raise InvalidInputError(f"{tag.name}: timestamps are not increasing")
    known = ~np.isnan(values)
    bad = known & ((values < 0) | (values > MAX_CODE) | (values != np.floor(values)))
    if np.any(bad):
        k = int(np.flatnonzero(bad)[0])
        raise InvalidInputError(f"{tag.name} at t={int(ts[k])} ns: {values[k]!r} is not a code")
    return np.where(known, values, 0.0).astype(np.int64)


def automatic_codes(stops: Sequence[Stop], tag: ReasonTag) -> list[int | None]:
    """Per stop, the first non-zero code in force during it; None when there is none."""
    ts = np.asarray(tag.ts_ns, dtype=np.int64)
    codes = _codes(tag)
    out: list[int | None] = []
    for stop in stops:
        # From the sample in force at the start (if any) to the last one before the end.
        first = max(int(np.searchsorted(ts, stop.start_ns, side="right")) - 1, 0)
        last = int(np.searchsorted(ts, stop.end_ns, side="left"))
        window = codes[first:last]
        nonzero = np.flatnonzero(window)
        out.append(int(window[nonzero[0]]) if nonzero.size else None)
    return out


def _match(stops: Sequence[Stop], entry: OperatorEntry, tolerance_ns: int) -> int | None:
    """Index of the nearest stop whose ``[start − tol, end + tol)`` holds the entry's start;
    a stop holding it wins a tie (one ending where the next starts is over), then the
    earlier stop."""
    t = entry.start_ns
    best: tuple[int, bool, int] | None = None
    for k, stop in enumerate(stops):
        if not stop.start_ns - tolerance_ns <= t < stop.end_ns + tolerance_ns:
            continue
        outside = not stop.start_ns <= t < stop.end_ns
        rank = (max(stop.start_ns - t, t - stop.end_ns, 0), outside, k)
        if best is None or rank < best:
            best = rank
    return None if best is None else best[2]


def _operator_reasons(
    stops: Sequence[Stop],
    catalog: ReasonCatalog,
    entries: Sequence[OperatorEntry],
    tolerance_ns: int,
) -> tuple[dict[int, Reason], list[OperatorEntry]]:
    chosen: dict[int, tuple[OperatorEntry, Reason]] = {}
    unmatched: list[OperatorEntry] = []
    for entry in sorted(entries, key=lambda e: e.start_ns):
        reason = operator_reason(catalog, entry)  # refuses unknown codes, matched or not
        k = _match(stops, entry, tolerance_ns)
        if k is None:
            unmatched.append(entry)
        elif k not in chosen:
            chosen[k] = (entry, reason)
        elif chosen[k][0].code != entry.code:
            first = chosen[k][0]
            raise ConflictingEntriesError(
                f"stop of {stops[k].equipment!r} at {stops[k].start_ns} ns: operator entries "
                f"with codes {first.code} (by {first.user!r}) and {entry.code} "
                f"(by {entry.user!r}); keep one"
            )
    return {k: reason for k, (_, reason) in chosen.items()}, unmatched


def attribute(
    stops: Sequence[Stop],
    catalog: ReasonCatalog,
    *,
    tag: ReasonTag | None = None,
    entries: Sequence[OperatorEntry] = (),
    tolerance_s: float = 0.0,
) -> Attribution:
    """Reasons for the stops of **one** equipment; entries for other equipment are ignored."""
    names = {s.equipment for s in stops}
    if len(names) > 1:
        raise InvalidInputError(f"attribute: stops of several equipment {sorted(names)}")
    if not math.isfinite(tolerance_s) or tolerance_s < 0:
        raise InvalidInputError(f"tolerance_s must be a finite time ≥ 0 s, got {tolerance_s}")
    equipment = next(iter(names), None)
    mine = [e for e in entries if e.equipment == equipment or equipment is None]
    by_operator, unmatched = _operator_reasons(stops, catalog, mine, round(tolerance_s * NS_PER_S))
    auto = automatic_codes(stops, tag) if tag is not None else [None] * len(stops)
    out: list[Stop] = []
    for k, (stop, code) in enumerate(zip(stops, auto, strict=True)):
        reason = by_operator.get(k)
        if reason is None and code is not None:
            reason = automatic_reason(catalog, code)
        out.append(replace(stop, reason=reason))
    return Attribution(out, unmatched)
