"""The EPCIS 2.0 events of production, as JSON: pure functions of a line's plan.

========================  ===================  ==========================  ===============
what happens              event                bizStep / disposition       names
========================  ===================  ==========================  ===============
a lot starts              TransformationEvent  creating_class_instance /   material lots in,
                                               in_progress                 the product lot out
a lot is finished         TransformationEvent  commissioning / active      the lot in, its
                                                                           serialised units out
a case is closed          AggregationEvent ADD packing / in_progress       case SSCC ⊃ units
a shipment leaves         ObjectEvent OBSERVE  shipping / in_transit       the cases, despatch
                                                                           advice, customer
========================  ===================  ==========================  ===============

CBV 2.0 names: ``creating_class_instance`` is the step that makes a quantity of a class-level
identifier (an LGTIN lot); ``commissioning`` gives objects their instance-level identifiers
(SGTINs). Locations are SGLNs of the plant's GLN: the business location is the plant
(extension ``0``), the read point the equipment (its name as the extension) or the dock.

Every eventID is a name-based UUID (RFC 4122 version 5) of the line and what the event is
about (``lot-start/H1250106081503``): the same production gives the same eventIDs, so a
replay is stored once (capture is idempotent on eventID).
"""

import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from factoryos.apps.trace.identifiers import EpcUrn
from factoryos.apps.trace.production.config import Customer, LinePlan

Event = dict[str, Any]

CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"
#: The namespace of FactoryOS production eventIDs (a fixed, random UUID: never change it,
#: or replays after an upgrade would be stored twice).
NAMESPACE = uuid.UUID("5b0f6a52-8c1e-4a53-9f0e-3f5d2c7e91a4")
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def event_time(ts_ns: int) -> str:
    """ns since the epoch as an EPCIS time: ISO 8601, UTC, milliseconds."""
    dt = EPOCH + timedelta(microseconds=ts_ns // 1000)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def event_uuid(plan: LinePlan, kind: str, key: str) -> str:
    return f"urn:uuid:{uuid.uuid5(NAMESPACE, f'{plan.owner}/{plan.line}/{kind}/{key}')}"


def lgtin(plan: LinePlan, lot: str) -> str:
    """The product lot's class identifier."""
    return EpcUrn("class", "lgtin", plan.company_prefix, plan.item_reference, lot).uri


def sgtin(plan: LinePlan, serial: str) -> str:
    """A unit's instance identifier."""
    return EpcUrn("id", "sgtin", plan.company_prefix, plan.item_reference, serial).uri


def sscc(plan: LinePlan, serial: int) -> str:
    """A case's SSCC: the line's extension digit, then ``serial`` zero-padded."""
    digits = plan.sscc_serial_digits
    reference = f"{plan.sscc_extension}{serial % 10**digits:0{digits}d}"
    return EpcUrn("id", "sscc", plan.company_prefix, reference).uri


def business_transaction(gln: str, number: str) -> str:
    """A business transaction (CBV ``urn:epcglobal:cbv:bt:<GLN>:<number>``)."""
    return f"urn:epcglobal:cbv:bt:{gln}:{number}"


def _head(plan: LinePlan, kind: str, key: str, ts_ns: int, type_: str) -> Event:
    return {
        "type": type_,
        "eventID": event_uuid(plan, kind, key),
        "eventTime": event_time(ts_ns),
        "eventTimeZoneOffset": "+00:00",  # FactoryOS keeps UTC everywhere
    }


def _quantity(epc_class: str, quantity: float, uom: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"epcClass": epc_class, "quantity": quantity}
    if uom is not None:
        element["uom"] = uom
    return element


def material_inputs(plan: LinePlan, ts_ns: int, units: int) -> list[dict[str, Any]]:
    """What ``units`` units starting at ``ts_ns`` consume: each material's lot then."""
    return [_quantity(m.lot_at(ts_ns), round(m.per_unit * units, 6), m.uom) for m in plan.materials]


def lot_started(plan: LinePlan, lot: str, ts_ns: int) -> Event:
    """Materials issued to a new lot of ``plan.lot_size`` units."""
    return {
        **_head(plan, "lot-start", lot, ts_ns, "TransformationEvent"),
        "inputQuantityList": material_inputs(plan, ts_ns, plan.lot_size),
        "outputQuantityList": [_quantity(lgtin(plan, lot), plan.lot_size)],
        "bizStep": "creating_class_instance",
        "disposition": "in_progress",
        "readPoint": {"id": plan.unit_point},
        "bizLocation": {"id": plan.plant},
    }


def lot_finished(plan: LinePlan, lot: str, ts_ns: int, units: Sequence[str]) -> Event:
    """The lot's units made and serialised; ``units`` may be fewer than the lot size when
    the line stopped with the lot open (the eventID names the count, so a later, fuller
    finish of the same lot is a different event)."""
    return {
        **_head(plan, "lot-finish", f"{lot}/{len(units)}", ts_ns, "TransformationEvent"),
        "inputQuantityList": [_quantity(lgtin(plan, lot), len(units))],
        "outputEPCList": list(units),
        "bizStep": "commissioning",
        "disposition": "active",
        "readPoint": {"id": plan.unit_point},
        "bizLocation": {"id": plan.plant},
    }


def case_packed(plan: LinePlan, case: str, ts_ns: int, units: Sequence[str]) -> Event:
    """Units packed into a case, the case closed at the packer."""
    return {
        **_head(plan, "packing", case, ts_ns, "AggregationEvent"),
        "action": "ADD",
        "parentID": case,
        "childEPCs": list(units),
        "bizStep": "packing",
        "disposition": "in_progress",
        "readPoint": {"id": plan.packer_point},
        "bizLocation": {"id": plan.plant},
    }


def shipped(
    plan: LinePlan, shipment: str, ts_ns: int, cases: Sequence[str], customer: Customer
) -> Event:
    """Cases leaving through the dock for ``customer`` under despatch advice ``shipment``.

    No business location: goods in transit are at no location of ours (CBV shipping)."""
    transactions = [
        {"type": "desadv", "bizTransaction": business_transaction(plan.site_gln, shipment)}
    ]
    if customer.order is not None:
        order = business_transaction(customer.gln, customer.order)
        transactions.append({"type": "po", "bizTransaction": order})
    destinations = [{"type": "owning_party", "destination": customer.party}]
    if customer.location is not None:
        destinations.append({"type": "location", "destination": customer.location})
    return {
        **_head(plan, "shipping", shipment, ts_ns, "ObjectEvent"),
        "action": "OBSERVE",
        "epcList": list(cases),
        "bizStep": "shipping",
        "disposition": "in_transit",
        "readPoint": {"id": plan.dock_point},
        "bizTransactionList": transactions,
        "sourceList": [
            {"type": "owning_party", "source": plan.owner},
            {"type": "location", "source": plan.plant},
        ],
        "destinationList": destinations,
    }


def document(events: Sequence[Event]) -> dict[str, Any]:
    """An EPCIS 2.0 document carrying ``events``; created at the newest event's time, so
    the same events make the same document."""
    created = max((e["eventTime"] for e in events), default=event_time(0))
    return {
        "@context": [CONTEXT],
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": created,
        "epcisBody": {"eventList": list(events)},
    }


__all__ = [
    "Event",
    "business_transaction",
    "case_packed",
    "document",
    "event_time",
    "event_uuid",
    "lgtin",
    "lot_finished",
    "lot_started",
    "sgtin",
    "shipped",
    "sscc",
]
