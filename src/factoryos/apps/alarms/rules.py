"""Alarm rule definitions: strict pydantic models, validated once at the boundary.

A rule watches one tag (``tag_id``, the int32 id used in :class:`SampleBatch`). Times are
given in seconds and converted to integer nanoseconds by :func:`seconds_to_ns`.
"""

from collections.abc import Mapping, Sequence
from typing import Annotated, Any, Literal, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)

from factoryos.apps.alarms.errors import RuleError
from factoryos.apps.alarms.events import Priority

MAX_RULES = 100_000
MAX_DELAY_S = 86_400.0  # a delay longer than a day is a configuration error, not a delay


def _priority(raw: object) -> object:
    """Accept ``"low"``…``"urgent"`` or 1…4; anything else fails validation."""
    if isinstance(raw, Priority):
        return raw
    if isinstance(raw, str) and raw.upper() in Priority.__members__:
        return Priority[raw.upper()]
    if isinstance(raw, int) and not isinstance(raw, bool) and raw in Priority._value2member_map_:
        return Priority(raw)
    raise ValueError(f"priority must be low, medium, high, urgent or 1..4, not {raw!r}")


PriorityField = Annotated[Priority, BeforeValidator(_priority)]
Seconds = Annotated[float, Field(ge=0.0, le=MAX_DELAY_S, allow_inf_nan=False)]
Finite = Annotated[float, Field(allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0.0, allow_inf_nan=False)]


def seconds_to_ns(seconds: float) -> int:
    return round(seconds * 1e9)


class _Rule(BaseModel):
    """Fields every rule has."""

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    name: str = Field(min_length=1, max_length=128)
    tag_id: int = Field(ge=0, le=2**31 - 1)
    priority: PriorityField = Priority.MEDIUM
    description: str = Field(default="", max_length=1000)


class _Debounced(_Rule):
    """Rules on sample values: on-delay and off-delay (seconds the condition must hold)."""

    on_delay_s: Seconds = 0.0
    off_delay_s: Seconds = 0.0


class LimitRule(_Debounced):
    """Active while the value is beyond ``setpoint`` (above for H/HH, below for L/LL).

    It clears once the value is back by ``deadband`` (at or below ``setpoint - deadband``
    for H/HH, at or above ``setpoint + deadband`` for L/LL).
    """

    kind: Literal["limit"] = "limit"
    level: Literal["HH", "H", "L", "LL"]
    setpoint: Finite
    deadband: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0

    @property
    def is_high(self) -> bool:
        return self.level in ("HH", "H")


class DeviationRule(_Debounced):
    """Active while ``|value - reference| > limit``; the reference is ``setpoint`` or the
    latest good value of ``reference_tag_id``. Clears at ``|…| <= limit - deadband``."""

    kind: Literal["deviation"] = "deviation"
    limit: Positive
    setpoint: Finite | None = None
    reference_tag_id: int | None = Field(default=None, ge=0, le=2**31 - 1)
    deadband: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0

    @model_validator(mode="after")
    def _one_reference(self) -> Self:
        if (self.setpoint is None) == (self.reference_tag_id is None):
            raise ValueError("give exactly one of setpoint and reference_tag_id")
        return self


class RateRule(_Debounced):
    """Active while ``|Δvalue / Δt|`` between consecutive good samples exceeds
    ``limit_per_s``; clears at ``<= limit_per_s - deadband``."""

    kind: Literal["rate"] = "rate"
    limit_per_s: Positive
    deadband: Annotated[float, Field(ge=0.0, allow_inf_nan=False)] = 0.0


class StateRule(_Debounced):
    """Active while the value equals ``value`` (a discrete state, e.g. a fault code)."""

    kind: Literal["state"] = "state"
    value: Finite


class StaleRule(_Rule):
    """Active when no good sample of the tag arrived for ``timeout_s`` (checked by ``tick``)."""

    kind: Literal["stale"] = "stale"
    timeout_s: Annotated[float, Field(gt=0.0, le=MAX_DELAY_S, allow_inf_nan=False)]


AlarmRule = Annotated[
    LimitRule | DeviationRule | RateRule | StateRule | StaleRule, Field(discriminator="kind")
]
RULE_ADAPTER: TypeAdapter[AlarmRule] = TypeAdapter(AlarmRule)


def _describe(exc: ValidationError, where: str) -> str:
    parts = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in err["loc"]) or "rule"
        parts.append(f"{where}{loc}: {err['msg']}")
    return "; ".join(parts)


def parse_rule(data: Mapping[str, Any], where: str = "") -> AlarmRule:
    """One rule from plain data (e.g. parsed YAML/JSON); errors name the field."""
    try:
        return RULE_ADAPTER.validate_python(data)
    except ValidationError as exc:
        raise RuleError(f"invalid alarm rule: {_describe(exc, where)}") from exc


def parse_rules(data: Sequence[Mapping[str, Any]]) -> list[AlarmRule]:
    """Rules from plain data; names must be unique, at most ``MAX_RULES``."""
    if len(data) > MAX_RULES:
        raise RuleError(f"{len(data)} alarm rules exceed the limit of {MAX_RULES}")
    rules = [parse_rule(item, where=f"rules[{i}].") for i, item in enumerate(data)]
    check_unique(rules)
    return rules


def check_unique(rules: Sequence[AlarmRule]) -> None:
    seen: set[str] = set()
    for i, rule in enumerate(rules):
        if rule.name in seen:
            raise RuleError(f"rules[{i}].name: duplicate alarm name {rule.name!r}")
        seen.add(rule.name)
