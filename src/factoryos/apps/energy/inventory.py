"""The GHG inventory: ISO 14064-1 categories, GHG Protocol scopes, one line per gas.

Every line is ``quantity × conversions × emission factor``, computed with units (pint) and
expressed in kg of the gas, then in kg CO2e by the chosen GWP set; the line keeps the ids,
values, units, sources and years of the factors it used, so an auditor can follow it.

Scope 2 is reported both ways (GHG Protocol Scope 2 Guidance):

- **location-based**: all electricity × the grid's average factor;
- **market-based**: contractual instruments first (green power purchases and certificates
  at their own factor, 0 for renewable attributes; supplier-specific factors), then the
  consumption no instrument covers × the residual factor given, else the grid factor (the
  line says so: China publishes no residual mix). Instruments above the consumption are
  an error: the same MWh cannot be claimed twice.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum, StrEnum

import pint

from factoryos.apps.energy.errors import InventoryError, UnitError
from factoryos.apps.energy.factors import Factor, FactorSet
from factoryos.apps.energy.units import parse, registry

KG = "kg"


class Category(IntEnum):
    """ISO 14064-1:2018 clause 5.2.4 categories."""

    DIRECT = 1  # direct GHG emissions and removals
    IMPORTED_ENERGY = 2  # indirect emissions from imported energy
    TRANSPORTATION = 3
    PRODUCTS_USED = 4  # products the organization uses (purchased goods, services)
    PRODUCTS_SOLD = 5  # use of products from the organization
    OTHER = 6


def scope_of(category: Category) -> int:
    """The GHG Protocol scope a category reports under."""
    return min(int(category), 3)


class Method(StrEnum):
    DIRECT = "direct"  # not a scope 2 electricity line: counts under both methods
    LOCATION = "location"
    MARKET = "market"


class Kind(StrEnum):
    """Contractual instruments: the first two carry renewable attributes (0 emissions)."""

    CERTIFICATE = "certificate"  # GEC, I-REC: one per MWh
    GREEN_POWER = "green_power"  # green power purchased with its certificates
    SUPPLIER = "supplier"  # a supplier-specific factor: needs its factor


@dataclass(frozen=True, slots=True)
class Activity:
    """A quantity of something that emits: a fuel burned (``fuel`` names its conversions
    and emission factors in the library), or explicit ``convert`` / ``emit`` factor ids.
    ``evidence``: where the quantity comes from (a meter, an invoice)."""

    id: str
    category: Category
    quantity: float
    unit: str
    fuel: str | None = None
    convert: tuple[str, ...] = ()
    emit: tuple[str, ...] = ()
    evidence: str = ""


@dataclass(frozen=True, slots=True)
class Instrument:
    """A contractual instrument; ``factor`` None (renewable attributes, 0 emissions) only
    for certificates and green power."""

    id: str
    kind: Kind
    mwh: float
    factor: str | None = None


@dataclass(frozen=True, slots=True)
class Electricity:
    id: str
    kwh: float
    grid_factor: str
    instruments: tuple[Instrument, ...] = ()
    residual_factor: str | None = None
    evidence: str = ""


@dataclass(frozen=True, slots=True)
class Line:
    activity: str
    category: Category
    method: Method
    gas: str
    quantity: float
    unit: str
    factors: tuple[Factor, ...]
    kg: float
    kg_co2e: float
    evidence: str = ""
    note: str = ""

    @property
    def scope(self) -> int:
        return scope_of(self.category)


@dataclass(frozen=True, slots=True)
class Inventory:
    start_ns: int
    end_ns: int
    library: str
    version: str
    digest: str
    gwp_set: str
    lines: tuple[Line, ...]

    def total(self, scope: int | None = None, method: Method = Method.LOCATION) -> float:
        """kg CO2e of ``scope`` (all scopes if None), scope 2 electricity by ``method``."""
        skip = _other(method)
        return sum(
            line.kg_co2e
            for line in self.lines
            if line.method is not skip and (scope is None or line.scope == scope)
        )

    def by_category(self, method: Method = Method.LOCATION) -> dict[Category, float]:
        skip = _other(method)
        out = dict.fromkeys(Category, 0.0)
        for line in self.lines:
            if line.method is not skip:
                out[line.category] += line.kg_co2e
        return out


def _other(method: Method) -> Method:
    """The scope 2 method a total by ``method`` leaves out."""
    if method is Method.DIRECT:
        raise InventoryError("a total is location- or market-based")
    return Method.MARKET if method is Method.LOCATION else Method.LOCATION


def _amount(value: float, what: str) -> None:
    if not math.isfinite(value) or value < 0:
        raise InventoryError(f"{what} is {value}: expected a number ≥ 0")


def emission_kg(quantity: float, unit: str, factors: Sequence[Factor], where: str) -> float:
    """``quantity`` in ``unit`` through ``factors`` (multiplied in order), in kg."""
    units = registry()
    try:
        value = units.Quantity(quantity, parse(unit, where))
        for f in factors:
            value = value * units.Quantity(f.value, parse(f.unit, f"factor {f.id}"))
        return float(value.to(KG).magnitude)
    except pint.errors.OffsetUnitCalculusError as exc:
        raise UnitError(f"{where}: {unit!r} is an offset unit (°C), not a quantity") from exc
    except pint.errors.DimensionalityError as exc:
        chain = " × ".join([unit, *(f.unit for f in factors)])
        raise UnitError(f"{where}: {chain} is not a mass ({value.units}): check the units") from exc


def _activity_lines(act: Activity, lib: FactorSet, gwp_set: str) -> list[Line]:
    where = f"activity {act.id!r}"
    _amount(act.quantity, f"{where}: quantity")
    convert, emit = act.convert, act.emit
    if act.fuel is not None:
        fuel = lib.fuel(act.fuel, where)
        convert, emit = convert or fuel.convert, emit or fuel.emit
    if not emit:
        raise InventoryError(f"{where}: names no fuel and no emission factor")
    conversions = tuple(lib.get(i, where) for i in convert)
    lines = []
    for factor_id in emit:
        ef = lib.get(factor_id, where)
        if ef.gas is None:
            raise InventoryError(f"{where}: {factor_id!r} is a conversion, not an emission")
        used = (*conversions, ef)
        kg = emission_kg(act.quantity, act.unit, used, where)
        gwp = lib.gwp_of(gwp_set, ef.gas, where)
        method = Method.DIRECT  # fuels, steam, heat: one figure under both scope 2 methods
        lines.append(
            Line(
                act.id,
                act.category,
                method,
                ef.gas,
                act.quantity,
                act.unit,
                used,
                kg,
                kg * gwp,
                act.evidence,
            )
        )
    return lines


def _electricity_lines(use: Electricity, lib: FactorSet, gwp_set: str) -> list[Line]:
    where = f"electricity {use.id!r}"
    _amount(use.kwh, f"{where}: kWh")
    grid = lib.get(use.grid_factor, where)
    for inst in use.instruments:
        _amount(inst.mwh, f"{where}: instrument {inst.id!r} MWh")

    def line(method: Method, kwh: float, factor: Factor | None, ref: str, note: str = "") -> Line:
        if factor is None:  # renewable attributes: no emission, no factor
            return Line(
                use.id, Category.IMPORTED_ENERGY, method, "CO2", kwh, "kWh", (), 0.0, 0.0, ref, note
            )
        if factor.gas is None:
            raise InventoryError(f"{where}: {factor.id!r} is a conversion, not an emission")
        kg = emission_kg(kwh, "kWh", (factor,), where)
        co2e = kg * lib.gwp_of(gwp_set, factor.gas, where)
        return Line(
            use.id,
            Category.IMPORTED_ENERGY,
            method,
            factor.gas,
            kwh,
            "kWh",
            (factor,),
            kg,
            co2e,
            ref,
            note,
        )

    lines = [line(Method.LOCATION, use.kwh, grid, use.evidence)]
    claimed = sum(i.mwh for i in use.instruments) * 1000.0
    if claimed > use.kwh * (1 + 1e-9):
        raise InventoryError(
            f"{where}: instruments claim {claimed / 1000:g} MWh of {use.kwh / 1000:g} MWh used"
        )
    for inst in use.instruments:
        if inst.factor is None and inst.kind is Kind.SUPPLIER:
            raise InventoryError(f"{where}: supplier instrument {inst.id!r} needs its factor")
        factor = None if inst.factor is None else lib.get(inst.factor, where)
        lines.append(line(Method.MARKET, inst.mwh * 1000.0, factor, f"{inst.kind} {inst.id}"))
    rest = use.kwh - claimed
    residual = grid if use.residual_factor is None else lib.get(use.residual_factor, where)
    note = "" if use.residual_factor else "no residual mix given: the grid factor is used"
    lines.append(line(Method.MARKET, max(rest, 0.0), residual, use.evidence, note))
    return lines


def inventory(
    lib: FactorSet,
    start_ns: int,
    end_ns: int,
    activities: Sequence[Activity] = (),
    electricity: Sequence[Electricity] = (),
    gwp_set: str = "AR6",
) -> Inventory:
    """The inventory of a period; every line from one factor set and one GWP set."""
    if end_ns <= start_ns:
        raise InventoryError("the inventory period must end after it starts")
    if gwp_set not in lib.gwp:
        raise InventoryError(f"no GWP set {gwp_set!r} in {lib.library} (has {sorted(lib.gwp)})")
    ids = [a.id for a in activities] + [e.id for e in electricity]
    if len(set(ids)) != len(ids):
        raise InventoryError(f"activity ids repeat: {sorted({i for i in ids if ids.count(i) > 1})}")
    claims = [i.id for e in electricity for i in e.instruments]
    if len(set(claims)) != len(claims):
        twice = sorted({i for i in claims if claims.count(i) > 1})
        raise InventoryError(f"instruments claimed more than once: {twice}")
    lines: list[Line] = []
    for act in activities:
        lines += _activity_lines(act, lib, gwp_set)
    for use in electricity:
        lines += _electricity_lines(use, lib, gwp_set)
    return Inventory(start_ns, end_ns, lib.library, lib.version, lib.digest, gwp_set, tuple(lines))
