"""The energy API over a simulated day of the demo plant.

The demo's incomer meter counts every machine plus a 12 kW base load in a register: the
site's energy read from that counter must equal the machines' power integrated plus the
base load, within the register's 0.1 kWh steps and the power tags' noise."""

import dataclasses
import io
from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from pypdf import PdfReader

from factoryos.api import Services, create_app
from factoryos.api.services import EnergyApp
from factoryos.apps.energy.carbon_service import CarbonService
from factoryos.apps.energy.config import load_section
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.oee.config import load_section as load_oee
from factoryos.apps.oee.service import OeeService
from factoryos.apps.reports.pdfchart import PALETTE
from factoryos.model.appsfile import parse_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.store.carbon_reports import CarbonReports
from factoryos.store.catalog import Role
from support.pdfpixels import inked, pixels_of, render
from support.tenants import open_services

CNC1 = "demo/machining/line1/cell1/cnc-01"
MACHINES = (
    "demo/machining/line1/cell1/cnc-01", "demo/machining/line1/cell1/cnc-02",
    "demo/machining/line1/cell1/cnc-03", "demo/moulding/imm/cell1/imm-01",
    "demo/packaging/pack1/cell1/packer-01", "demo/utilities/air/station/comp-01",
    "demo/utilities/air/station/comp-02",
)  # fmt: skip
BASE_LOAD_KW = 12.0  # the demo meter's lighting, HVAC and offices
START, END = "2025-01-06T00:10:00Z", "2025-01-07T00:10:00Z"
METERS = "\n".join(
    f"    {path.rsplit('/', 1)[1]}: {{measures: {path}, power: power_kw, unit: kW}}"
    for path in MACHINES
)
APPS = f"""
oee:
  calendars:
    day: {{shifts: [{{name: early, start: "06:00", end: "14:00"}},
                    {{name: late, start: "14:00", end: "22:00"}}]}}
  equipment:
    {CNC1}:
      calendar: day
      state_tag: state
      counters: {{produced: cycle_count, good: good_count, scrap: scrap_count}}
      ideal_cycle_s: 90
energy:
  meters:
    incomer: {{measures: demo, counter: demo/utilities/power/main/meter-01/energy_kwh,
               unit: kWh, modulus: 429496729.6, max_step: 1000}}
{METERS}
  compressed_air:
    required_bar: 6.0
    compressors:
      demo/utilities/air/station/comp-01: {{receiver_m3: 3}}
      demo/utilities/air/station/comp-02: {{receiver_m3: 3}}
  carbon:
    timezone: Asia/Shanghai
    organization: Demo Precision Parts
    boundary: Operational control
    electricity: {{place: demo, grid_factor: cn.grid.national.2023}}
"""


@dataclasses.dataclass
class Plant:
    services: Services
    viewer: dict[str, str]
    engineer: dict[str, str]
    other: dict[str, str]


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    where = tmp_path_factory.mktemp("energy-api")
    site = load_demo_site()
    with open_services(f"sqlite:///{where / 'catalog.sqlite'}", where) as services:
        tag_ids = services.catalog.register_site(site)
        factory = VirtualFactory(site, seed=5, step_s=10.0)
        record_history(factory, services.store, tag_ids, 8700)  # a day and 10 minutes
        apps = parse_apps_file(APPS, "apps.yaml")
        section, oee = load_section(apps, site), load_oee(apps, site)
        assert section is not None and oee is not None
        service = EnergyService(
            section, services.store, tag_ids, OeeService(oee, services.store, tag_ids)
        )
        assert section.carbon is not None
        tenant = site.site.tenant
        carbon = CarbonService(
            section.carbon, apps.source, service, CarbonReports(services.catalog),
            services.catalog.ensure_tenant(tenant), site.site.name,
        )  # fmt: skip
        keys = [services.catalog.create_api_key(tenant, r, r.name) for r in Role]
        services.catalog.ensure_tenant("other")
        other = services.catalog.create_api_key("other", Role.ADMIN, "o")
        yield Plant(
            dataclasses.replace(services, energy=EnergyApp(tenant, service, carbon)),
            {"Authorization": f"Bearer {keys[0]}"},
            {"Authorization": f"Bearer {keys[2]}"},
            {"Authorization": f"Bearer {other}"},
        )


@pytest.fixture
def app(plant: Plant) -> FastAPI:
    return create_app(plant.services)


def q(**extra: str) -> dict[str, str]:
    return {"start": START, "end": END, **extra}


async def test_the_site_counter_equals_the_machines_plus_the_base_load(
    client: httpx.AsyncClient, plant: Plant
) -> None:
    h = plant.viewer
    site = (await client.get("/api/energy/place", params=q(path="demo"), headers=h)).json()
    assert site["meters"] == ["incomer"] and site["coverage"] == pytest.approx(1.0)
    machines = 0.0
    for path in MACHINES:
        r = await client.get("/api/energy/place", params=q(path=path), headers=h)
        assert r.status_code == 200, r.text
        assert r.json()["coverage"] == pytest.approx(1.0)
        machines += r.json()["kwh"]
    assert site["kwh"] == pytest.approx(machines + BASE_LOAD_KW * 24, rel=0.003)


async def test_shifts_products_idle_and_profile(client: httpx.AsyncClient, plant: Plant) -> None:
    h = plant.viewer
    shifts = (await client.get("/api/energy/shifts", params=q(path=CNC1), headers=h)).json()
    assert [s["key"] for s in shifts] == ["2025-01-06 early", "2025-01-06 late"]
    for s in shifts:
        assert s["good"] > 0 and s["kwh_per_good"] == pytest.approx(s["kwh"] / s["good"])
    cnc = (await client.get("/api/energy/place", params=q(path=CNC1), headers=h)).json()
    assert 0 < cnc["idle_kwh"] < cnc["kwh"]  # it idles outside its shifts
    (product,) = (await client.get("/api/energy/products", params=q(path=CNC1), headers=h)).json()
    assert product["kwh"] == pytest.approx(cnc["kwh"], rel=1e-3)  # one product, all day
    p = (await client.get("/api/energy/profile", params=q(path="demo"), headers=h)).json()
    assert p["interval_s"] == 900 and p["starts"][0] == "2025-01-06T00:00:00.000Z"
    assert len(p["kw"]) == len(p["starts"]) == 24 * 4 + 1  # whole intervals around the range
    assert p["peak"]["kw"] == max(k for k, c in zip(p["kw"], p["coverage"], strict=True) if c >= 1)


async def test_the_compressor_station(client: httpx.AsyncClient, plant: Plant) -> None:
    r = await client.get("/api/energy/air", params=q(), headers=plant.viewer)
    assert r.status_code == 200, r.text
    body = r.json()
    assert [c["name"] for c in body["compressors"]] == [
        "demo/utilities/air/station/comp-01", "demo/utilities/air/station/comp-02",
    ]  # fmt: skip
    assert all(5 < c["specific_power_kw_per_m3_min"] < 9 for c in body["compressors"])
    assert body["leakage"] is None  # no no-demand period configured
    sp = body["setpoint"]
    assert 6.0 < sp["lowest_bar"] <= 6.5 and sp["target_bar"] == pytest.approx(6.2)  # cut-in 6.5
    assert sp["reduce_bar"] == pytest.approx(round(max(0.0, sp["lowest_bar"] - 6.2), 1))
    setup = (await client.get("/api/energy/setup", headers=plant.viewer)).json()
    assert setup["places"][0] == "demo" and len(setup["meters"]) == 1 + len(MACHINES)


@pytest.mark.parametrize(
    ("url", "params", "status"),
    [
        ("/api/energy/place", {"path": "demo/nowhere"}, 400),
        ("/api/energy/place", {"path": CNC1, "start": END, "end": START}, 400),
        ("/api/energy/shifts", {"path": "demo/machining/line1/cell1/cnc-02"}, 400),
        ("/api/energy/place", {"path": CNC1, "start": "yesterday"}, 400),
        ("/api/energy/profile", {"path": "x" * 401}, 422),
    ],
)
async def test_bad_requests_get_clear_errors(
    client: httpx.AsyncClient, plant: Plant, url: str, params: dict[str, str], status: int
) -> None:
    r = await client.get(url, params={**q(), **params}, headers=plant.viewer)
    assert r.status_code == status, r.text
    assert r.json()["detail"]


async def test_another_tenant_finds_no_energy(client: httpx.AsyncClient, plant: Plant) -> None:
    r = await client.get("/api/energy/place", params=q(path="demo"), headers=plant.other)
    assert r.status_code == 404


MONTH = "2025-01"  # Asia/Shanghai: from 2024-12-31T16:00Z to 2025-01-31T16:00Z
GAS = {"id": "boiler", "category": 1, "quantity": 1.5, "unit": "t", "fuel": "natural_gas"}


async def test_a_carbon_report_of_the_month_is_issued_read_and_rendered(
    client: httpx.AsyncClient, plant: Plant
) -> None:
    body = {"period": MONTH, "activities": [GAS]}
    r = await client.post("/api/energy/carbon/reports", json=body, headers=plant.viewer)
    assert r.status_code == 403
    r = await client.post("/api/energy/carbon/reports", json=body, headers=plant.engineer)
    assert r.status_code == 201, r.text
    issued = r.json()
    assert issued["new"] and issued["site"] == "demo" and issued["period"] == MONTH
    version = issued["version"]
    again = await client.post("/api/energy/carbon/reports", json=body, headers=plant.engineer)
    assert again.status_code == 200 and not again.json()["new"]
    assert again.json()["version"] == version

    got = await client.get(f"/api/energy/carbon/reports/{MONTH}/{version}", headers=plant.viewer)
    assert got.status_code == 200, got.text
    report = got.json()["report"]
    span = {"start": "2024-12-31T16:00:00Z", "end": "2025-01-31T16:00:00Z", "path": "demo"}
    site = (await client.get("/api/energy/place", params=span, headers=plant.viewer)).json()
    assert report["electricity"]["kwh"] == pytest.approx(site["kwh"], rel=1e-9)
    assert report["electricity"]["coverage"] == pytest.approx(site["coverage"], rel=1e-9)
    scope2 = report["totals"]["location"]["scopes"]["2"]
    assert scope2 == pytest.approx(site["kwh"] * 0.5306, rel=1e-12)  # kWh × t/MWh = kg
    days = {p["label"]: p["kwh"] for p in report["electricity"]["parts"]}
    assert days["2025-01-06"] > 0 and days["2025-01-20"] == 0.0
    listed = await client.get("/api/energy/carbon/reports", headers=plant.viewer)
    assert [v["version"] for v in listed.json()] == [version]

    url = f"/api/energy/carbon/reports/{MONTH}/{version}/pdf"
    pdf = await client.get(url, headers=plant.viewer)
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    text = "".join(p.extract_text() for p in PdfReader(io.BytesIO(pdf.content)).pages)
    assert f"GHG inventory {MONTH} (version {version})" in text
    assert "cn.grid.national.2023" in text and "MEE/NBS" in text
    assert f"{report['totals']['location']['total'] / 1000:,.3f}" in text
    pages = render(pdf.content)
    assert all(inked(page) > 0.01 for page in pages)
    # the two bar series (location, market) are drawn in the first two palette colours
    assert sum(pixels_of(page, PALETTE[0]) for page in pages) > 500
    assert sum(pixels_of(page, PALETTE[1]) for page in pages) > 100


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        ({"period": "2025-13"}, 400, "period '2025-13'"),
        ({"period": "2031-01"}, 400, "has not started"),
        ({"period": MONTH, "activities": [{**GAS, "fuel": "whale_oil"}]}, 400, "'boiler'"),
        ({"period": MONTH, "activities": [{**GAS, "unit": "kWh"}]}, 400, "activity 'boiler'"),
        ({"period": MONTH, "activities": [{**GAS, "quantity": -1}]}, 422, "quantity"),
        ({"period": MONTH, "instruments": [{"id": "s", "kind": "supplier", "mwh": 0.1}]},
         400, "needs its factor"),
        ({"period": MONTH, "instruments": [{"id": "g", "kind": "certificate", "mwh": 1e6}]},
         400, "instruments claim"),
        ({"period": "2025/01"}, 422, "period"),
        ({"period": "２０２５-０１"}, 422, "period"),
        ({"period": "1000"}, 400, "1970"),
        ({"period": MONTH, "activities": [{**GAS, "unit": "kg/0"}]}, 400, "activity 'boiler'"),
    ],
)  # fmt: skip
async def test_bad_carbon_requests_are_refused_and_issue_nothing(
    client: httpx.AsyncClient, plant: Plant, body: dict[str, object], status: int, detail: str
) -> None:
    before = (await client.get("/api/energy/carbon/reports", headers=plant.viewer)).json()
    r = await client.post("/api/energy/carbon/reports", json=body, headers=plant.engineer)
    assert r.status_code == status, r.text
    assert detail in str(r.json()["detail"])
    after = (await client.get("/api/energy/carbon/reports", headers=plant.viewer)).json()
    assert after == before


async def test_carbon_reports_of_another_tenant_or_version_are_not_found(
    client: httpx.AsyncClient, plant: Plant
) -> None:
    r = await client.get("/api/energy/carbon/reports", headers=plant.other)
    assert r.status_code == 404
    r = await client.get(f"/api/energy/carbon/reports/{MONTH}/999", headers=plant.viewer)
    assert r.status_code == 404 and "version 999" in r.json()["detail"]
