"""The ``alarms:`` section of the apps file: rules naming tags by UNS path, resolved to ids.

.. code-block:: yaml

    alarms:
      max_shelve_s: 28800
      history: {keep_days: 90, max_rows: 1000000}
      rules:
        - kind: limit
          name: CNC-01 spindle H
          tag: demo/machining/line1/cell1/cnc-01/spindle_temp_c
          level: H
          setpoint: 75
          deadband: 2
          on_delay_s: 5
          priority: high
          notify: true

A rule's ``tag`` (and a deviation rule's ``reference_tag``) is a path of the site; the rest
of the rule is what :mod:`factoryos.apps.alarms.rules` validates. Every problem names the
apps file, the line and the field (``alarms.rules[3].tag``).
"""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factoryos.apps.alarms.engine import DEFAULT_MAX_SHELVE_S
from factoryos.apps.alarms.rules import MAX_RULES, RULE_ADAPTER, AlarmRule
from factoryos.model.appsfile import AppsFile
from factoryos.model.errors import AppsFileError, SiteProblem
from factoryos.model.yamlfile import Path_, validation_problems

SECTION = "alarms"
DEFAULT_KEEP_DAYS = 90.0
DEFAULT_MAX_ROWS = 1_000_000
_KINDS = ("limit", "deviation", "rate", "state", "stale")
# Apps-file field → rule model field: the file names tags by path, the engine by id.
_PATH_FIELDS = {"tag": "tag_id", "reference_tag": "reference_tag_id"}
_FILE_FIELDS = {v: k for k, v in _PATH_FIELDS.items()}


class HistorySettings(BaseModel):
    """How much alarm history is kept: rows older than ``keep_days`` go, and beyond
    ``max_rows`` the oldest go (each alarm's newest row always stays: it is its state)."""

    model_config = ConfigDict(extra="forbid")

    keep_days: float = Field(default=DEFAULT_KEEP_DAYS, gt=0, le=3650, allow_inf_nan=False)
    max_rows: int = Field(default=DEFAULT_MAX_ROWS, ge=1000, le=100_000_000)


class AlarmsSection(BaseModel):
    """The section as written; each rule is checked by :func:`alarm_config`."""

    model_config = ConfigDict(extra="forbid")

    rules: list[dict[str, Any]] = Field(max_length=MAX_RULES)
    max_shelve_s: float = Field(
        default=DEFAULT_MAX_SHELVE_S, gt=0, le=7 * 86_400, allow_inf_nan=False
    )
    history: HistorySettings = Field(default_factory=HistorySettings)


@dataclass(frozen=True)
class AlarmInfo:
    """What a rule says beyond the engine's concerns: for the console and notifications."""

    name: str
    tag: str
    equipment: str
    notify: bool
    description: str


@dataclass(frozen=True)
class AlarmConfig:
    rules: list[AlarmRule]
    info: dict[str, AlarmInfo]
    max_shelve_s: float = DEFAULT_MAX_SHELVE_S
    history: HistorySettings = field(default_factory=HistorySettings)


def _fix_loc(loc: Path_) -> Path_:
    """pydantic's location inside the union (``limit.tag_id``) as the file's (``tag``)."""
    loc = loc[1:] if loc and loc[0] in _KINDS else loc
    return tuple(_FILE_FIELDS.get(p, p) if isinstance(p, str) else p for p in loc)


def _resolve(
    apps: AppsFile, where: Path_, raw: Mapping[str, Any], tag_ids: Mapping[str, int]
) -> dict[str, Any]:
    """The rule with its paths as ids; an unknown path is a problem naming its line."""
    data = {k: v for k, v in raw.items() if k not in ("notify", "equipment")}
    rule = raw.get("name", "?")
    if "tag_id" in data or "reference_tag_id" in data:
        raise apps.problem(where, f"rule {rule!r}: name tags by path (tag, reference_tag)")
    if "tag" not in data:
        raise apps.problem(where, f"rule {rule!r}: tag: give the UNS path of the tag it watches")
    for name, id_field in _PATH_FIELDS.items():
        if name not in data:
            continue
        path = data.pop(name)
        if not isinstance(path, str) or path not in tag_ids:
            raise apps.problem(
                (*where, name), f"rule {rule!r}: no tag {path!r} in the site (give its UNS path)"
            )
        data[id_field] = tag_ids[path]
    return data


def _info(apps: AppsFile, where: Path_, raw: Mapping[str, Any], rule: AlarmRule) -> AlarmInfo:
    tag = str(raw["tag"])
    notify, equipment = raw.get("notify", True), raw.get("equipment", tag.rpartition("/")[0])
    if not isinstance(notify, bool):
        raise apps.problem((*where, "notify"), f"rule {rule.name!r}: notify is true or false")
    if not isinstance(equipment, str) or not 0 < len(equipment) <= 400:
        raise apps.problem((*where, "equipment"), f"rule {rule.name!r}: a label of 1-400 chars")
    return AlarmInfo(rule.name, tag, equipment, notify, rule.description)


def _rule(
    apps: AppsFile, index: int, raw: dict[str, Any], tag_ids: Mapping[str, int]
) -> tuple[AlarmRule, AlarmInfo]:
    where: Path_ = (SECTION, "rules", index)
    try:
        rule = RULE_ADAPTER.validate_python(_resolve(apps, where, raw, tag_ids))
    except ValidationError as exc:
        name = raw.get("name", "?")
        problems = [
            SiteProblem(p.field, p.line, f"rule {name!r}: {p.message}")
            for p in validation_problems(exc, apps.lines, base=where, fix_loc=_fix_loc)
        ]
        raise AppsFileError(apps.source, problems) from exc
    return rule, _info(apps, where, raw, rule)


def alarm_config(apps: AppsFile, tag_ids: Mapping[str, int]) -> AlarmConfig | None:
    """The file's alarms with tags resolved in ``tag_ids`` (UNS path → id); None without an
    ``alarms:`` section. Raises AppsFileError naming the file, line and rule."""
    section = apps.section(SECTION, AlarmsSection)
    if section is None:
        return None
    rules: list[AlarmRule] = []
    info: dict[str, AlarmInfo] = {}
    for i, raw in enumerate(section.rules):
        rule, about = _rule(apps, i, raw, tag_ids)
        if rule.name in info:
            raise apps.problem((SECTION, "rules", i, "name"), f"duplicate alarm name {rule.name!r}")
        rules.append(rule)
        info[rule.name] = about
    return AlarmConfig(rules, info, section.max_shelve_s, section.history)
