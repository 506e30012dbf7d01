"""Production lots read from the plant's own EPCIS events, and their footprints (pure).

A lot starts with a TransformationEvent ``creating_class_instance`` at the line's unit
read point (materials in, the product lot class out) and is finished by ``commissioning``
events (the lot in, its serialised units out; a lot closed early and finished again later
has several: the one with the most units counts). A lot's window is from its start to its
last finish, or to the next lot's start if that comes first; so windows of one line never
overlap and the energy its meters measured in a lot's window is the lot's, allocated by
the ``energy`` rule without any share.
"""

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from factoryos.apps.energy.errors import AllocationError
from factoryos.apps.energy.footprint import Allocated, Footprint, Material, Rule
from factoryos.model.timeparse import parse_time_ns

#: UN/ECE Recommendation 20 codes of material quantities, as units; None: pieces.
UOM = {None: "piece", "KGM": "kg", "GRM": "g", "TNE": "t", "MTR": "m", "LTR": "L", "MTQ": "m³"}
STARTS, FINISHES = "creating_class_instance", "commissioning"


@dataclass(frozen=True, slots=True)
class Consumed:
    lot: str  # the material lot's class URN
    quantity: float
    uom: str | None


@dataclass(frozen=True, slots=True)
class Lot:
    lot: str  # the product lot's class URN (urn:epc:class:lgtin:…)
    start_ns: int
    end_ns: int
    good_units: int
    consumed: tuple[Consumed, ...]


def _step(event: Mapping[str, Any]) -> str:
    """The CBV step in any of its spellings: bare, ``urn:epcglobal:cbv:bizstep:…`` or the
    web URI ``https://ref.gs1.org/cbv/BizStep-…``."""
    last = str(event.get("bizStep", "")).rsplit(":", 1)[-1].rsplit("/", 1)[-1]
    return last.removeprefix("BizStep-")


def _time(event: Mapping[str, Any]) -> int:
    return parse_time_ns(str(event["eventTime"]), None)


def _consumed(event: Mapping[str, Any]) -> tuple[Consumed, ...]:
    out = []
    for q in event.get("inputQuantityList", []):
        if "quantity" not in q:  # optional in EPCIS, needed for a footprint
            raise AllocationError(
                f"event {event.get('eventID', '?')}: material {q.get('epcClass')} has no quantity"
            )
        out.append(Consumed(str(q["epcClass"]), float(q["quantity"]), q.get("uom")))
    return tuple(out)


def _read(events: Iterable[Mapping[str, Any]]) -> list[Lot]:
    started: dict[str, tuple[int, tuple[Consumed, ...]]] = {}
    finished: dict[str, tuple[int, int]] = {}  # lot → (units, last finish time)
    for event in events:
        step = _step(event)
        if step == STARTS:
            for out in event.get("outputQuantityList", []):
                started[str(out["epcClass"])] = (_time(event), _consumed(event))
        elif step == FINISHES:
            units = len(event.get("outputEPCList", []))
            for lot in event.get("inputQuantityList", []):
                most, last = finished.get(lot["epcClass"], (0, 0))
                finished[lot["epcClass"]] = (max(most, units), max(last, _time(event)))
    return [
        Lot(lot, start, finished[lot][1], finished[lot][0], consumed)
        for lot, (start, consumed) in started.items()
        if lot in finished and finished[lot][1] > start
    ]


def lots(events: Iterable[Mapping[str, Any]]) -> list[Lot]:
    """The finished lots among ``events`` (one line's), oldest first. A lot finished again
    after the next one started ends, for its energy, where the next one starts: the line's
    energy is never counted for two lots."""
    try:
        found = sorted(_read(events), key=lambda x: x.start_ns)
    except (KeyError, TypeError, ValueError) as exc:
        raise AllocationError(f"a lot event lacks a field a footprint needs: {exc}") from exc
    for i in range(len(found) - 1):
        nxt = found[i + 1].start_ns
        if found[i].end_ns > nxt > found[i].start_ns:
            found[i] = replace(found[i], end_ns=nxt)
    return found


@dataclass(frozen=True, slots=True)
class MaterialFactor:
    """The user's upstream factor of a material: ``kg_co2e`` per one ``per``."""

    kg_co2e: float
    per: str
    source: str


def lot_footprint(
    lot: Lot,
    product: str,
    kwh: float,
    kg_co2e_per_kwh: float,
    material_of: Mapping[str, str],
    factors: Mapping[str, MaterialFactor],
) -> Footprint:
    """``lot``'s footprint: its measured energy at the electricity factor, and each material
    it consumed (``material_of`` names a material lot's material) at the user's factor."""
    materials = []
    for used in lot.consumed:
        name = material_of.get(used.lot)
        if name is None:
            raise AllocationError(f"lot {lot.lot}: consumed {used.lot}, which no material uses")
        factor = factors.get(name)
        if factor is None:
            raise AllocationError(f"lot {lot.lot}: material {name!r} has no upstream factor")
        unit = UOM.get(used.uom)
        if unit is None:
            raise AllocationError(f"lot {lot.lot}: material {name!r} in unknown unit {used.uom}")
        materials.append(
            Material(name, used.quantity, unit, factor.kg_co2e, factor.per, factor.source)
        )
    process = Allocated("line electricity", Rule.ENERGY, kwh, kwh, kwh * kg_co2e_per_kwh)
    return Footprint(lot.lot, product, lot.good_units, (process,), tuple(materials))
