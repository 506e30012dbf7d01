"""Carbon reports from a real store and catalog, hand-computed.

The incomer counts 50 kWh an hour (a reading a minute) from Monday 2025-01-06 00:00 UTC
for two days: 1,200 kWh on each of the 6th and 7th, nothing measured the rest of January.
By hand, with the shipped library (national grid 2023: 0.5306 t/MWh; without traded
non-fossil: 0.6096 t/MWh) and AR6:

- electricity, location-based: 2,400 kWh × 0.5306 kg/kWh = 1,273.44 kg CO2;
- market-based: a 1 MWh green certificate at 0, the other 1,400 kWh × 0.6096 = 853.44 kg;
- 2 t of natural gas: 0.002 Gg × 48 TJ/Gg = 0.096 TJ; CO2 0.096 × 56,100 = 5,385.6 kg,
  CH4 0.096 × 1 × 29.8 = 2.8608 kg CO2e, N2O 0.096 × 0.1 × 273 = 2.6208 kg CO2e;
  scope 1 = 5,391.0816 kg CO2e;
- totals: location 6,664.5216 kg, market 6,244.5216 kg.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.energy.carbon_service import CarbonService
from factoryos.apps.energy.config import load_section
from factoryos.apps.energy.errors import EnergyQueryError, FactorError, InventoryError, UnitError
from factoryos.apps.energy.inventory import Activity, Category, Instrument, Kind
from factoryos.apps.energy.service import EnergyService
from factoryos.model.appsfile import AppsFileError, parse_apps_file
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.sim import load_demo_site
from factoryos.store.carbon_reports import CarbonReports
from factoryos.store.catalog import Catalog
from factoryos.store.duckdb_store import DuckDBStore

S = 1_000_000_000
T0 = 1_736_121_600 * S  # Monday 2025-01-06 00:00 UTC
NOW = datetime(2025, 2, 3, 9, 0, tzinfo=UTC)
COUNTER = "demo/utilities/power/main/meter-01/energy_kwh"
GAS = Activity("boiler gas", Category.DIRECT, 2.0, "t", fuel="natural_gas", evidence="inv 77")
GRID = "cn.grid.national.2023"
GEC = Instrument("GEC-2025-001", Kind.CERTIFICATE, 1.0)


def _apps(factors: str = "default", place: str = "demo", grid: str = GRID) -> str:
    return f"""
energy:
  meters:
    incomer: {{measures: demo, counter: {COUNTER}, unit: kWh, modulus: 1000000, max_step: 100}}
  carbon:
    factors: {factors}
    organization: Demo Precision Parts
    boundary: Operational control, one site
    electricity:
      place: {place}
      grid_factor: {grid}
      residual_factor: cn.grid.national_excl_traded_nonfossil.2023
"""


@dataclass
class Plant:
    store: DuckDBStore
    catalog: Catalog
    ids: dict[str, int]
    folder: Path

    def service(self, apps_text: str) -> CarbonService:
        source = self.folder / "apps.yaml"
        section = load_section(parse_apps_file(apps_text, source), load_demo_site())
        assert section is not None and section.carbon is not None
        energy = EnergyService(section, self.store, self.ids)
        tenant = self.catalog.ensure_tenant("default")
        return CarbonService(
            section.carbon, str(source), energy, CarbonReports(self.catalog), tenant, "demo"
        )


@pytest.fixture
def plant(tmp_path: Path) -> Iterator[Plant]:
    site = load_demo_site()
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    with DuckDBStore(tmp_path / "ts.duckdb") as store:
        ts = T0 + np.arange(0, 2 * 24 * 60 + 1) * 60 * S
        kwh = 1000.0 + np.arange(len(ts)) * 50.0 / 60.0
        quality = np.full(len(ts), Quality.GOOD, np.uint8)
        store.write(SampleBatch.build(np.full(len(ts), ids[COUNTER]), ts, kwh, quality))
        yield Plant(store, catalog, ids, tmp_path)
    catalog.close()


def test_a_month_by_hand(plant: Plant) -> None:
    doc = plant.service(_apps()).draft("2025-01", [GAS], [GEC])

    el = doc["electricity"]
    assert el["kwh"] == pytest.approx(2400.0, abs=1e-6)
    assert el["coverage"] == pytest.approx(2 / 31)
    days = {p["label"]: (p["kwh"], p["coverage"]) for p in el["parts"]}
    assert len(days) == 31 and days["2025-01-06"] == pytest.approx((1200.0, 1.0))
    assert days["2025-01-07"] == pytest.approx((1200.0, 1.0))
    assert days["2025-01-08"] == (0.0, 0.0)
    assert el["note"].startswith("the meters covered 6.5 % of the period")
    loc, mkt = doc["totals"]["location"], doc["totals"]["market"]
    assert loc["scopes"]["2"] == pytest.approx(1273.44)
    assert mkt["scopes"]["2"] == pytest.approx(853.44)
    assert loc["scopes"]["1"] == pytest.approx(5391.0816) == mkt["scopes"]["1"]
    assert loc["total"] == pytest.approx(6664.5216)
    assert mkt["total"] == pytest.approx(6244.5216)
    assert loc["categories"]["1"] == pytest.approx(5391.0816)
    assert loc["categories"]["2"] == pytest.approx(1273.44)
    electricity = [ln for ln in doc["lines"] if ln["activity"] == "electricity"]
    assert [ln["method"] for ln in electricity] == ["location", "market", "market"]
    assert electricity[0]["factors"][0]["id"] == "cn.grid.national.2023"
    assert electricity[0]["factors"][0]["source"].startswith("MEE/NBS")
    assert "incomer" in electricity[0]["evidence"] and COUNTER in electricity[0]["evidence"]
    assert doc["factor_set"]["library"] == "factoryos-default"
    assert len(doc["factor_set"]["digest"]) == 64


@pytest.mark.parametrize(
    ("grid", "kg_per_kwh", "region"),
    [
        ("cn.grid.province.sichuan.2022", 0.1404, "CN-SC"),  # hydropower
        ("cn.grid.province.hebei.2022", 0.7252, "CN-HE"),  # coal
        ("cn.grid.region.east.2022", 0.5617, "East China grid"),
    ],
)
def test_a_plant_reports_with_its_provincial_or_regional_grid_factor(
    plant: Plant, grid: str, kg_per_kwh: float, region: str
) -> None:
    doc = plant.service(_apps(grid=grid)).draft("2025-01")

    assert doc["totals"]["location"]["scopes"]["2"] == pytest.approx(2400.0 * kg_per_kwh)
    (location,) = [ln for ln in doc["lines"] if ln["method"] == "location"]
    (factor,) = location["factors"]
    assert (factor["id"], factor["region"], factor["year"]) == (grid, region, 2022)


def test_a_year_is_read_month_by_month(plant: Plant) -> None:
    doc = plant.service(_apps()).draft("2025")

    parts = doc["electricity"]["parts"]
    assert [p["label"] for p in parts][:2] == ["2025-01", "2025-02"] and len(parts) == 12
    assert parts[0]["kwh"] == pytest.approx(2400.0) and parts[1]["kwh"] == 0.0
    assert doc["totals"]["location"]["total"] == pytest.approx(1273.44)


def test_a_factor_change_issues_a_new_version_and_leaves_the_old_one(plant: Plant) -> None:
    text = resources.files("factoryos.apps.energy").joinpath("factors", "default.yaml")
    library = text.read_text()
    (plant.folder / "lib.yaml").write_text(library)
    service = plant.service(_apps(factors="lib.yaml"))
    first, new = service.issue("2025-01", [GAS], [GEC], "eng", NOW)
    assert new and first.version == 1
    same, new = service.issue("2025-01", [GAS], [GEC], "eng", NOW + timedelta(hours=1))
    assert not new and same.version == 1

    grid = "value: 0.5306, unit: t/MWh"
    assert library.count(grid) == 1
    (plant.folder / "lib.yaml").write_text(library.replace(grid, "value: 0.6, unit: t/MWh"))
    second, new = service.issue("2025-01", [GAS], [GEC], "eng", NOW + timedelta(days=1))

    assert new and second.version == 2 and second.factor_digest != first.factor_digest
    assert second.content["totals"]["location"]["scopes"]["2"] == pytest.approx(2400 * 0.6)
    old = service.get("2025-01", 1)
    assert old.content == first.content and old.content_sha256 == first.content_sha256
    assert old.content["totals"]["location"]["scopes"]["2"] == pytest.approx(1273.44)
    assert [v.version for v in service.versions("2025-01")] == [2, 1]


@pytest.mark.parametrize(
    ("activity", "error", "message"),
    [
        (Activity("gas", Category.DIRECT, 2.0, "kWh", fuel="natural_gas"), UnitError, "'gas'"),
        (Activity("oil", Category.DIRECT, 1.0, "t", fuel="heating_oil"), FactorError, "'oil'"),
        (Activity("x", Category.DIRECT, 1.0, "t", emit=("nope",)), FactorError, "'nope'"),
        (Activity("z", Category.DIRECT, 1.0, "kg/0", fuel="natural_gas"), UnitError, "'z'"),
        (Activity("c", Category.DIRECT, 1.0, "degC", fuel="natural_gas"), UnitError, "offset"),
    ],
)
def test_bad_activity_data_is_refused_and_nothing_is_issued(
    plant: Plant, activity: Activity, error: type[Exception], message: str
) -> None:
    service = plant.service(_apps())
    with pytest.raises(error, match=message):
        service.issue("2025-01", [activity], [], "eng", NOW)
    assert service.versions() == []


def test_bad_periods_are_refused(plant: Plant) -> None:
    service = plant.service(_apps())
    for period in ("2025-13", "25-01", "2025-1", "january", "２０２５-０１", "1000", "2999-01"):
        with pytest.raises(EnergyQueryError, match="YYYY-MM or a year"):
            service.draft(period)
    with pytest.raises(EnergyQueryError, match="has not started"):
        service.issue("2025-03", [], [], "eng", NOW)
    too_much = Instrument("big", Kind.CERTIFICATE, 3.0)  # 3 MWh of 2.4 used
    with pytest.raises(InventoryError, match=r"instruments claim 3 MWh of 2\.4 MWh"):
        service.issue("2025-01", [], [too_much], "eng", NOW)
    assert service.versions() == []


def test_the_carbon_section_is_checked_at_its_line(plant: Plant) -> None:
    cases = {
        _apps(place="demo/moulding"): r"apps.yaml:10: energy.carbon.electricity.place: no meter",
        _apps(grid="cn.grid.mars.2023"): r"apps.yaml:11: .*grid_factor: no factor 'cn.grid.mars",
        _apps(grid="ipcc2006.ncv.natural_gas"): r"apps.yaml:11: .*is a conversion",
        _apps(factors="missing.yaml"): r"apps.yaml:6: energy.carbon.factors: .*missing.yaml",
    }
    for text, message in cases.items():
        with pytest.raises(AppsFileError, match=message):
            plant.service(text)
