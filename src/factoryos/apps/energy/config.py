"""The ``energy:`` section of the apps file, and its check against the site.

.. code-block:: yaml

    energy:
      demand_interval_s: 900              # the interval maximum demand is billed on
      meters:
        incomer:                          # a name of your choice
          measures: demo                  # the site, an area, a line or an equipment
          counter: demo/utilities/power/main/meter-01/energy_kwh
          unit: kWh
          modulus: 1000000                # the register rolls over to 0 here
          max_step: 10                    # it may rise this much between two readings,
          max_power: 800                  # plus this (kW) × the time between them
        cnc-01:
          measures: demo/machining/line1/cell1/cnc-01
          power: power_kw                 # relative to ``measures``, or a full path
          unit: kW
          max_gap_s: 60                   # a longer silence is a gap, not integrated
      compressed_air:
        required_bar: 6.0                 # the lowest pressure the plant needs (gauge)
        compressors:
          demo/utilities/air/station/comp-01: {receiver_m3: 3}  # tags: the simulator's names
        no_demand: [{start: "23:00", end: "05:00"}]   # only leaks draw air then
      carbon:
        factors: default                  # the shipped library, or a file (relative to here)
        gwp: AR6
        timezone: Asia/Shanghai           # months and years of the inventory
        organization: Demo Precision Parts Co., Ltd.
        boundary: "Operational control: the demo plant, all buildings on its site"
        electricity:                      # the imported electricity: this place's energy
          place: demo
          grid_factor: cn.grid.national.2023

Everything is checked against the site when the platform starts; a problem names the apps
file's line. Units are checked by kind (a counter in kWh/MWh/Wh/J, power in kW/W/MW).
"""

from datetime import datetime, time, timedelta
from pathlib import Path
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from factoryos.apps.energy.errors import EnergyError, ReadingError, UnitError
from factoryos.apps.energy.factors import FactorSet, default_library, load_library
from factoryos.apps.energy.metering import KW, KWH, CounterMeter
from factoryos.apps.energy.units import factor
from factoryos.model.appsfile import AppsFile
from factoryos.model.site import SiteFile
from factoryos.model.timeparse import iana_zone
from factoryos.model.uns import tag_path, within
from factoryos.model.yamlfile import Path_

SECTION = "energy"
MAX_METERS = 10_000
DEFAULT_FACTORS = "default"

TagName = Annotated[str, Field(min_length=1, max_length=400)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _unit_of_kind(unit: str, target: str, where: str) -> str:
    try:
        factor(unit, target, where)
    except UnitError as exc:
        raise ValueError(str(exc)) from None
    return unit


class MeterSpec(_Section):
    """One meter: an energy ``counter`` or a ``power`` tag, and what it measures."""

    measures: str = Field(min_length=1, max_length=400)
    counter: TagName | None = None
    power: TagName | None = None
    unit: str = Field(min_length=1, max_length=32)
    modulus: Positive | None = None
    max_step: Positive | None = None
    max_gap_s: Positive = 60.0
    max_power: Positive | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if (self.counter is None) == (self.power is None):
            raise ValueError("give exactly one of counter and power")
        if self.counter is not None:
            _unit_of_kind(self.unit, KWH, "unit")
            try:
                self.counter_meter(self.counter)
            except ReadingError as exc:
                raise ValueError(str(exc)) from None
        else:
            _unit_of_kind(self.unit, KW, "unit")
            if self.modulus is not None or self.max_step is not None:
                raise ValueError("modulus and max_step are for counters")
        return self

    def counter_meter(self, name: str) -> CounterMeter:
        return CounterMeter(name, self.unit, self.modulus, self.max_step, self.max_power)

    @property
    def kind(self) -> str:
        return "counter" if self.counter is not None else "power"

    @property
    def tag(self) -> str:
        name = self.counter if self.counter is not None else self.power
        assert name is not None  # one of them, by the validator
        return tag_path(self.measures, name)


class CompressorSpec(_Section):
    """One compressor's tags (relative to it, or full paths); free air in m³/min, gauge bar."""

    #: Its receiver's volume: the air stored there is counted in a leak measurement.
    receiver_m3: float = Field(ge=0, le=1000, allow_inf_nan=False)
    #: What it draws stopped (controller, heaters), for the run-on timer's saving.
    idle_kw: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    #: The motor's limit on starts per hour (the maker's figure; 6 is common for 55 kW).
    max_starts_per_h: float = Field(default=6.0, gt=0, le=60, allow_inf_nan=False)
    power: TagName = "power_kw"
    flow: TagName = "flow_m3_min"
    pressure: TagName = "pressure_bar"
    loaded: TagName = "loaded"
    state: TagName = "state"

    def tags(self, path: str) -> dict[str, str]:
        names = ("power", "flow", "pressure", "loaded", "state")
        return {k: tag_path(path, getattr(self, k)) for k in names}


def _clock(text: str) -> str:
    try:
        time.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not a time of day HH:MM") from None
    return text


Clock = Annotated[str, AfterValidator(_clock)]


class DailyWindow(_Section):
    """``start``–``end`` every day (``end`` before ``start`` runs past midnight)."""

    start: Clock
    end: Clock

    def between(self, a: int, b: int, zone: ZoneInfo) -> list[tuple[int, int]]:
        """Its occurrences inside ``[a, b)`` (clipped), in ns."""
        day = datetime.fromtimestamp(a / 1e9, zone).date() - timedelta(days=1)
        last = datetime.fromtimestamp(b / 1e9, zone).date()
        s, e = time.fromisoformat(self.start), time.fromisoformat(self.end)
        out = []
        while day <= last:
            lo = datetime.combine(day, s, zone)
            hi = datetime.combine(day + timedelta(days=1) if e <= s else day, e, zone)
            x = max(a, int(lo.timestamp()) * 1_000_000_000)  # whole seconds: exact in ns
            y = min(b, int(hi.timestamp()) * 1_000_000_000)
            if y > x:
                out.append((x, y))
            day += timedelta(days=1)
        return out


class AirSpec(_Section):
    """The compressor station and what the plant needs from it."""

    compressors: dict[str, CompressorSpec] = Field(min_length=1, max_length=50)
    #: The lowest receiver pressure (gauge) the plant's users need.
    required_bar: float = Field(gt=0, le=40, allow_inf_nan=False)
    #: Kept above ``required_bar`` when recommending a lower setpoint.
    margin_bar: float = Field(default=0.2, ge=0, le=5, allow_inf_nan=False)
    #: Daily times when nothing but leaks draws air (plant time zone ``timezone``).
    no_demand: list[DailyWindow] = Field(default_factory=list, max_length=20)
    timezone: Annotated[str, AfterValidator(iana_zone)] = "UTC"


class ElectricitySpec(_Section):
    """Where the imported electricity is measured and which library factors price it."""

    place: str = Field(min_length=1, max_length=400)
    grid_factor: str = Field(min_length=1, max_length=200)
    #: The factor for consumption no contractual instrument covers; None: the grid factor.
    residual_factor: str | None = Field(default=None, min_length=1, max_length=200)


class MaterialFactorSpec(_Section):
    """A material's upstream (cradle-to-gate) factor, from its supplier or a database."""

    kg_co2e: float = Field(ge=0, allow_inf_nan=False)
    per: str = Field(default="kg", min_length=1, max_length=32)
    source: str = Field(min_length=1, max_length=500)


class PactProductSpec(_Section):
    """What a PACT footprint states of a product that FactoryOS cannot measure."""

    name: str = Field(min_length=1, max_length=200)
    description: str = Field(min_length=1, max_length=2000)
    ids: list[str] = Field(min_length=1, max_length=20)  # URNs: urn:gtin:…
    cpc: str = Field(pattern=r"^\d{1,5}$")  # UN CPC 2.1
    unit_mass_kg: Positive
    fossil_carbon_kg_per_kg: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    biogenic_carbon_kg_per_kg: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    #: Upstream factors by the trace line's material names.
    materials: dict[str, MaterialFactorSpec] = Field(default_factory=dict, max_length=200)


class PactCompanySpec(_Section):
    name: str = Field(min_length=1, max_length=200)
    ids: list[str] = Field(min_length=1, max_length=20)  # URNs
    country: str = Field(pattern=r"^[A-Z]{2}$")
    subdivision: str | None = Field(default=None, pattern=r"^[A-Z]{2}-[A-Z0-9]{1,3}$")


class PactSpec(_Section):
    """Product footprints of the ``trace:`` lines' lots, in the PACT data model."""

    company: PactCompanySpec
    #: By the ``trace:`` section's line names.
    products: dict[str, PactProductSpec] = Field(min_length=1, max_length=200)


class CarbonSpec(_Section):
    """What a carbon inventory of the site is made from (docs/energy.md)."""

    #: ``default`` (the library FactoryOS ships) or a library file, relative to the apps
    #: file; read again for every report, so an edited factor makes the next version.
    factors: str = Field(default="default", min_length=1, max_length=1000)
    gwp: str = Field(default="AR6", min_length=1, max_length=32)
    timezone: Annotated[str, AfterValidator(iana_zone)] = "UTC"
    organization: str = Field(min_length=1, max_length=200)
    #: The organizational and operational boundary, in the words of the report.
    boundary: str = Field(min_length=1, max_length=2000)
    electricity: ElectricitySpec
    pact: PactSpec | None = None

    def library_path(self, apps_source: str) -> Path | None:
        """The library file; None for the shipped one."""
        if self.factors == DEFAULT_FACTORS:
            return None
        return Path(apps_source).parent / self.factors

    def library(self, apps_source: str) -> FactorSet:
        path = self.library_path(apps_source)
        return default_library() if path is None else load_library(path)


class EnergySection(_Section):
    demand_interval_s: int = Field(default=900, ge=60, le=3600)
    meters: dict[str, MeterSpec] = Field(min_length=1, max_length=MAX_METERS)
    compressed_air: AirSpec | None = None
    carbon: CarbonSpec | None = None

    @model_validator(mode="after")
    def _interval_divides_a_day(self) -> Self:
        if 86_400 % self.demand_interval_s:
            raise ValueError("demand_interval_s must divide a day (900, 1800, 3600, …)")
        return self


def _places(site: SiteFile) -> set[str]:
    """Every path a meter can measure: the site, its areas, lines, cells and equipment."""
    out = {site.site.name}
    for ref in site.equipment():
        parts = ref.path.split("/")
        out |= {"/".join(parts[:n]) for n in range(2, len(parts) + 1)}
    return out


def _carbon_problems(section: EnergySection, apps_source: str) -> list[tuple[Path_, str]]:
    """The carbon inventory's place must be metered and its factors in the library."""
    carbon = section.carbon
    if carbon is None:
        return []
    base: Path_ = ("carbon",)
    found: list[tuple[Path_, str]] = []
    place = carbon.electricity.place
    if not any(within(m.measures, place) for m in section.meters.values()):
        found.append(((*base, "electricity", "place"), f"no meter measures {place!r}"))
    try:
        lib = carbon.library(apps_source)
    except EnergyError as exc:  # the file's own problems, with its lines, in the message
        return [*found, ((*base, "factors"), str(exc))]
    if carbon.gwp not in lib.gwp:
        found.append(((*base, "gwp"), f"no GWP set {carbon.gwp!r} in {lib.library}"))
    for key in ("grid_factor", "residual_factor"):
        factor_id = getattr(carbon.electricity, key)
        if factor_id is None:
            continue
        where = (*base, "electricity", key)
        if factor_id not in lib.factors:
            found.append((where, f"no factor {factor_id!r} in {lib.library} {lib.version}"))
        elif lib.factors[factor_id].gas is None:
            found.append((where, f"{factor_id!r} is a conversion, not an emission factor"))
    return found


def _problems(section: EnergySection, site: SiteFile) -> list[tuple[Path_, str]]:
    places = _places(site)
    equipment = {ref.path for ref in site.equipment()}
    tags = {ref.path for ref in site.tags()}
    found: list[tuple[Path_, str]] = []
    for name, meter in section.meters.items():
        if meter.measures not in places:
            found.append((("meters", name, "measures"), f"no {meter.measures!r} in the site"))
        elif meter.tag not in tags:
            field = "counter" if meter.counter is not None else "power"
            found.append((("meters", name, field), f"no tag {meter.tag!r} in the site"))
    air = section.compressed_air
    for path, spec in (air.compressors if air else {}).items():
        base: Path_ = ("compressed_air", "compressors", path)
        if path not in equipment:
            found.append((base, f"no equipment {path!r} in the site"))
            continue
        for key, tag in spec.tags(path).items():
            if tag not in tags:
                found.append(((*base, key), f"no tag {tag!r} in the site"))
    return found


def load_section(apps: AppsFile, site: SiteFile) -> EnergySection | None:
    """The ``energy:`` section checked against ``site``; None when the file has none."""
    return apps.checked_section(
        SECTION,
        EnergySection,
        lambda section: _problems(section, site) + _carbon_problems(section, apps.source),
    )
