"""The compressed-air audit checked on the simulator, where the truth is known.

The demo's two compressors (each with its own receiver and network) run a day with a
known leak and no demand at night. Run A is audited from its stored tags: the leak it
measures must match the simulator's leak at the pressure measured. Run B repeats A (same
seed) with the pressure band lowered as advised; run C with the advised run-on timer. The
energy each saved, measured from their stored power tags, must match the estimate made from
run A alone.
"""

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from factoryos.apps.energy.air import ATM_BAR
from factoryos.apps.energy.config import load_section
from factoryos.apps.energy.service import AirReport, EnergyService
from factoryos.model import SiteFile, parse_site
from factoryos.model.appsfile import parse_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory
from factoryos.sim.sites import DEMO_SITE
from factoryos.store.duckdb_store import DuckDBStore

S = 1_000_000_000
H = 3600 * S
STEP_S = 5.0
DAYS = 1
SEED = 4
STATION = "demo/utilities/air/station"
COMPRESSORS = (f"{STATION}/comp-01", f"{STATION}/comp-02")
LEAK_M3_MIN = 0.6  # per compressor's network, at LEAK_REF_BAR
LEAK_REF_BAR = 7.0
BASE = {
    "leak_m3_min": LEAK_M3_MIN,
    "leak_ref_bar": LEAK_REF_BAR,
    "night_demand_frac": 0.0,  # 22:00-06:00: only leaks draw air
    "receiver_m3": 10.0,
    "idle_after_min": 10.0,  # a long run-on timer, as delivered
    "life_h": 100_000.0,  # no breakdown by wear in a day
}
APPS = f"""
energy:
  meters:
    air: {{measures: {STATION}/comp-01, power: power_kw, unit: kW}}
  compressed_air:
    required_bar: 5.5
    margin_bar: 0.2
    no_demand: [{{start: "22:30", end: "05:30"}}]
    compressors:
      {COMPRESSORS[0]}: {{receiver_m3: 10, idle_kw: 0.3, max_starts_per_h: 6}}
      {COMPRESSORS[1]}: {{receiver_m3: 10, idle_kw: 0.3, max_starts_per_h: 6}}
"""


def station_site(params: Mapping[str, float]) -> SiteFile:
    """The demo site cut down to its compressor station, with ``params`` for both."""
    data = yaml.safe_load(Path(DEMO_SITE).read_text())
    (area,) = [a for a in data["site"]["areas"] if a["name"] == "utilities"]
    area["lines"] = [line for line in area["lines"] if line["name"] == "air"]
    data["site"]["areas"] = [area]
    for eq in area["lines"][0]["cells"][0]["equipment"]:
        eq["simulate"]["params"] = {**eq["simulate"].get("params", {}), **params}
    data["devices"] = [d for d in data["devices"] if d["name"].startswith("comp-")]
    return parse_site(yaml.safe_dump(data))


@dataclass
class Run:
    service: EnergyService
    factory: VirtualFactory
    start: int
    end: int

    def kwh(self) -> float:
        return sum(f.kwh for f in self.service.air(self.start, self.end).compressors)


@contextmanager
def _run(tmp: Path, name: str, params: Mapping[str, float]) -> Iterator[Run]:
    site = station_site({**BASE, **params})
    factory = VirtualFactory(site, seed=SEED, step_s=STEP_S)
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    section = load_section(parse_apps_file(APPS, "apps.yaml"), site)
    assert section is not None
    with DuckDBStore(tmp / f"{name}.duckdb") as store:
        record_history(factory, store, ids, int(DAYS * 86_400 / STEP_S))
        start = factory.start_ns + H  # past the start-up from mid-band
        yield Run(EnergyService(section, store, ids), factory, start, factory.now_ns)


@pytest.fixture(scope="module")
def run_a(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    with _run(tmp_path_factory.mktemp("air"), "a", {}) as run:
        yield run


@pytest.fixture(scope="module")
def audit(run_a: Run) -> AirReport:
    return run_a.service.air(run_a.start, run_a.end)


def test_the_measured_leak_is_the_simulators(audit: AirReport) -> None:
    leak = audit.leakage
    assert leak is not None and leak.measured_h == pytest.approx(6.0)  # 01:00-05:30 and 22:30-24:00
    # both networks leak LEAK_M3_MIN at LEAK_REF_BAR, in proportion to absolute pressure
    truth = 2 * LEAK_M3_MIN * (leak.pressure_bar + ATM_BAR) / (LEAK_REF_BAR + ATM_BAR)
    assert leak.m3_min == pytest.approx(truth, rel=0.03)


def test_specific_power_and_load_ratio_are_plausible(audit: AirReport) -> None:
    for c in audit.compressors:
        # 55 kW delivering 10 m³/min loaded, a third of that unloaded, idle at night
        assert c.specific_power is not None and 5.0 < c.specific_power < 9.0
        assert c.load_ratio is not None and 0.2 < c.load_ratio < 0.9


def test_a_lower_setpoint_saves_what_was_estimated(
    run_a: Run, audit: AirReport, tmp_path_factory: pytest.TempPathFactory
) -> None:
    advice = audit.setpoint
    assert advice.reduce_bar == pytest.approx(0.8, abs=0.11)  # 6.5 bar cut-in, 5.7 needed
    lowered = {"p_min_bar": 6.5 - advice.reduce_bar, "p_max_bar": 7.5 - advice.reduce_bar}
    with _run(tmp_path_factory.mktemp("air"), "b", lowered) as run_b:
        measured = run_a.kwh() - run_b.kwh()
    assert measured > 0
    assert advice.saving_kwh == pytest.approx(measured, rel=0.20)


def test_a_shorter_run_on_timer_saves_what_was_estimated(
    run_a: Run, audit: AirReport, tmp_path_factory: pytest.TempPathFactory
) -> None:
    (advice, *_) = audit.run_on
    assert all(a.delay_s == advice.delay_s for a in audit.run_on)
    assert advice.starts_per_h <= 6
    shorter = {"idle_after_min": advice.delay_s / 60.0}
    with _run(tmp_path_factory.mktemp("air"), "c", shorter) as run_c:
        measured = run_a.kwh() - run_c.kwh()
    estimated = sum(a.saving_kwh for a in audit.run_on)
    assert estimated == pytest.approx(measured, rel=0.05)
