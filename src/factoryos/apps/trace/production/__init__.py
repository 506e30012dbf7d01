"""Production events: FactoryOS emits EPCIS 2.0 events as its lines run (lot start and
finish, packing, shipping), so genealogy exists without manual entry. See
docs/trace.md."""

from factoryos.apps.trace.production.config import LinePlan, TraceSection, load_section, plans
from factoryos.apps.trace.production.processor import BackfillResult, TraceProcessor, backfill
from factoryos.apps.trace.production.tracker import LineTracker, SampleRouter

__all__ = [
    "BackfillResult",
    "LinePlan",
    "LineTracker",
    "SampleRouter",
    "TraceProcessor",
    "TraceSection",
    "backfill",
    "load_section",
    "plans",
]
