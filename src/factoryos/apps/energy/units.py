"""Units for energy and carbon, through one pint registry.

Meters and factors state their units as text (``kWh``, ``MWh``, ``m3``, ``Nm3``, ``t/MWh``,
``kg/TJ``). Normal cubic metres (0 °C, 101.325 kPa) and standard cubic metres (15 °C) are
their own dimensions, not volumes: converting them to or from an actual m³ needs the gas's
pressure and temperature, so mixing them is an error rather than a silent 1:1.
"""

from functools import cache

import pint

from factoryos.apps.energy.errors import UnitError

_DEFINITIONS = (
    "m3 = meter ** 3",
    "normal_cubic_meter = [normal_volume] = Nm3",
    "standard_cubic_meter = [standard_volume] = Sm3",
    "piece = 1 = pc = pcs",
)


@cache
def registry() -> "pint.UnitRegistry[float]":
    """The app's one registry (pint quantities from two registries cannot be mixed)."""
    units: pint.UnitRegistry[float] = pint.UnitRegistry(cache_folder=None)
    for line in _DEFINITIONS:
        units.define(line)
    return units


# pint reads "ton" as the US short ton (907 kg): a tonne is "t"
_AMBIGUOUS = frozenset({"ton", "short_ton", "long_ton"})


def parse(unit: str, where: str) -> pint.Unit:
    """``unit`` as a pint unit; ``where`` names the meter or factor in the error."""
    # pint turns "³" into "**3" before it looks a name up: "Nm³" would be (N·m)³
    text = unit.replace("Nm³", "Nm3").replace("Sm³", "Sm3")
    try:
        parsed = registry().parse_units(text)
    except (pint.errors.PintError, AttributeError, TypeError, ValueError, ZeroDivisionError) as exc:
        raise UnitError(f"{where}: unknown unit {unit!r}") from exc
    if _AMBIGUOUS & {str(name) for name in parsed._units}:
        raise UnitError(f"{where}: {unit!r} is ambiguous (a US ton is 907 kg); write t for tonnes")
    return parsed


def factor(source: str, target: str, where: str) -> float:
    """The number that turns a value in ``source`` into ``target``: ``factor('MWh',
    'kWh', …)`` is 1000. Units of different kinds raise :class:`UnitError` naming both."""
    units = registry()
    have, want = parse(source, where), parse(target, where)
    try:
        return float(units.Quantity(1.0, have).to(want).magnitude)
    except pint.errors.OffsetUnitCalculusError as exc:
        raise UnitError(f"{where}: {source!r} or {target!r} is an offset unit (°C)") from exc
    except pint.errors.DimensionalityError as exc:
        raise UnitError(
            f"{where}: {source!r} ({_kind(have)}) cannot be expressed in {target!r} ({_kind(want)})"
        ) from exc


_KINDS = {  # the dimensions a meter or factor is likely to carry, by name
    "[mass] * [length] ** 2 / [time] ** 2": "an energy",
    "[mass] * [length] ** 2 / [time] ** 3": "a power",
    "[length] ** 3": "an actual volume",
    "[normal_volume]": "a volume at normal conditions",
    "[standard_volume]": "a volume at standard conditions",
    "[mass]": "a mass",
}


def _kind(unit: pint.Unit) -> str:
    dims = str(registry().get_dimensionality(unit))
    return _KINDS.get(dims, dims)
