"""The inventory's lines against examples computed by hand, and the factor library's checks."""

import pytest

from factoryos.apps.energy.errors import FactorError, InventoryError, UnitError
from factoryos.apps.energy.factors import FactorFileError, default_library, parse_library
from factoryos.apps.energy.inventory import (
    Activity,
    Category,
    Electricity,
    Instrument,
    Kind,
    Method,
    inventory,
    scope_of,
)

JAN = 1_767_225_600_000_000_000  # 2026-01-01T00:00:00Z
FEB = 1_769_904_000_000_000_000  # 2026-02-01T00:00:00Z

OWN = """
library: plant-own
version: "1"
gwp: {AR6: {CO2: 1, CH4: 29.8, N2O: 273}}
fuels:
  pipeline_gas: {convert: [supplier.gas.ncv], emit: [gas.co2]}
factors:
  - {id: supplier.gas.ncv, value: 36.0, unit: MJ/Nm3, source: "gas invoice 2026-01", year: 2026}
  - {id: gas.co2, value: 56100, unit: kg/TJ, gas: CO2, source: "IPCC 2006 T2.3", year: 2006}
  - {id: grid, value: 0.5366, unit: t/MWh, gas: CO2, source: "MEE/NBS 2022", year: 2022}
  - {id: residual, value: 0.5856, unit: t/MWh, gas: CO2, source: "MEE/NBS 2022", year: 2022}
  - {id: supplier.power, value: 200, unit: kg/MWh, gas: CO2, source: "contract", year: 2026}
"""


def test_natural_gas_by_the_ipcc_defaults() -> None:
    # 10 t = 0.01 Gg × 48 TJ/Gg = 0.48 TJ; CO2 0.48 × 56,100 = 26,928 kg; CH4 0.48 kg × 29.8
    # = 14.304; N2O 0.048 kg × 273 = 13.104 → 26,955.408 kg CO2e (AR6).
    gas = Activity("boiler gas", Category.DIRECT, 10.0, "t", fuel="natural_gas", evidence="inv-1")
    inv = inventory(default_library(), JAN, FEB, [gas])
    assert [(line.gas, line.kg) for line in inv.lines] == [
        ("CO2", pytest.approx(26_928.0)),
        ("CH4", pytest.approx(0.48)),
        ("N2O", pytest.approx(0.048)),
    ]
    assert inv.total() == pytest.approx(26_955.408)
    assert inv.total(scope=1) == pytest.approx(26_955.408)
    ar5 = inventory(default_library(), JAN, FEB, [gas], gwp_set="AR5")
    assert ar5.total() == pytest.approx(26_928 + 0.48 * 28 + 0.048 * 265)
    # every line names the factors it used, with their values and sources
    co2 = inv.lines[0]
    assert [f.id for f in co2.factors] == [
        "ipcc2006.ncv.natural_gas",
        "ipcc2006.t2_3.natural_gas.co2",
    ]
    assert co2.factors[1].value == 56_100 and "Table 2.3" in co2.factors[1].source
    assert (inv.library, inv.version, inv.gwp_set) == ("factoryos-default", "2026.11.25", "AR6")


def test_scope_2_location_and_market_based() -> None:
    # 1,000 MWh; location: × 0.5366 t/MWh = 536,600 kg. Market: 300 MWh certificates (0),
    # 100 MWh at the supplier's 200 kg/MWh = 20,000 kg, 600 MWh × residual 0.5856 t/MWh
    # = 351,360 kg → 371,360 kg.
    lib = parse_library(OWN, "own.yaml")
    power = Electricity(
        "site power",
        1_000_000.0,
        "grid",
        (
            Instrument("GEC-2026-001", Kind.CERTIFICATE, 300.0),
            Instrument("PPA-7", Kind.SUPPLIER, 100.0, "supplier.power"),
        ),
        residual_factor="residual",
    )
    inv = inventory(lib, JAN, FEB, electricity=[power])
    assert inv.total(scope=2, method=Method.LOCATION) == pytest.approx(536_600.0)
    assert inv.total(scope=2, method=Method.MARKET) == pytest.approx(371_360.0)
    market = [
        (line.evidence, line.quantity, line.kg)
        for line in inv.lines
        if line.method is Method.MARKET
    ]
    assert market == [
        ("certificate GEC-2026-001", 300_000.0, 0.0),
        ("supplier PPA-7", 100_000.0, pytest.approx(20_000.0)),
        ("", 600_000.0, pytest.approx(351_360.0)),
    ]
    # no residual factor: the uncovered 600 MWh at the grid factor, and the line says so
    plain = inventory(
        lib, JAN, FEB, electricity=[Electricity("p", 1_000_000.0, "grid", power.instruments)]
    )
    assert plain.total(method=Method.MARKET) == pytest.approx(20_000 + 600 * 536.6)
    assert "grid factor is used" in plain.lines[-1].note


def test_scopes_of_the_iso_categories() -> None:
    assert [scope_of(c) for c in Category] == [1, 2, 3, 3, 3, 3]


def test_a_quantity_in_the_wrong_kind_of_volume_names_the_activity() -> None:
    # the supplier's calorific value is per normal m³; an actual m³ cannot go through it
    lib = parse_library(OWN, "own.yaml")
    ok = Activity("gas Jan", Category.DIRECT, 10_000.0, "Nm3", fuel="pipeline_gas")
    # 10,000 Nm³ × 36 MJ/Nm³ = 0.36 TJ × 56,100 kg/TJ = 20,196 kg
    assert inventory(lib, JAN, FEB, [ok]).total() == pytest.approx(20_196.0)
    bad = Activity("gas Jan", Category.DIRECT, 10_000.0, "m3", fuel="pipeline_gas")
    with pytest.raises(UnitError, match="activity 'gas Jan': m3 × MJ/Nm3 × kg/TJ is not a mass"):
        inventory(lib, JAN, FEB, [bad])
    # MWh of gas is energy, not a volume: refused the same way
    with pytest.raises(UnitError, match="is not a mass"):
        inventory(lib, JAN, FEB, [Activity("g", Category.DIRECT, 1.0, "MWh", fuel="pipeline_gas")])


def test_bad_activity_data_is_refused_by_name() -> None:
    lib = parse_library(OWN, "own.yaml")
    with pytest.raises(
        InventoryError, match=r"electricity 'p': instruments claim 1200 MWh of 1000 MWh"
    ):
        inventory(
            lib,
            JAN,
            FEB,
            electricity=[
                Electricity("p", 1e6, "grid", (Instrument("c", Kind.CERTIFICATE, 1200.0),))
            ],
        )
    with pytest.raises(FactorError, match="activity 'x': no factor 'nope' in plant-own 1"):
        inventory(lib, JAN, FEB, [Activity("x", Category.DIRECT, 1.0, "t", emit=("nope",))])
    with pytest.raises(FactorError, match=r"no fuel 'coal'.*known: pipeline_gas"):
        inventory(lib, JAN, FEB, [Activity("x", Category.DIRECT, 1.0, "t", fuel="coal")])
    with pytest.raises(
        InventoryError, match=r"activity 'x': quantity is -1\.0: expected a number ≥ 0"
    ):
        inventory(lib, JAN, FEB, [Activity("x", Category.DIRECT, -1.0, "Nm3", fuel="pipeline_gas")])
    with pytest.raises(InventoryError, match="no GWP set 'AR4'"):
        inventory(lib, JAN, FEB, gwp_set="AR4")
    with pytest.raises(InventoryError, match="ids repeat"):
        inventory(
            lib, JAN, FEB, [Activity("x", Category.DIRECT, 1.0, "Nm3", fuel="pipeline_gas")] * 2
        )


def test_a_library_file_lists_every_problem_with_its_line() -> None:
    text = """library: broken
version: "1"
gwp: {AR6: {CO2: 1}}
fuels:
  gas: {convert: [missing], emit: [density]}
factors:
  - {id: ncv, value: 36, unit: MJ/Nm3, source: s, year: 2026}
  - {id: density, value: 0.7, unit: kg/Nm3, source: s, year: 2026}
  - {id: ncv, value: 1, unit: kg/parsec_of_joy, gas: CO2, source: s, year: 2026}
"""
    with pytest.raises(FactorFileError) as err:
        parse_library(text, "broken.yaml")
    message = str(err.value)
    assert "broken.yaml: 4 problems" in message
    assert "broken.yaml:9: factors[2].id: duplicate factor id 'ncv'" in message
    assert "broken.yaml:9: factors[2].unit: factor ncv: unknown unit 'kg/parsec_of_joy'" in message
    assert "broken.yaml:5: fuels.gas.convert[0]: no factor 'missing'" in message
    assert "fuels.gas.emit[0]: 'density' must be an emission (a gas)" in message
    with pytest.raises(
        FactorFileError, match=r"factors\[0\]\.value: Input should be greater than or equal to 0"
    ):
        parse_library(text.replace("value: 36", "value: -36"), "neg.yaml")


def test_a_changed_factor_is_a_different_set_even_under_the_same_version() -> None:
    first = parse_library(OWN, "own.yaml")
    again = parse_library(OWN + "\n# a comment changes nothing\n", "own.yaml")
    changed = parse_library(OWN.replace("value: 0.5366", "value: 0.5306"), "own.yaml")
    assert first.digest == again.digest
    assert changed.digest != first.digest and changed.version == first.version


def test_purchased_steam_counts_under_both_scope_2_methods() -> None:
    # 100 t of steam × 250 kg CO2/t = 25,000 kg, location- and market-based alike
    lib = parse_library(
        OWN + "  - {id: steam, value: 250, unit: kg/t, gas: CO2, source: s, year: 2026}\n",
        "own.yaml",
    )
    steam = Activity("steam", Category.IMPORTED_ENERGY, 100.0, "t", emit=("steam",))
    inv = inventory(lib, JAN, FEB, [steam])
    assert inv.total(scope=2, method=Method.LOCATION) == pytest.approx(25_000.0)
    assert inv.total(scope=2, method=Method.MARKET) == pytest.approx(25_000.0)
    with pytest.raises(InventoryError, match="location- or market-based"):
        inv.total(method=Method.DIRECT)


def test_claims_that_cannot_hold_are_refused() -> None:
    lib = parse_library(OWN, "own.yaml")
    no_factor = (Instrument("PPA-9", Kind.SUPPLIER, 10.0),)
    with pytest.raises(InventoryError, match="supplier instrument 'PPA-9' needs its factor"):
        inventory(lib, JAN, FEB, electricity=[Electricity("p", 1e6, "grid", no_factor)])
    cert = (Instrument("GEC-1", Kind.CERTIFICATE, 600.0),)
    twice = [Electricity("site a", 1e6, "grid", cert), Electricity("site b", 1e6, "grid", cert)]
    with pytest.raises(InventoryError, match=r"claimed more than once: \['GEC-1'\]"):
        inventory(lib, JAN, FEB, electricity=twice)
    nan = float("nan")
    with pytest.raises(InventoryError, match="electricity 'p': kWh is nan"):
        inventory(lib, JAN, FEB, electricity=[Electricity("p", nan, "grid")])
    bad_cert = (Instrument("GEC-2", Kind.CERTIFICATE, nan),)
    with pytest.raises(InventoryError, match="instrument 'GEC-2' MWh is nan"):
        inventory(lib, JAN, FEB, electricity=[Electricity("p", 1e6, "grid", bad_cert)])


def test_unit_spellings_that_would_mislead() -> None:
    lib = parse_library(OWN.replace("MJ/Nm3", "MJ/Nm³"), "own.yaml")
    gas = Activity("gas", Category.DIRECT, 10_000.0, "Nm³", fuel="pipeline_gas")
    assert inventory(lib, JAN, FEB, [gas]).total() == pytest.approx(20_196.0)
    coal = Activity("coal", Category.DIRECT, 1.0, "ton", fuel="bituminous_coal")
    with pytest.raises(UnitError, match="'ton' is ambiguous"):
        inventory(default_library(), JAN, FEB, [coal])
