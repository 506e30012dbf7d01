"""Product footprints in the PACT data model (Technical Specifications for PCF Data
Exchange 2.2.0), validated before they leave.

The declared unit is the kilogram (2.2 has no "piece"): ``unitaryProductAmount`` is the
mass of one unit and the footprint is per kilogram of product. Decimals are JSON strings,
times UTC ISO 8601 with ``Z``. What FactoryOS cannot know — the company's identifiers, the
product's CPC code, the carbon contained in the product, exempted emissions — comes from
the user's :class:`PactCompany` and :class:`PactProduct`; nothing is defaulted to a claim.
Every export is checked against ``schemas/product-footprint-2.2.schema.json``, written from
the specification's field list; a document that fails names the field.
"""

import json
import math
import uuid
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from importlib import resources
from typing import Any

import jsonschema

from factoryos.apps.energy.errors import EnergyError
from factoryos.apps.energy.footprint import Footprint
from factoryos.model.timeparse import format_ns

SPEC_VERSION = "2.2.0"
SCHEMA = "product-footprint-2.2.schema.json"
STANDARDS = ("GHG Protocol Product standard", "ISO Standard 14067")


class PactError(EnergyError, ValueError):
    """A footprint that cannot be exported: the message names the field."""


@dataclass(frozen=True, slots=True)
class PactCompany:
    name: str
    ids: tuple[str, ...]  # URNs, e.g. urn:pathfinder:company:customcode:vendor-assigned:…
    country: str  # ISO 3166-1 alpha-2
    subdivision: str | None = None  # ISO 3166-2, e.g. CN-JS


@dataclass(frozen=True, slots=True)
class PactProduct:
    name: str
    description: str
    ids: tuple[str, ...]  # URNs, e.g. urn:gtin:…
    cpc: str  # UN CPC 2.1 code
    unit_mass_kg: float
    fossil_carbon_kg_per_kg: float  # carbon contained in the product, kg C per kg
    biogenic_carbon_kg_per_kg: float
    exempted_percent: float = 0.0
    exempted_description: str = ""


def _decimal(value: float, name: str) -> str:
    """A PACT Decimal: a JSON string, no exponent, every significant digit kept."""
    number = float(value)
    if not math.isfinite(number):
        raise PactError(f"PACT ProductFootprint {name}: {number} is not a number")
    return format(Decimal(repr(number)), "f")


def product_footprint(
    footprint: Footprint,
    company: PactCompany,
    product: PactProduct,
    period: tuple[int, int],
    created_ns: int,
    factor_set: tuple[str, str],
    gwp_set: str,
    version: int = 1,
) -> dict[str, Any]:
    """The ProductFootprint of ``footprint`` (an order or lot) per kg of product."""
    if not product.unit_mass_kg > 0:
        raise PactError(
            f"product {product.name!r}: unit_mass_kg must be > 0 (PACT declares per kg)"
        )
    per_kg = footprint.per_unit_kg / product.unit_mass_kg
    rules = sorted({a.rule.value for a in footprint.process})
    pcf: dict[str, Any] = {
        "declaredUnit": "kilogram",
        "unitaryProductAmount": _decimal(product.unit_mass_kg, "pcf/unitaryProductAmount"),
        "pCfExcludingBiogenic": _decimal(per_kg, "pcf/pCfExcludingBiogenic"),
        "fossilGhgEmissions": _decimal(per_kg, "pcf/fossilGhgEmissions"),
        "fossilCarbonContent": _decimal(product.fossil_carbon_kg_per_kg, "pcf/fossilCarbonContent"),
        "biogenicCarbonContent": _decimal(
            product.biogenic_carbon_kg_per_kg, "pcf/biogenicCarbonContent"
        ),
        "characterizationFactors": gwp_set,
        "ipccCharacterizationFactorsSources": [gwp_set],
        "crossSectoralStandardsUsed": list(STANDARDS),
        "boundaryProcessesDescription": (
            "Cradle to gate: upstream materials at the supplier or user factors given, and "
            "the plant's measured energy; transport and packaging not included."
        ),
        "referencePeriodStart": format_ns(period[0]),
        "referencePeriodEnd": format_ns(period[1]),
        "geographyCountry": company.country,
        "secondaryEmissionFactorSources": [{"name": factor_set[0], "version": factor_set[1]}],
        "exemptedEmissionsPercent": product.exempted_percent,
        "exemptedEmissionsDescription": product.exempted_description,
        "packagingEmissionsIncluded": False,
        "allocationRulesDescription": f"FactoryOS allocation rules: {', '.join(rules) or 'none'}",
        "primaryDataShare": round(footprint.primary_share, 3),
    }
    if company.subdivision:  # one geography only: the finer one
        del pcf["geographyCountry"]
        pcf["geographyCountrySubdivision"] = company.subdivision
    document = {
        "id": str(uuid.uuid4()),
        "specVersion": SPEC_VERSION,
        "version": version,
        "created": format_ns(created_ns),
        "status": "Active",
        "companyName": company.name,
        "companyIds": list(company.ids),
        "productDescription": product.description,
        "productIds": list(product.ids),
        "productCategoryCpc": product.cpc,
        "productNameCompany": product.name,
        "comment": f"Order {footprint.order}: {footprint.good_units} good units",
        "pcf": pcf,
    }
    validate(document)
    return document


@cache
def _validator() -> jsonschema.protocols.Validator:
    text = resources.files("factoryos.apps.energy").joinpath("schemas", SCHEMA).read_text()
    schema = json.loads(text)
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def validate(document: dict[str, Any]) -> None:
    """Raise :class:`PactError` naming the first field that breaks the data model."""
    errors = sorted(_validator().iter_errors(document), key=lambda e: list(e.absolute_path))
    if errors:
        first = errors[0]
        path = "/".join(str(p) for p in first.absolute_path) or "(document)"
        raise PactError(f"PACT ProductFootprint {path}: {first.message}")
