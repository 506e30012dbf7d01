"""The ``oee:`` section of the apps file, and its check against the site.

.. code-block:: yaml

    oee:
      timezone: Europe/Berlin
      taxonomy: iso22400            # or teep, breaks_planned
      targets: {oee: 0.65}
      calendars:
        two-shift: {shifts: [...], holidays: [...], planned_stops: [...]}
      equipment:
        demo/machining/line1/cell1/cnc-01:
          calendar: two-shift
          state_tag: state          # a PackML state tag, or derive: {...}
          counters: {produced: cycle_count, good: good_count, scrap: scrap_count}
          ideal_cycle_s: 90
      lines:
        demo/machining/line1: {bottleneck: demo/machining/line1/cell1/cnc-02}

Tag names are relative to their equipment (``state``) or full paths. Everything is checked
against the site when the platform starts; a problem names the apps file's line.
"""

from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from factoryos.apps.oee.calendar import CalendarSpec, PlannedStopSpec
from factoryos.apps.oee.counters import CounterSpec
from factoryos.apps.oee.reasons import ReasonCatalog
from factoryos.apps.oee.state import DerivationRules
from factoryos.apps.oee.taxonomy import PRESETS, Taxonomy
from factoryos.apps.reports import ReportConfigs
from factoryos.model.appsfile import AppsFile
from factoryos.model.site import SiteFile
from factoryos.model.timeparse import iana_zone
from factoryos.model.uns import tag_path
from factoryos.model.yamlfile import Path_

SECTION = "oee"
MAX_EQUIPMENT = 10_000

TagName = Annotated[str, Field(min_length=1, max_length=400)]
Seconds = Annotated[float, Field(gt=0, le=86_400, allow_inf_nan=False)]
Ratio = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]


def _preset(name: str) -> str:
    if name not in PRESETS:
        raise ValueError(f"unknown taxonomy {name!r} (presets: {', '.join(PRESETS)})")
    return name


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeriveSpec(_Section):
    """State from signals for a machine without a state tag (see :class:`DerivationRules`)."""

    power: TagName | None = None
    speed: TagName | None = None
    counter: TagName | None = None
    rules: DerivationRules

    @model_validator(mode="after")
    def _running_signal(self) -> Self:
        if self.speed is None and self.counter is None:
            raise ValueError("derive needs a speed or a counter tag to tell running")
        return self


class CountersSpec(_Section):
    """Part counters: ``produced`` and one of ``good``/``scrap`` (the other follows)."""

    produced: TagName
    good: TagName | None = None
    scrap: TagName | None = None
    modulus: int | None = Field(default=None, ge=2, le=2**64)
    max_step: int | None = Field(default=None, ge=1)
    max_rate: float | None = Field(default=None, gt=0, description="Parts per hour at most.")

    @model_validator(mode="after")
    def _valid(self) -> Self:
        if self.good is None and self.scrap is None:
            raise ValueError("give a good or a scrap counter besides produced")
        self.spec(self.produced)  # same checks, same message
        return self

    def spec(self, tag: str) -> CounterSpec:
        """How to read the counter ``tag`` of this machine."""
        return CounterSpec(tag, self.modulus, self.max_step, max_rate=self.max_rate)


class ProductSpec(_Section):
    name: str = Field(min_length=1, max_length=64)
    ideal_cycle_s: Seconds


class EquipmentSpec(_Section):
    """How one equipment's OEE is measured."""

    calendar: str = Field(min_length=1, max_length=64)
    state_tag: TagName | None = None
    derive: DeriveSpec | None = None
    counters: CountersSpec
    #: One product: its name and ideal cycle time. Several: ``product_tag`` + ``products``.
    product: str = Field(default="default", min_length=1, max_length=64)
    ideal_cycle_s: Seconds | None = None
    product_tag: TagName | None = None
    #: A PLC fault/reason code tag: the automatic downtime reason (see ``reasons``).
    reason_tag: TagName | None = None
    products: dict[int, ProductSpec] = Field(default_factory=dict, max_length=1000)
    micro_stop_s: float = Field(default=60.0, ge=0, le=3600, allow_inf_nan=False)
    #: This equipment's planned stops (maintenance), besides its calendar's plant-wide ones.
    planned_stops: list[PlannedStopSpec] = Field(default_factory=list, max_length=10_000)
    #: How far before a range to look for the state and counter values it starts with.
    lookback_s: float = Field(default=86_400.0, gt=0, le=30 * 86_400, allow_inf_nan=False)
    #: How long a sample is trusted without a newer one; after that the state is unknown.
    #: Polled tags: a few poll intervals; report-by-exception tags: longer than any state lasts.
    max_hold_s: float = Field(default=86_400.0, gt=0, le=30 * 86_400, allow_inf_nan=False)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        if (self.state_tag is None) == (self.derive is None):
            raise ValueError("give exactly one of state_tag and derive")
        if self.product_tag is None and self.ideal_cycle_s is None:
            raise ValueError("give ideal_cycle_s (or product_tag with products)")
        if self.product_tag is not None and not self.products:
            raise ValueError("product_tag needs products: {code: {name, ideal_cycle_s}}")
        if self.product_tag is None and self.products:
            raise ValueError("products need a product_tag that says which one runs")
        names = [p.name for p in self.products.values()]
        if len(set(names)) != len(names):
            raise ValueError("product names must be unique (one ideal cycle time each)")
        return self


class LineSpec(_Section):
    #: The constraint; default: the line's equipment with the longest ideal cycle time.
    bottleneck: str | None = None


class Targets(_Section):
    oee: Ratio = 0.65
    availability: Ratio = 0.90
    performance: Ratio = 0.95
    quality: Ratio = 0.99


class OeeSection(_Section):
    timezone: Annotated[str, AfterValidator(iana_zone)] = "UTC"
    taxonomy: Annotated[str, AfterValidator(_preset)] = "iso22400"
    targets: Targets = Targets()
    calendars: dict[str, CalendarSpec] = Field(min_length=1, max_length=100)
    equipment: dict[str, EquipmentSpec] = Field(min_length=1, max_length=MAX_EQUIPMENT)
    lines: dict[str, LineSpec] = Field(default_factory=dict, max_length=1000)
    #: Downtime reason codes: ``{code: {text, loss}}`` (docs/oee.md, "Loss analysis").
    reasons: ReasonCatalog = ReasonCatalog({})
    #: Scrap made this long after a stop is a startup reject (six big losses).
    startup_window_s: float = Field(default=600.0, ge=0, le=86_400, allow_inf_nan=False)
    #: Scheduled OEE and downtime reports, e-mailed through notify channels (docs/reports.md).
    reports: ReportConfigs = Field(default_factory=list)

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def preset(self) -> Taxonomy:
        return PRESETS[self.taxonomy]


def _tag_names(spec: EquipmentSpec) -> list[tuple[Path_, str]]:
    names: list[tuple[Path_, str | None]] = [
        (("state_tag",), spec.state_tag),
        (("product_tag",), spec.product_tag),
        (("reason_tag",), spec.reason_tag),
    ]
    names += [(("counters", k), getattr(spec.counters, k)) for k in ("produced", "good", "scrap")]
    if spec.derive is not None:
        names += [(("derive", k), getattr(spec.derive, k)) for k in ("power", "speed", "counter")]
    return [(loc, name) for loc, name in names if name is not None]


def _problems(section: OeeSection, site: SiteFile) -> list[tuple[Path_, str]]:
    equipment = {ref.path for ref in site.equipment()}
    tags = {ref.path for ref in site.tags()}
    lines = {path.rsplit("/", 2)[0] for path in equipment}  # area/line/cell/equipment
    found: list[tuple[Path_, str]] = []
    for path, spec in section.equipment.items():
        base: Path_ = ("equipment", path)
        if path not in equipment:
            found.append((base, f"no equipment {path!r} in the site"))
            continue
        if spec.calendar not in section.calendars:
            found.append(((*base, "calendar"), f"no calendar {spec.calendar!r}"))
        for loc, name in _tag_names(spec):
            if tag_path(path, name) not in tags:
                found.append(((*base, *loc), f"no tag {tag_path(path, name)!r} in the site"))
    for line, line_spec in section.lines.items():
        neck = line_spec.bottleneck
        if line not in lines:
            found.append((("lines", line), f"no line {line!r} in the site"))
        elif neck is not None and not neck.startswith(f"{line}/"):
            found.append((("lines", line, "bottleneck"), f"{neck!r} is not on the line"))
        elif neck is not None and neck not in section.equipment:
            found.append((("lines", line, "bottleneck"), "the bottleneck has no oee entry"))
    return found


def load_section(apps: AppsFile, site: SiteFile) -> OeeSection | None:
    """The ``oee:`` section checked against ``site``; None when the file has none."""
    return apps.checked_section(SECTION, OeeSection, lambda section: _problems(section, site))
