"""Product footprints by allocation rule, checked by hand, and their PACT export."""

import numpy as np
import pytest

from factoryos.apps.energy.errors import AllocationError, UnitError
from factoryos.apps.energy.footprint import Footprint, Material, Rule, allocate, allocate_pools
from factoryos.apps.energy.pact import (
    PactCompany,
    PactError,
    PactProduct,
    product_footprint,
    validate,
)

JAN = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
FEB = 1_769_904_000_000_000_000
GRID = 0.5366  # kg CO2 per kWh

COMPANY = PactCompany(
    "Demo Works", ("urn:pathfinder:company:customcode:vendor-assigned:demo",), "CN"
)
BRACKET = PactProduct(
    name="Bracket B-12",
    description="Machined steel bracket",
    ids=("urn:gtin:4012345000016",),
    cpc="42999",
    unit_mass_kg=0.5,
    fossil_carbon_kg_per_kg=0.002,
    biogenic_carbon_kg_per_kg=0.0,
)


def order_a() -> Footprint:
    # cnc-01: 1,000 kWh × 0.5366 = 536.6 kg shared by run time 6 h : 2 h → A 402.45.
    # base load 200 kg shared by good mass 300 kg : 100 kg → A 150.
    # imm-01 measured during A's operations: 50 kWh × 0.5366 = 26.83 kg, all A's.
    parts = allocate_pools(
        [
            ("cnc-01", Rule.MACHINE_TIME, 1000 * GRID, {"A": 6 * 3600.0, "B": 2 * 3600.0}),
            ("base load", Rule.MASS, 200.0, {"A": 300.0, "B": 100.0}),
            ("imm-01", Rule.ENERGY, 50 * GRID, {"A": 50.0}),
        ]
    )
    materials = (
        Material("steel bar", 330.0, "kg", 2.0, "kg", "supplier EPD 2025"),  # 660 kg
        Material("bearing", 600.0, "piece", 0.5, "piece", "catalogue"),  # 300 kg
    )
    return Footprint("A", "Bracket B-12", 600, tuple(parts["A"]), materials)


def test_allocation_rules_by_hand() -> None:
    a = order_a()
    assert [(p.pool, p.kg_co2e) for p in a.process] == [
        ("cnc-01", pytest.approx(402.45)),
        ("base load", pytest.approx(150.0)),
        ("imm-01", pytest.approx(26.83)),
    ]
    assert (a.process[0].share, a.process[0].pool_share) == (6 * 3600.0, 8 * 3600.0)
    assert a.materials_kg == pytest.approx(960.0)
    assert a.total_kg == pytest.approx(1539.28)
    assert a.per_unit_kg == pytest.approx(1539.28 / 600)
    assert a.primary_share == pytest.approx(100 * 579.28 / 1539.28)


def test_material_quantities_are_converted_to_the_factor_unit() -> None:
    assert Material("resin", 500.0, "g", 3.0, "kg", "s").kg_co2e() == pytest.approx(1.5)
    with pytest.raises(UnitError, match="material 'resin'"):
        Material("resin", 500.0, "m3", 3.0, "kg", "s").kg_co2e()


def test_a_pool_no_order_can_carry_is_an_error() -> None:
    with pytest.raises(AllocationError, match="pool 'cnc-01': 10 kg CO2e but no order"):
        allocate("cnc-01", 10.0, {"A": 0.0})
    assert allocate("idle", 0.0, {"A": 0.0}) == {"A": 0.0}
    with pytest.raises(AllocationError, match=r"negative or missing shares for \['B'\]"):
        allocate("cnc-01", 10.0, {"A": 1.0, "B": -1.0})
    with pytest.raises(AllocationError, match="order 'Z': no good units"):
        _ = Footprint("Z", "p", 0, (), ()).per_unit_kg


def test_pact_export_per_kilogram_validates() -> None:
    doc = product_footprint(
        order_a(), COMPANY, BRACKET, (JAN, FEB), FEB, ("factoryos-default", "2026.11"), "AR6"
    )
    pcf = doc["pcf"]
    # 1539.28 kg / 600 units / 0.5 kg a unit = 5.131 kg CO2e per kg
    assert float(pcf["pCfExcludingBiogenic"]) == pytest.approx(1539.28 / 600 / 0.5)
    assert pcf["unitaryProductAmount"] == "0.5"
    assert pcf["declaredUnit"] == "kilogram"
    assert pcf["fossilCarbonContent"] == "0.002"
    assert pcf["referencePeriodStart"] == "2026-01-01T00:00:00.000Z"
    assert pcf["characterizationFactors"] == "AR6"
    assert pcf["secondaryEmissionFactorSources"] == [
        {"name": "factoryos-default", "version": "2026.11"}
    ]
    assert pcf["primaryDataShare"] == pytest.approx(37.633, abs=1e-3)
    assert doc["specVersion"] == "2.2.0" and doc["status"] == "Active"
    tampered = {**doc, "pcf": {**pcf, "pCfExcludingBiogenic": "-1"}}
    with pytest.raises(PactError, match="pcf/pCfExcludingBiogenic"):
        validate(tampered)


def test_pact_keeps_small_masses_and_takes_numpy_floats() -> None:
    tiny = PactProduct("x", "", ("urn:gtin:1",), "1", 0.0000014, 0.0, 0.0)
    doc = product_footprint(order_a(), COMPANY, tiny, (JAN, FEB), FEB, ("l", "1"), "AR6")
    assert doc["pcf"]["unitaryProductAmount"] == "0.0000014"
    as_numpy = PactProduct("x", "", ("urn:gtin:1",), "1", float(np.float64(0.5)), 0.0, 0.0)
    assert product_footprint(order_a(), COMPANY, as_numpy, (JAN, FEB), FEB, ("l", "1"), "AR6")


def test_pact_refuses_what_breaks_the_data_model_by_field() -> None:
    bad_company = PactCompany("Demo Works", ("demo-works",), "CN")
    with pytest.raises(
        PactError, match="PACT ProductFootprint companyIds/0: 'demo-works' does not match"
    ):
        product_footprint(order_a(), bad_company, BRACKET, (JAN, FEB), FEB, ("l", "1"), "AR6")
    with pytest.raises(PactError, match="unit_mass_kg must be > 0"):
        product_footprint(
            order_a(),
            COMPANY,
            PactProduct("x", "", ("urn:gtin:1",), "1", 0.0, 0.0, 0.0),
            (JAN, FEB),
            FEB,
            ("l", "1"),
            "AR6",
        )
    heavy = PactProduct("x", "", ("urn:gtin:1",), "1", 1.0, 0.0, 0.0, exempted_percent=7.5)
    with pytest.raises(
        PactError, match=r"pcf/exemptedEmissionsPercent: 7\.5 is greater than the maximum of 5"
    ):
        product_footprint(order_a(), COMPANY, heavy, (JAN, FEB), FEB, ("l", "1"), "AR6")
    doc = product_footprint(order_a(), COMPANY, BRACKET, (JAN, FEB), FEB, ("l", "1"), "AR6")
    doc["pcf"]["geographyCountrySubdivision"] = "CN-JS"  # two geographies at once
    with pytest.raises(PactError, match=r"PACT ProductFootprint pcf: .* should not be valid"):
        validate(doc)
    sub = product_footprint(
        order_a(),
        PactCompany("D", COMPANY.ids, "CN", "CN-JS"),
        BRACKET,
        (JAN, FEB),
        FEB,
        ("l", "1"),
        "AR6",
    )
    assert (
        sub["pcf"]["geographyCountrySubdivision"] == "CN-JS"
        and "geographyCountry" not in sub["pcf"]
    )
