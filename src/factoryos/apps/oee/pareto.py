"""Pareto of downtime: which reasons (or equipment) cost the most time.

Rows are sorted by seconds, descending; keys with equal seconds keep the order in which
they first appear in the input (a stable sort), so the same stops always give the same
table. With ``top_n``, the rows after the first ``top_n`` are summed into one ``other`` row
at the end. Stops without a reason are the ``unassigned`` row: never dropped.
"""

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum

from factoryos.apps.oee.errors import InvalidInputError
from factoryos.apps.oee.stops import Stop

UNASSIGNED = "unassigned"
OTHER = "other"


@dataclass(frozen=True, slots=True)
class ParetoRow:
    """One row; ``other`` marks the bucket of the rows after ``top_n``."""

    key: str
    seconds: float
    count: int
    share: float
    cumulative: float
    other: bool = False


def pareto(items: Iterable[tuple[str, float]], top_n: int | None = None) -> list[ParetoRow]:
    """Rows from ``(key, seconds)`` items, one item per event."""
    if top_n is not None and top_n < 1:
        raise InvalidInputError(f"pareto: top_n must be ≥ 1, got {top_n}")
    seconds: dict[str, float] = {}
    counts: dict[str, int] = {}
    for key, s in items:
        if not math.isfinite(s) or s < 0:
            raise InvalidInputError(f"pareto: {key!r} has {s!r} s, not a time ≥ 0")
        seconds[key] = seconds.get(key, 0.0) + s
        counts[key] = counts.get(key, 0) + 1
    ranked = sorted(seconds, key=lambda k: -seconds[k])
    groups = [([k], False) for k in ranked]
    if top_n is not None and len(ranked) > top_n:
        groups = [*groups[:top_n], (ranked[top_n:], True)]
    sums = [sum(seconds[k] for k in keys) for keys, _ in groups]
    total = sum(sums)  # added in row order, so the last cumulative share is exactly 1
    rows: list[ParetoRow] = []
    running = 0.0
    for (keys, other), s in zip(groups, sums, strict=True):
        running += s
        share, cumulative = (s / total, running / total) if total > 0 else (0.0, 0.0)
        key = OTHER if other else keys[0]
        rows.append(ParetoRow(key, s, sum(counts[k] for k in keys), share, cumulative, other))
    return rows


class ParetoBy(StrEnum):
    REASON = "reason"
    EQUIPMENT = "equipment"
    CATEGORY = "category"


def _reason(stop: Stop) -> str:
    return UNASSIGNED if stop.reason is None else stop.reason.key


_KEYS: dict[ParetoBy, Callable[[Stop], str]] = {
    ParetoBy.REASON: _reason,
    ParetoBy.EQUIPMENT: lambda stop: stop.equipment,
    ParetoBy.CATEGORY: lambda stop: stop.category.value,
}


def downtime_pareto(
    stops: Sequence[Stop],
    by: ParetoBy,
    top_n: int | None = None,
    *,
    include_planned: bool = False,
) -> list[ParetoRow]:
    """Pareto of the stops' time by reason, equipment or category; planned stops are left
    out unless ``include_planned`` (a break is not downtime to fix)."""
    key = _KEYS[by]
    chosen = (s for s in stops if include_planned or not s.planned)
    return pareto(((key(s), s.seconds) for s in chosen), top_n)
