"""The emission-factor library: data, not code, with source, year and unit for every factor.

A library file (YAML) names itself and its version and lists factors, fuels (which
conversion and emission factors a fuel's quantity goes through) and GWP sets. It is
checked whole when loaded: every unit must parse, every id be unique and every reference
resolve; problems are listed with their line. A loaded :class:`FactorSet` carries the
SHA-256 of its validated content, so a report records exactly which factors it used and a
changed factor — even under the same version label — is a different set.
"""

import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationError

from factoryos.apps.energy.errors import EnergyError, FactorError, UnitError
from factoryos.apps.energy.units import parse
from factoryos.model.errors import ConfigFileError, SiteProblem
from factoryos.model.tags import Strict
from factoryos.model.yamlfile import (
    Path_,
    dotted,
    line_of,
    parse_yaml,
    read_text,
    validation_problems,
)

Gas = Literal["CO2", "CH4", "N2O", "CO2e"]
DEFAULT = "default.yaml"


class FactorFileError(ConfigFileError, EnergyError):
    """A factor library file that cannot be loaded; lists every problem with its line."""


class FactorIn(Strict):
    id: str = Field(min_length=1, max_length=200)
    value: float = Field(ge=0, allow_inf_nan=False)
    unit: str = Field(min_length=1)
    gas: Gas | None = None  # None: a conversion (a calorific value, a density)
    source: str = Field(min_length=1)
    year: int = Field(ge=1990, le=2100)
    region: str | None = None
    note: str | None = None


class FuelIn(Strict):
    convert: tuple[str, ...] = ()
    emit: tuple[str, ...] = Field(min_length=1)


class LibraryIn(Strict):
    library: str = Field(min_length=1)
    version: str = Field(min_length=1)
    factors: tuple[FactorIn, ...]
    fuels: dict[str, FuelIn] = Field(default_factory=dict)
    gwp: dict[str, dict[Gas, float]] = Field(min_length=1)


@dataclass(frozen=True, slots=True)
class Factor:
    id: str
    value: float
    unit: str
    gas: Gas | None
    source: str
    year: int
    region: str | None = None
    note: str | None = None


@dataclass(frozen=True, slots=True)
class Fuel:
    convert: tuple[str, ...]
    emit: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class FactorSet:
    library: str
    version: str
    digest: str  # sha256 of the validated content, hex
    factors: dict[str, Factor]
    fuels: dict[str, Fuel]
    gwp: dict[str, dict[Gas, float]]

    def get(self, factor_id: str, used_by: str) -> Factor:
        try:
            return self.factors[factor_id]
        except KeyError:
            raise FactorError(
                f"{used_by}: no factor {factor_id!r} in {self.library} {self.version}"
            ) from None

    def fuel(self, name: str, used_by: str) -> Fuel:
        try:
            return self.fuels[name]
        except KeyError:
            known = ", ".join(sorted(self.fuels)) or "none"
            raise FactorError(
                f"{used_by}: no fuel {name!r} in {self.library} {self.version} (known: {known})"
            ) from None

    def gwp_of(self, set_name: str, gas: Gas, used_by: str) -> float:
        if gas == "CO2e":
            return 1.0
        values = self.gwp.get(set_name)
        if values is None or gas not in values:
            raise FactorError(f"{used_by}: no GWP for {gas} in set {set_name!r} of {self.library}")
        return values[gas]


def parse_library(text: str, source: Path | str) -> FactorSet:
    """A library file's text as a :class:`FactorSet`; every problem raised at once."""
    data, lines = parse_yaml(text, source, FactorFileError)
    try:
        parsed = LibraryIn.model_validate(data)
    except ValidationError as exc:
        raise FactorFileError(source, validation_problems(exc, lines)) from exc
    problems = _references(parsed, lines)
    if problems:
        raise FactorFileError(source, problems)
    factors = {f.id: Factor(**f.model_dump()) for f in parsed.factors}
    fuels = {name: Fuel(f.convert, f.emit) for name, f in parsed.fuels.items()}
    canonical = json.dumps(parsed.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()
    return FactorSet(parsed.library, parsed.version, digest, factors, fuels, dict(parsed.gwp))


def _references(parsed: LibraryIn, lines: dict[Path_, int]) -> list[SiteProblem]:
    problems: list[SiteProblem] = []
    seen: set[str] = set()
    for i, f in enumerate(parsed.factors):
        where = ("factors", i)
        if f.id in seen:
            problems.append(_problem(lines, (*where, "id"), f"duplicate factor id {f.id!r}"))
        seen.add(f.id)
        try:
            parse(f.unit, f"factor {f.id}")
        except UnitError as exc:
            problems.append(_problem(lines, (*where, "unit"), str(exc)))
    gases = {f.id: f.gas for f in parsed.factors}
    for name, fuel in parsed.fuels.items():
        for field in ("convert", "emit"):
            for j, ref in enumerate(getattr(fuel, field)):
                path = ("fuels", name, field, j)
                if ref not in gases:
                    problems.append(_problem(lines, path, f"no factor {ref!r} in this library"))
                elif (gases[ref] is None) != (field == "convert"):
                    kind = "a conversion (no gas)" if field == "convert" else "an emission (a gas)"
                    problems.append(_problem(lines, path, f"{ref!r} must be {kind}"))
    return problems


def _problem(lines: dict[Path_, int], path: Path_, msg: str) -> SiteProblem:
    return SiteProblem(dotted(path), line_of(lines, path), msg)


def load_library(path: Path | str) -> FactorSet:
    return parse_library(read_text(path, FactorFileError), path)


def default_library() -> FactorSet:
    """The library FactoryOS ships (``apps/energy/factors/default.yaml``)."""
    text = resources.files("factoryos.apps.energy").joinpath("factors", DEFAULT).read_text()
    return parse_library(text, f"factoryos:{DEFAULT}")
