"""Product carbon footprints: emissions allocated to orders and lots, then per good unit.

A footprint is cradle to gate: the materials that went in (quantity × the user's upstream
factor, in kg CO2e per a unit of the material) plus the plant's emissions allocated to the
order by a documented rule:

- ``energy``: the energy measured on the machines during the order's operations (its run
  windows on each machine's meter) — no allocation needed, the most direct;
- ``machine_time``: a machine's whole energy over a period (idle and set-up included),
  shared by the orders in proportion to the time each ran on it;
- ``mass``: a pool that follows no machine (base load, compressed air, heating) shared in
  proportion to the mass of good output.

Each allocated amount keeps its pool, rule, the order's share and the pool's total, so the
footprint can be followed back to the meters and factors.
"""

import math
from collections.abc import Hashable, Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import TypeVar

from factoryos.apps.energy.errors import AllocationError
from factoryos.apps.energy.units import factor

K = TypeVar("K", bound=Hashable)


class Rule(StrEnum):
    ENERGY = "energy"
    MACHINE_TIME = "machine_time"
    MASS = "mass"


def allocate(pool: str, kg_co2e: float, shares: Mapping[K, float]) -> dict[K, float]:
    """``kg_co2e`` of ``pool`` split in proportion to ``shares`` (seconds, kWh or kg)."""
    if not math.isfinite(kg_co2e) or kg_co2e < 0:
        raise AllocationError(f"pool {pool!r}: {kg_co2e} kg CO2e is not a number ≥ 0")
    if bad := sorted(str(k) for k, v in shares.items() if not v >= 0):
        raise AllocationError(f"pool {pool!r}: negative or missing shares for {bad}")
    total = sum(shares.values())
    if total <= 0:
        if kg_co2e > 0:
            raise AllocationError(
                f"pool {pool!r}: {kg_co2e:g} kg CO2e but no order has a share to carry it"
            )
        return dict.fromkeys(shares, 0.0)
    return {k: kg_co2e * v / total for k, v in shares.items()}


@dataclass(frozen=True, slots=True)
class Allocated:
    """An order's part of a pool: ``share`` of ``pool_share`` (in the rule's unit)."""

    pool: str
    rule: Rule
    share: float
    pool_share: float
    kg_co2e: float


@dataclass(frozen=True, slots=True)
class Material:
    """A material that went into an order, with the user's upstream factor:
    ``factor_kg_co2e`` per one ``per`` (``kg``, ``m``, ``piece``)."""

    name: str
    quantity: float
    unit: str
    factor_kg_co2e: float
    per: str
    source: str

    def kg_co2e(self) -> float:
        where = f"material {self.name!r}"
        if not all(math.isfinite(v) and v >= 0 for v in (self.quantity, self.factor_kg_co2e)):
            raise AllocationError(f"{where}: quantity and factor must be numbers ≥ 0")
        return self.quantity * factor(self.unit, self.per, where) * self.factor_kg_co2e


@dataclass(frozen=True, slots=True)
class Footprint:
    order: str
    product: str
    good_units: int
    process: tuple[Allocated, ...]
    materials: tuple[Material, ...]

    @property
    def process_kg(self) -> float:
        return sum(a.kg_co2e for a in self.process)

    @property
    def materials_kg(self) -> float:
        return sum(m.kg_co2e() for m in self.materials)

    @property
    def total_kg(self) -> float:
        return self.process_kg + self.materials_kg

    @property
    def per_unit_kg(self) -> float:
        if self.good_units <= 0:
            raise AllocationError(f"order {self.order!r}: no good units to carry the footprint")
        return self.total_kg / self.good_units

    @property
    def primary_share(self) -> float:
        """Percent of the footprint from the plant's own measurements (the rest: factors
        for materials from elsewhere)."""
        return 100.0 * self.process_kg / self.total_kg if self.total_kg > 0 else 0.0


def allocate_pools(
    pools: Sequence[tuple[str, Rule, float, Mapping[str, float]]],
) -> dict[str, list[Allocated]]:
    """Each pool (name, rule, kg CO2e, shares by order) allocated; per order its parts."""
    out: dict[str, list[Allocated]] = {}
    for name, rule, kg, shares in pools:
        total = sum(shares.values())
        for order, kg_order in allocate(name, kg, shares).items():
            out.setdefault(order, []).append(Allocated(name, rule, shares[order], total, kg_order))
    return out
