"""Alarm conditions on tags with the ISA-18.2 life cycle (pure logic, no I/O)."""

from factoryos.apps.alarms.engine import AlarmEngine, AlarmStatus
from factoryos.apps.alarms.errors import AlarmError, AlarmStateError, RuleError, UnknownAlarmError
from factoryos.apps.alarms.events import AlarmEvent, EventKind, Priority
from factoryos.apps.alarms.kpi import AlarmKpis, FloodPeriod, StandingAlarm, compute_kpis
from factoryos.apps.alarms.lifecycle import AlarmState
from factoryos.apps.alarms.rules import (
    AlarmRule,
    DeviationRule,
    LimitRule,
    RateRule,
    StaleRule,
    StateRule,
    parse_rule,
    parse_rules,
)

__all__ = [
    "AlarmEngine",
    "AlarmError",
    "AlarmEvent",
    "AlarmKpis",
    "AlarmRule",
    "AlarmState",
    "AlarmStateError",
    "AlarmStatus",
    "DeviationRule",
    "EventKind",
    "FloodPeriod",
    "LimitRule",
    "Priority",
    "RateRule",
    "RuleError",
    "StaleRule",
    "StandingAlarm",
    "StateRule",
    "UnknownAlarmError",
    "compute_kpis",
    "parse_rule",
    "parse_rules",
]
