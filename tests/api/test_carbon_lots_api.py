"""Lot footprints and PACT export through the API, from five hours of the demo plant with a
40-minute hole in its stored data: the lots come from the EPCIS events the trace emits for
that history, their energy from the line's meters, and a lot the hole cut into is listed
with its coverage but gets no PACT footprint."""

import dataclasses
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from factoryos.api import Services, create_app
from factoryos.api.services import EnergyApp
from factoryos.apps.energy.carbon_service import CarbonService
from factoryos.apps.energy.config import load_section
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.oee.config import load_section as load_oee
from factoryos.apps.oee.service import OeeService
from factoryos.apps.trace.production import load_section as load_trace
from factoryos.apps.trace.production import plans
from factoryos.apps.trace.production.processor import backfill
from factoryos.cli import DEMO_APPS
from factoryos.model.appsfile import load_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.factory import DEFAULT_START_NS
from factoryos.store.carbon_reports import CarbonReports
from factoryos.store.catalog import Role
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.epcis_query import EpcisQueries
from support.tenants import open_services

NS_PER_S = 10**9
STEP_S = 10.0
START = DEFAULT_START_NS + 6 * 3600 * NS_PER_S  # a Monday 06:00 UTC: every machine at work
STORED_STEPS = 900  # 2.5 h stored, then a hole, then 2.5 h stored
HOLE_STEPS = 240  # 40 min the platform stored nothing (the machines kept running)
GRID_KG_PER_KWH = 0.5306  # cn.grid.national.2023, the demo's grid factor
HOUSING_KG = 1.1  # unit_mass_kg of the housings product in the demo apps file


@dataclasses.dataclass
class Plant:
    services: Services
    viewer: dict[str, str]
    other: dict[str, str]
    hole: tuple[int, int]


def _iso(ns: int) -> str:
    return datetime.fromtimestamp(ns / NS_PER_S, UTC).isoformat()


def _ns(text: str) -> int:
    return round(datetime.fromisoformat(text).timestamp() * NS_PER_S)


@pytest.fixture(scope="module")
def plant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Plant]:
    where = tmp_path_factory.mktemp("carbon-lots")
    site = load_demo_site()
    apps = load_apps_file(DEMO_APPS)
    with open_services(f"sqlite:///{where / 'catalog.sqlite'}", where) as services:
        tag_ids = services.catalog.register_site(site)
        factory = VirtualFactory(site, seed=7, start_ns=START, step_s=STEP_S)
        record_history(factory, services.store, tag_ids, STORED_STEPS)
        hole_start = factory.now_ns
        for _ in range(HOLE_STEPS):
            factory.step()
        hole = (hole_start, factory.now_ns)
        record_history(factory, services.store, tag_ids, STORED_STEPS)
        tenant = site.site.tenant
        tenant_id = services.catalog.ensure_tenant(tenant)
        trace = load_trace(apps, site)
        section, oee = load_section(apps, site), load_oee(apps, site)
        assert trace is not None and section is not None and oee is not None
        assert section.carbon is not None
        line_plans = plans(trace)
        events = EpcisEvents(services.catalog)
        backfill(line_plans, services.store, events, tenant_id, tag_ids, START, factory.now_ns)
        energy = EnergyService(section, services.store, tag_ids,
                               OeeService(oee, services.store, tag_ids))  # fmt: skip
        carbon = CarbonService(
            section.carbon, str(DEMO_APPS), energy, CarbonReports(services.catalog), tenant_id,
            site.site.name, {p.line: p for p in line_plans}, EpcisQueries(services.catalog),
        )  # fmt: skip
        viewer = services.catalog.create_api_key(tenant, Role.VIEWER, "auditor")
        services.catalog.ensure_tenant("other")
        other = services.catalog.create_api_key("other", Role.ADMIN, "o")
        yield Plant(
            dataclasses.replace(services, energy=EnergyApp(tenant, energy, carbon)),
            {"Authorization": f"Bearer {viewer}"},
            {"Authorization": f"Bearer {other}"},
            hole,
        )


@pytest.fixture
def app(plant: Plant) -> FastAPI:
    return create_app(plant.services)


def span(**extra: str) -> dict[str, str]:
    end = START + round((2 * STORED_STEPS + HOLE_STEPS) * STEP_S) * NS_PER_S
    return {"line": "housings", "start": _iso(START), "end": _iso(end), **extra}


async def _lots(client: httpx.AsyncClient, plant: Plant) -> list[dict[str, Any]]:
    r = await client.get("/api/energy/carbon/lots", params=span(), headers=plant.viewer)
    assert r.status_code == 200, r.text
    found: list[dict[str, Any]] = r.json()
    return found


def _cut_by_the_hole(lot: dict[str, Any], plant: Plant) -> bool:
    a, b = _ns(lot["start"]), _ns(lot["end"])
    return a < plant.hole[1] and b > plant.hole[0]


async def test_lots_carry_their_line_energy_and_materials(
    client: httpx.AsyncClient, plant: Plant
) -> None:
    lots = await _lots(client, plant)
    assert len(lots) >= 6  # 90-s parts in lots of 20 over 5 h 40 min
    ends = [_ns(x["end"]) for x in lots]
    starts = [_ns(x["start"]) for x in lots]
    assert all(e <= s for e, s in zip(ends, starts[1:], strict=False))  # one lot at a time
    for lot in lots:
        assert lot["place"] == "demo/machining/line1"
        assert lot["process_kg_co2e"] == pytest.approx(lot["kwh"] * GRID_KG_PER_KWH)
        window = {"path": "demo/machining/line1", "start": lot["start"], "end": lot["end"]}
        place = await client.get("/api/energy/place", params=window, headers=plant.viewer)
        assert place.status_code == 200, place.text
        assert lot["kwh"] == pytest.approx(place.json()["kwh"], rel=1e-9)  # the meters' energy
        assert lot["coverage"] == pytest.approx(place.json()["coverage"], abs=1e-9)
        assert (lot["coverage"] < 0.99) == _cut_by_the_hole(lot, plant)


async def test_a_measured_lot_exports_to_pact_and_a_cut_one_is_refused(
    client: httpx.AsyncClient, plant: Plant
) -> None:
    lots = await _lots(client, plant)
    whole = next(x for x in lots if x["coverage"] >= 0.99)
    r = await client.get("/api/energy/carbon/pact", params=span(lot=whole["lot"]),
                         headers=plant.viewer)  # fmt: skip
    assert r.status_code == 200, r.text
    pcf = r.json()["pcf"]
    per_kg = whole["kg_co2e_per_unit"] / HOUSING_KG
    assert float(pcf["pCfExcludingBiogenic"]) == pytest.approx(per_kg)
    assert pcf["declaredUnit"] == "kilogram" and float(pcf["unitaryProductAmount"]) == HOUSING_KG

    cut = next(x for x in lots if x["coverage"] < 0.99)
    r = await client.get("/api/energy/carbon/pact", params=span(lot=cut["lot"]),
                         headers=plant.viewer)  # fmt: skip
    assert r.status_code == 400, r.text
    assert f"lot {cut['lot']}" in r.json()["detail"] and "% of its window" in r.json()["detail"]


@pytest.mark.parametrize(
    ("params", "detail"),
    [
        ({"line": "nowhere"}, "no trace line 'nowhere'"),
        ({"lot": "urn:epc:class:lgtin:4012345.012345.NOPE"}, "no finished lot"),
        ({"start": "2020-01-01T00:00:00Z"}, "span ≤ 93 days"),
    ],
)
async def test_bad_lot_questions_are_answered_clearly(
    client: httpx.AsyncClient, plant: Plant, params: dict[str, str], detail: str
) -> None:
    query = span(lot="urn:epc:class:lgtin:4012345.012345.NOPE") | params
    r = await client.get("/api/energy/carbon/pact", params=query, headers=plant.viewer)
    assert r.status_code == 400, r.text
    assert detail in r.json()["detail"]


async def test_another_tenant_sees_no_lots(client: httpx.AsyncClient, plant: Plant) -> None:
    r = await client.get("/api/energy/carbon/lots", params=span(), headers=plant.other)
    assert r.status_code == 404
