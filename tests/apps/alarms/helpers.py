"""Small builders shared by the alarm tests."""

from collections.abc import Sequence

from factoryos.apps.alarms import AlarmEvent, EventKind
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch

S = 1_000_000_000  # one second in ns


def series(
    tag: int, values: Sequence[float], step_s: float = 1.0, t0_s: float = 0.0
) -> SampleBatch:
    """Samples of one tag at ``t0_s, t0_s + step_s, …`` seconds."""
    ts = [round((t0_s + i * step_s) * S) for i in range(len(values))]
    return SampleBatch.build([tag] * len(values), ts, values)


def bad(tag: int, value: float, t_s: float) -> SampleBatch:
    return SampleBatch.build([tag], [round(t_s * S)], [value], [Quality.BAD])


def kinds(events: Sequence[AlarmEvent]) -> list[tuple[float, EventKind]]:
    """(seconds, kind) pairs: compact to assert on."""
    return [(e.ts / S, e.kind) for e in events]


A, C = EventKind.ACTIVATED, EventKind.CLEARED
