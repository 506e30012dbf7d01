"""The energy service against a real DuckDB store, hand-computed.

cnc-01 from Monday 00:00 UTC, one sample a second: Execute (20 kW, one good part a minute)
for an hour, idle (5 kW) for half an hour, Execute again until 04:00. Two shifts, 00-02 and
02-04. By hand: shift a = 20 + 2.5 + 10 = 32.5 kWh for 60 + 30 = 90 parts; shift b = 40 kWh
for 120 parts; idle 2.5 kWh. Trapezoids across the two power steps move each total by
7.5 kW × 1 s = 0.002 kWh, inside the tolerance.
"""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.energy.config import load_section
from factoryos.apps.energy.errors import EnergyQueryError
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.oee.config import load_section as load_oee
from factoryos.apps.oee.service import OeeService
from factoryos.model.appsfile import AppsFileError, parse_apps_file
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.sim import load_demo_site
from factoryos.store.duckdb_store import DuckDBStore

S = 1_000_000_000
H = 3600 * S
T0 = 1_736_121_600 * S  # Monday 2025-01-06 00:00 UTC
LINE = "demo/machining/line1"
CNC1, CNC2 = f"{LINE}/cell1/cnc-01", f"{LINE}/cell1/cnc-02"
APPS = f"""
oee:
  calendars:
    two:
      shifts: [{{name: a, start: "00:00", end: "02:00"}}, {{name: b, start: "02:00", end: "04:00"}}]
  equipment:
    {CNC1}:
      calendar: two
      state_tag: state
      counters: {{produced: cycle_count, good: good_count}}
      ideal_cycle_s: 30
energy:
  meters:
    site: {{measures: demo, counter: demo/utilities/power/main/meter-01/energy_kwh, unit: kWh,
            modulus: 1000000, max_step: 100}}
    cnc-01: {{measures: {CNC1}, power: power_kw, unit: kW}}
    cnc-02: {{measures: {CNC2}, power: power_kw, unit: W}}
"""


@pytest.fixture
def service(tmp_path: Path) -> Iterator[EnergyService]:
    site = load_demo_site()
    apps = parse_apps_file(APPS, "apps.yaml")
    energy, oee = load_section(apps, site), load_oee(apps, site)
    assert energy is not None and oee is not None
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    with DuckDBStore(tmp_path / "ts.duckdb") as store:
        _write_cnc1(store, ids)
        yield EnergyService(energy, store, ids, OeeService(oee, store, ids))


def _write(store: DuckDBStore, tag_id: int, ts: np.ndarray, values: np.ndarray) -> None:
    quality = np.full(len(ts), Quality.GOOD, np.uint8)
    store.write(SampleBatch.build(np.full(len(ts), tag_id), ts, values, quality))


def _write_cnc1(store: DuckDBStore, ids: dict[str, int]) -> None:
    t_s = np.arange(0, 4 * 3600 + 1)
    ts = T0 + t_s * S
    idle = (t_s >= 3600) & (t_s < 5400)
    _write(store, ids[f"{CNC1}/power_kw"], ts, np.where(idle, 5.0, 20.0))
    _write(store, ids[f"{CNC1}/state"], ts, np.where(idle, 4.0, 6.0))
    parts = np.cumsum(~idle & (t_s % 60 == 59)).astype(float)  # one a minute while producing
    _write(store, ids[f"{CNC1}/cycle_count"], ts, parts)
    _write(store, ids[f"{CNC1}/good_count"], ts, parts)


def test_which_meters_add_up_to_a_place(service: EnergyService) -> None:
    assert service.meters_of("demo") == ["site"]
    assert service.meters_of(CNC1) == ["cnc-01"]
    assert service.meters_of(LINE) == ["cnc-01", "cnc-02"]  # no line meter: its machines
    with pytest.raises(EnergyQueryError, match="no meter measures 'demo/moulding'"):
        service.energy("demo/moulding", T0, T0 + H)


def test_energy_and_idle_energy_of_an_equipment(service: EnergyService) -> None:
    e = service.energy(CNC1, T0, T0 + 4 * H)
    assert e.kwh == pytest.approx(72.5, abs=0.01)
    assert e.coverage == pytest.approx(1.0)
    assert e.idle_kwh == pytest.approx(2.5, abs=0.01)


def test_energy_per_shift_and_per_good_part(service: EnergyService) -> None:
    a, b = service.by_shift(CNC1, T0, T0 + 4 * H)
    assert (a.kwh, a.good) == (pytest.approx(32.5, abs=0.01), 90)
    assert a.kwh_per_good == pytest.approx(32.5 / 90, abs=1e-4)
    assert (b.kwh, b.good) == (pytest.approx(40.0, abs=0.01), 120)
    (only,) = service.by_product(CNC1, T0, T0 + 4 * H)
    assert (only.key, only.kwh, only.good) == ("default", pytest.approx(72.5, abs=0.01), 210)


def test_load_profile_and_peak(service: EnergyService) -> None:
    p = service.profile(CNC1, T0, T0 + 4 * H)
    assert len(p.kw) == 16 and p.interval_s == 900
    assert p.kw[4] == pytest.approx(5.0, abs=0.01)  # 01:00-01:15, idle
    peak = p.peak()
    assert peak is not None and peak[1] == pytest.approx(20.0, abs=0.01)


def test_a_meter_outage_shows_as_coverage_not_as_zero(service: EnergyService) -> None:
    store, ids = service._store, service._tag_ids
    ts = T0 + np.arange(0, 3601) * S  # cnc-02 measured for the first hour only, in W
    _write(store, ids[f"{CNC2}/power_kw"], ts, np.full(len(ts), 8000.0))  # type: ignore[arg-type]
    e = service.energy(CNC2, T0, T0 + 2 * H)
    assert e.kwh == pytest.approx(8.0)
    assert e.coverage == pytest.approx(0.5)
    line = service.energy(LINE, T0, T0 + 2 * H)  # both machines; the line as covered as cnc-02
    assert line.kwh == pytest.approx(8.0 + 32.5, abs=0.01) and line.coverage == pytest.approx(0.5)


def test_a_counter_meter_with_a_rollover(service: EnergyService) -> None:
    store, ids = service._store, service._tag_ids
    ts = T0 + np.array([0, 600, 1200, 1800]) * S
    readings = np.array([999_950.0, 999_990.0, 30.0, 70.0])  # wraps at 1,000,000
    _write(store, ids["demo/utilities/power/main/meter-01/energy_kwh"], ts, readings)  # type: ignore[arg-type]
    assert service.energy("demo", T0, T0 + 1800 * S).kwh == pytest.approx(40 + 40 + 40)


def test_shifts_need_an_oee_entry_and_ranges_an_order(service: EnergyService) -> None:
    with pytest.raises(EnergyQueryError, match="has no oee entry"):
        service.by_shift(CNC2, T0, T0 + H)
    with pytest.raises(EnergyQueryError, match="is not after its start"):
        service.energy(CNC1, T0 + H, T0)


@pytest.mark.parametrize(
    ("meter", "message"),
    [
        ("{measures: demo/nowhere, power: x, unit: kW}", "no 'demo/nowhere' in the site"),
        (f"{{measures: {CNC1}, power: nope, unit: kW}}", f"no tag '{CNC1}/nope'"),
        (f"{{measures: {CNC1}, power: power_kw, unit: kWh}}", "cannot be expressed in 'kW'"),
        (f"{{measures: {CNC1}, counter: power_kw, unit: kW}}", "cannot be expressed in 'kWh'"),
        (f"{{measures: {CNC1}, unit: kW}}", "exactly one of counter and power"),
        (f"{{measures: {CNC1}, power: power_kw, unit: kW, modulus: 10}}", "are for counters"),
        (
            f"{{measures: {CNC1}, counter: power_kw, unit: kWh, modulus: 1000}}",
            "a wrapping counter needs max_step or max_power",
        ),
    ],
)
def test_a_bad_meter_is_refused_with_its_line(meter: str, message: str) -> None:
    text = f"energy:\n  meters:\n    m1: {meter}\n"
    with pytest.raises(AppsFileError, match=message) as err:
        load_section(parse_apps_file(text, "apps.yaml"), load_demo_site())
    assert "apps.yaml:3: energy.meters.m1" in str(err.value)
