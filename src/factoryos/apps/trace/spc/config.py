"""The ``spc:`` section of the apps file: the quality characteristics under control charts.

.. code-block:: yaml

    spc:
      evaluate_every_s: 60          # tag characteristics are checked for new alarms this often
      lookback_h: 8                 # … over this much of their latest history
      characteristics:
        barrel-temp:                # the name: lower case, digits, '_' and '-'
          description: IMM-01 barrel temperature
          equipment: demo/moulding/imm/cell1/imm-01
          source: {tag: barrel_temp_c, gate: {tag: state, values: [6]}}
          chart: imr                # xbar_r, xbar_s, imr, p, np, c, u
          subgroup: {size: 1, every_s: 60}
          spec: {lsl: 220, usl: 240, target: 230, unit: degC}
          limits: {baseline: {start: 2025-01-06T06:00:00Z, end: 2025-01-06T14:00:00Z}}
          rules: {set: western_electric, tests: [1, 2, 3, 4]}
          lot: {tag: lot_number}    # or: inspection (given with each result); none by default
          priority: medium
        short-shots:
          equipment: demo/moulding/imm/cell1/imm-01
          source: inspection        # results posted through the API
          chart: p

A characteristic's ``source`` is a tag whose samples are the measurements, or
``inspection`` (results posted through the API: the only source of attribute charts).
``limits`` are ``trial`` (from the charted data, the default), computed from a ``baseline``
window, or entered (``mean`` and ``sigma``; ``p``; ``c``; ``u``). Tag names are relative to
the equipment or full paths. Everything is checked against the site when the platform
starts; a problem names the apps file's line.
"""

from datetime import UTC, datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from factoryos.apps.trace.spc.rules import NELSON_RULES, WESTERN_ELECTRIC_RULES
from factoryos.model.appsfile import AppsFile
from factoryos.model.site import SiteFile
from factoryos.model.uns import SEGMENT_RULE, is_segment, tag_path
from factoryos.model.yamlfile import Path_

SECTION = "spc"
MAX_CHARACTERISTICS = 1_000
MAX_NAME = 64
MAX_BASELINE_S = 366 * 86_400
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
ChartType = Literal["xbar_r", "xbar_s", "imr", "p", "np", "c", "u"]
RuleSet = Literal["nelson", "western_electric"]
PriorityName = Literal["low", "medium", "high", "urgent"]
VARIABLES: frozenset[str] = frozenset({"xbar_r", "xbar_s", "imr"})
ATTRIBUTES: frozenset[str] = frozenset({"p", "np", "c", "u"})
RULE_COUNT = {"nelson": len(NELSON_RULES), "western_electric": len(WESTERN_ELECTRIC_RULES)}

TagName = Annotated[str, Field(min_length=1, max_length=400)]
Number = Annotated[float, Field(allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GateSpec(_Section):
    """Use a measurement only while ``tag`` holds one of ``values`` (e.g. PackML 6, execute):
    a temperature while the machine idles is no measurement of the process."""

    tag: TagName
    values: list[Number] = Field(min_length=1, max_length=100)


class TagSource(_Section):
    tag: TagName
    gate: GateSpec | None = None


class SubgroupSpec(_Section):
    """``size`` samples make a subgroup: consecutive ones (counted from every whole hour, UTC,
    so every evaluation groups them alike), or with ``every_s`` the first ``size`` samples of
    every ``every_s`` seconds (aligned to the epoch)."""

    size: int = Field(default=1, ge=1, le=25)
    every_s: float | None = Field(default=None, ge=1, le=86_400, allow_inf_nan=False)


class SpecSpec(_Section):
    """Specification limits of a variables characteristic (either may be missing)."""

    lsl: Number | None = None
    usl: Number | None = None
    target: Number | None = None
    unit: str = Field(default="", max_length=32)


class Baseline(_Section):
    start: AwareDatetime
    end: AwareDatetime


class LimitsSpec(_Section):
    """Phase I limits from a ``baseline`` window, or entered: ``mean`` and ``sigma`` (X̄-R,
    X̄-S, I-MR: σ of the individual values), ``p`` (p, np), ``c`` or ``u``."""

    baseline: Baseline | None = None
    mean: Number | None = None
    sigma: Number | None = Field(default=None, gt=0)
    p: Number | None = Field(default=None, gt=0, lt=1)
    c: Number | None = Field(default=None, gt=0)
    u: Number | None = Field(default=None, gt=0)

    def given(self) -> list[str]:
        """The fields set, in declaration order."""
        return [name for name in type(self).model_fields if getattr(self, name) is not None]


class RulesSpec(_Section):
    set: RuleSet = "western_electric"
    tests: list[int] | None = Field(default=None, min_length=1, max_length=8)
    """Which tests of the set; None: all of them."""

    def numbers(self) -> tuple[int, ...]:
        return tuple(self.tests or range(1, RULE_COUNT[self.set] + 1))


class LotTag(_Section):
    tag: TagName


class CharacteristicSpec(_Section):
    description: str = Field(default="", max_length=200)
    equipment: str = Field(min_length=1, max_length=400)
    source: TagSource | Literal["inspection"]
    chart: ChartType
    subgroup: SubgroupSpec = SubgroupSpec()
    spec: SpecSpec | None = None
    limits: LimitsSpec | Literal["trial"] = "trial"
    rules: RulesSpec = RulesSpec()
    lot: LotTag | Literal["inspection"] | None = None
    priority: PriorityName = "medium"

    @property
    def variables(self) -> bool:
        return self.chart in VARIABLES

    @property
    def tag(self) -> str | None:
        """The measurement tag's full path; None for inspection results."""
        if isinstance(self.source, TagSource):
            return tag_path(self.equipment, self.source.tag)
        return None

    @property
    def gate_tag(self) -> str | None:
        if isinstance(self.source, TagSource) and self.source.gate is not None:
            return tag_path(self.equipment, self.source.gate.tag)
        return None

    @property
    def lot_tag(self) -> str | None:
        return tag_path(self.equipment, self.lot.tag) if isinstance(self.lot, LotTag) else None


class SpcSection(_Section):
    evaluate_every_s: float = Field(default=60.0, ge=1, le=86_400, allow_inf_nan=False)
    lookback_h: float = Field(default=8.0, gt=0, le=31 * 24, allow_inf_nan=False)
    characteristics: dict[str, CharacteristicSpec] = Field(
        min_length=1, max_length=MAX_CHARACTERISTICS
    )


def _subgroup_problems(spec: CharacteristicSpec) -> list[tuple[Path_, str]]:
    size = spec.subgroup.size
    found: list[tuple[Path_, str]] = []
    if spec.chart == "imr" and size != 1:
        found.append((("subgroup", "size"), "an I-MR chart plots single values: size 1"))
    if spec.chart in ("xbar_r", "xbar_s") and size < 2:
        found.append((("subgroup", "size"), f"an {spec.chart} chart needs subgroups of 2 to 25"))
    if spec.chart in ATTRIBUTES and size != 1:
        found.append((("subgroup", "size"), "attribute results carry their own sample size"))
    if spec.subgroup.every_s is not None and spec.tag is None:
        found.append((("subgroup", "every_s"), "time subgroups apply to a tag source"))
    return found


def _limits_problems(spec: CharacteristicSpec) -> list[tuple[Path_, str]]:
    if not isinstance(spec.limits, LimitsSpec):
        return []
    given = spec.limits.given()
    wanted = {
        "xbar_r": ["mean", "sigma"],
        "xbar_s": ["mean", "sigma"],
        "imr": ["mean", "sigma"],
        "p": ["p"],
        "np": ["p"],
        "c": ["c"],
        "u": ["u"],
    }[spec.chart]
    if given == ["baseline"] or given == wanted:
        return []
    entered = " and ".join(wanted)
    return [(("limits",), f"give either baseline or {entered} (for a {spec.chart} chart)")]


def _baseline_problems(spec: CharacteristicSpec) -> list[tuple[Path_, str]]:
    if not isinstance(spec.limits, LimitsSpec) or spec.limits.baseline is None:
        return []
    start, end = spec.limits.baseline.start, spec.limits.baseline.end
    if not start < end or (end - start).total_seconds() > MAX_BASELINE_S:
        return [(("limits", "baseline", "end"), "must be after start, within 366 days")]
    return []


def _spec_problems(spec: CharacteristicSpec) -> list[tuple[Path_, str]]:
    s = spec.spec
    if s is None:
        return []
    if not spec.variables:
        return [(("spec",), "specification limits apply to variables charts (xbar_r, xbar_s, imr)")]
    if s.lsl is None and s.usl is None:
        return [(("spec",), "give lsl, usl or both")]
    if s.lsl is not None and s.usl is not None and s.lsl >= s.usl:
        return [(("spec", "usl"), f"must be above lsl ({s.lsl:g})")]
    low = s.lsl if s.lsl is not None else float("-inf")
    high = s.usl if s.usl is not None else float("inf")
    if s.target is not None and not low <= s.target <= high:
        return [(("spec", "target"), "must lie within the specification limits")]
    return []


def _source_problems(spec: CharacteristicSpec) -> list[tuple[Path_, str]]:
    found: list[tuple[Path_, str]] = []
    if spec.chart in ATTRIBUTES and spec.tag is not None:
        found.append((("source",), "attribute charts (p, np, c, u) take inspection results"))
    if spec.lot == "inspection" and spec.tag is not None:
        found.append((("lot",), "a tag source has no inspection results: use a lot tag"))
    if spec.rules.tests is not None:
        top = RULE_COUNT[spec.rules.set]
        if any(not 1 <= t <= top for t in spec.rules.tests):
            found.append((("rules", "tests"), f"{spec.rules.set} tests are 1 to {top}"))
        elif len(set(spec.rules.tests)) != len(spec.rules.tests):
            found.append((("rules", "tests"), "a test is named twice"))
    return found


def characteristic_problems(spec: CharacteristicSpec) -> list[tuple[Path_, str]]:
    """What makes ``spec`` unusable on its own (no site needed), each at its field."""
    return [
        *_subgroup_problems(spec),
        *_limits_problems(spec),
        *_baseline_problems(spec),
        *_spec_problems(spec),
        *_source_problems(spec),
    ]


def _site_problems(spec: CharacteristicSpec, site: SiteFile) -> list[tuple[Path_, str]]:
    equipment = {ref.path for ref in site.equipment()}
    tags = {ref.path for ref in site.tags()}
    if spec.equipment not in equipment:
        return [(("equipment",), f"no equipment {spec.equipment!r} in the site")]
    named: list[tuple[Path_, str | None]] = [
        (("source", "tag"), spec.tag),
        (("source", "gate", "tag"), spec.gate_tag),
        (("lot", "tag"), spec.lot_tag),
    ]
    return [
        (loc, f"no tag {path!r} in the site") for loc, path in named if path and path not in tags
    ]


def _problems(section: SpcSection, site: SiteFile) -> list[tuple[Path_, str]]:
    found: list[tuple[Path_, str]] = []
    for name, spec in section.characteristics.items():
        base: Path_ = ("characteristics", name)
        if not is_segment(name) or len(name) > MAX_NAME:
            found.append((base, f"a characteristic's name is at most {MAX_NAME} {SEGMENT_RULE}"))
        problems = characteristic_problems(spec) + _site_problems(spec, site)
        found += [((*base, *loc), message) for loc, message in problems]
    return found


def load_section(apps: AppsFile, site: SiteFile) -> SpcSection | None:
    """The ``spc:`` section checked against ``site``; None when the file has none."""
    return apps.checked_section(SECTION, SpcSection, lambda s: _problems(s, site))


def ns(moment: datetime) -> int:
    """An aware datetime as int ns since the epoch (exact: no float seconds)."""
    delta = moment - EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000
