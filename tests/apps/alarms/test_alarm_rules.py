import pytest

from factoryos.apps.alarms import (
    AlarmEngine,
    LimitRule,
    Priority,
    RuleError,
    StaleRule,
    parse_rule,
    parse_rules,
)


def test_limit_rule_parses_with_named_priority() -> None:
    rule = parse_rule(
        {
            "kind": "limit",
            "name": "T1 HH",
            "tag_id": 3,
            "level": "HH",
            "setpoint": 90,
            "deadband": 2.5,
            "on_delay_s": 5,
            "priority": "urgent",
        }
    )
    assert isinstance(rule, LimitRule)
    assert rule.priority is Priority.URGENT
    assert rule.setpoint == 90.0 and rule.is_high


def test_numeric_priority_and_default() -> None:
    assert (
        parse_rule(
            {"kind": "stale", "name": "s", "tag_id": 1, "timeout_s": 10, "priority": 4}
        ).priority
        is Priority.URGENT
    )
    assert StaleRule(name="s", tag_id=1, timeout_s=1).priority is Priority.MEDIUM


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"kind": "limit", "name": "a", "tag_id": 1, "level": "X", "setpoint": 1}, "level"),
        ({"kind": "limit", "name": "a", "tag_id": "1", "level": "H", "setpoint": 1}, "tag_id"),
        (
            {
                "kind": "limit",
                "name": "a",
                "tag_id": 1,
                "level": "H",
                "setpoint": 1,
                "deadband": -1,
            },
            "deadband",
        ),
        (
            {"kind": "limit", "name": "a", "tag_id": 1, "level": "H", "setpoint": 1, "priority": 7},
            "priority",
        ),
        ({"kind": "rate", "name": "a", "tag_id": 1, "limit_per_s": 0}, "limit_per_s"),
        (
            {"kind": "stale", "name": "a", "tag_id": 1, "timeout_s": 1, "on_delay_s": 1},
            "on_delay_s",
        ),
        ({"kind": "state", "name": "a", "tag_id": 1, "value": 1, "colour": "red"}, "colour"),
    ],
)
def test_invalid_rule_names_the_field(data: dict[str, object], field: str) -> None:
    with pytest.raises(RuleError, match=field):
        parse_rules([data])


def test_deviation_needs_exactly_one_reference() -> None:
    base = {"kind": "deviation", "name": "d", "tag_id": 1, "limit": 2}
    with pytest.raises(RuleError, match=r"rules\[0\]\.deviation.*exactly one"):
        parse_rules([base])
    with pytest.raises(RuleError, match="exactly one"):
        parse_rule({**base, "setpoint": 1, "reference_tag_id": 2})


def test_duplicate_names_rejected_by_parser_and_engine() -> None:
    rule = {"kind": "state", "name": "dup", "tag_id": 1, "value": 1}
    with pytest.raises(RuleError, match=r"rules\[1\]\.name.*'dup'"):
        parse_rules([rule, rule])
    parsed = parse_rule(rule)
    with pytest.raises(RuleError, match="dup"):
        AlarmEngine([parsed, parsed])
