"""Alarm conditions on tags with the ISA-18.2 life cycle: the pure engine (rules, conditions,
life cycle, KPIs), its configuration and the stream processor that runs it live."""

from factoryos.apps.alarms.engine import AlarmEngine, AlarmStatus
from factoryos.apps.alarms.errors import AlarmError, AlarmStateError, RuleError, UnknownAlarmError
from factoryos.apps.alarms.events import AlarmEvent, AlarmState, EventKind, Priority
from factoryos.apps.alarms.kpi import AlarmKpis, FloodPeriod, StandingAlarm, compute_kpis
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
