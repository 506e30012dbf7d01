"""Recall scope: everything an identifier (a material lot, a unit, a case) went into, who
received it, and where each affected item is now.

The scope is the **forward trace** of the identifier (what was made from it, what it was
packed into), plus, for a container, its **contents** (a recalled case recalls the units
in it; contents are followed through aggregations only, not back into their materials).
Each affected identifier is then located by the **latest event naming it**: its business
location (or read point when the event has none, as shipments in transit) and its last
disposition. An item whose latest event is the packing into its container is where that
container is (``via``): a unit in a shipped case is in transit with it, even though no
event after packing names the unit itself.

**Shipments** are latest events of affected identifiers with the CBV bizStep
``shipping``; **customers** are the owning or possessing parties (and ship-to locations) in
the destination lists of the affected identifiers' latest events, with the business
transactions (despatch advice, purchase order) that name them. An item shipped, returned and
shipped again counts for its latest destination only.

:func:`assemble` is pure (trace results and sightings in, report out);
:func:`recall_scope` does the store queries.
"""

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from factoryos.apps.trace.errors import IdentifierError
from factoryos.apps.trace.genealogy import MAX_DEPTH, Direction, Trace, walk_stored
from factoryos.apps.trace.identifiers import parse_digital_link
from factoryos.apps.trace.production.events import event_time
from factoryos.store.epcis_events import EpcisEvents, Sighting

PARTY_TYPES = ("owning_party", "possessing_party")


class Kind(StrEnum):
    LOT = "lot"  # a class: an LGTIN (GTIN + lot)
    UNIT = "unit"  # an instance: an SGTIN (GTIN + serial)
    CONTAINER = "container"  # a logistic unit: an SSCC (case, pallet)
    OTHER = "other"


def _digital_link_kind(identifier: str) -> Kind:
    try:
        link = parse_digital_link(identifier)
    except IdentifierError:
        return Kind.OTHER
    if link.key_ai == "00":
        return Kind.CONTAINER
    if link.key_ai == "01" and link.qualifier("21") is not None:
        return Kind.UNIT
    if link.key_ai == "01" and link.qualifier("10") is not None:
        return Kind.LOT
    return Kind.OTHER


def kind_of(identifier: str) -> Kind:
    """What an EPC URN or GS1 Digital Link identifies."""
    for prefix, kind in (
        ("urn:epc:class:lgtin:", Kind.LOT),
        ("urn:epc:id:sgtin:", Kind.UNIT),
        ("urn:epc:id:sscc:", Kind.CONTAINER),
    ):
        if identifier.startswith(prefix):
            return kind
    if identifier.lower().startswith(("http://", "https://")):
        return _digital_link_kind(identifier)
    return Kind.OTHER


def vocabulary_term(value: str | None) -> str | None:
    """A CBV value's bare term, whatever its form: ``shipping``,
    ``https://ref.gs1.org/cbv/BizStep-shipping`` or ``urn:epcglobal:cbv:bizstep:shipping``."""
    if value is None:
        return None
    for marker in ("/BizStep-", "/Disp-"):
        if marker in value:
            return value.rsplit(marker, 1)[1]
    if value.startswith("urn:epcglobal:cbv:"):
        return value.rsplit(":", 1)[1]
    return value


@dataclass(frozen=True, slots=True)
class Location:
    """Where an affected identifier is, from the latest event naming it (or its container)."""

    where: str | None  # business location, else read point
    disposition: str | None
    biz_step: str | None
    event_id: str
    event_time_ns: int
    via: str | None = None  # the outermost container it sits in, when located through it


@dataclass(frozen=True, slots=True)
class Shipment:
    event_id: str
    event_time_ns: int
    transactions: tuple[tuple[str, str], ...]  # (type, business transaction)
    destinations: tuple[tuple[str, str], ...]  # (type, party or location)
    objects: tuple[str, ...]  # affected identifiers the event names
    units: int  # affected units in it, directly or in its containers


@dataclass(frozen=True, slots=True)
class Customer:
    party: str  # the owning or possessing party; the ship-to location when none is named
    ship_to: tuple[str, ...]
    shipments: tuple[str, ...]  # eventIDs
    transactions: tuple[str, ...]  # despatch advices, purchase orders …
    objects: int  # affected identifiers last sent to it (units in cases included)
    units: int


@dataclass
class RecallScope:
    root: str
    kind: Kind
    lots: list[str] = field(default_factory=list)
    units: list[str] = field(default_factory=list)
    containers: list[str] = field(default_factory=list)
    others: list[str] = field(default_factory=list)
    shipments: list[Shipment] = field(default_factory=list)
    customers: list[Customer] = field(default_factory=list)
    locations: dict[str, Location] = field(default_factory=dict)
    truncated: bool = False  # a trace stopped at its depth limit: the scope may be larger

    @property
    def found(self) -> bool:
        """Whether any event names the identifier or anything reached from it."""
        return bool(self.locations)


# ── containment: where an item is because its container is there ────────────────────


@dataclass(frozen=True, slots=True)
class _Packed:
    container: str
    event_id: str
    event_time_ns: int


def _containers(forward: Trace, contents: Trace | None) -> dict[str, _Packed]:
    """Each identifier's newest container among the traces' aggregation steps."""
    edges = [(s.source, s.target, s) for s in forward.steps]
    if contents is not None:  # backward steps go container → content
        edges += [(s.target, s.source, s) for s in contents.steps]
    packed: dict[str, _Packed] = {}
    for item, container, step in edges:
        if step.event_type != "AggregationEvent":
            continue
        known = packed.get(item)
        if known is None or step.event_time_ns > known.event_time_ns:
            packed[item] = _Packed(container, step.event_id, step.event_time_ns)
    return packed


def _own(sighting: Sighting) -> Location:
    return Location(
        sighting.biz_location or sighting.read_point,
        vocabulary_term(sighting.disposition),
        vocabulary_term(sighting.biz_step),
        sighting.event_id,
        sighting.event_time_ns,
    )


def _locate(
    epc: str, sightings: Mapping[str, Sighting], packed: Mapping[str, _Packed], depth: int = 0
) -> Location | None:
    """The identifier's own latest sighting, or its container's when that is later news:
    the packing into the container is the last event naming the identifier itself."""
    own = sightings.get(epc)
    if own is None:
        return None
    box = packed.get(epc)
    if box is None or box.event_id != own.event_id or depth > 100:  # depth: a cycle
        return _own(own)
    outer = _locate(box.container, sightings, packed, depth + 1)
    if outer is None:
        return _own(own)
    return replace(outer, via=outer.via or box.container)


# ── shipments and customers ─────────────────────────────────────────────────────────


def _pairs(entries: Iterable[Any], value_key: str) -> tuple[tuple[str, str], ...]:
    return tuple(
        (str(e.get("type", "")), str(e[value_key]))
        for e in entries
        if isinstance(e, Mapping) and value_key in e
    )


def _shipments(located: Mapping[str, Sighting], direct: set[str]) -> list[Shipment]:
    """The shipping events locating affected identifiers (``direct``: those it names)."""
    carried: dict[str, list[str]] = {}
    events: dict[str, Sighting] = {}
    for epc, seen in located.items():
        if vocabulary_term(seen.biz_step) == "shipping":
            carried.setdefault(seen.event_id, []).append(epc)
            events[seen.event_id] = seen
    out = []
    for event_id, seen in events.items():
        body = json.loads(seen.body)
        epcs = carried[event_id]
        out.append(
            Shipment(
                event_id,
                seen.event_time_ns,
                _pairs(body.get("bizTransactionList") or [], "bizTransaction"),
                _pairs(body.get("destinationList") or [], "destination"),
                tuple(sorted(e for e in epcs if e in direct)),
                sum(1 for e in epcs if kind_of(e) is Kind.UNIT),
            )
        )
    return sorted(out, key=lambda s: (s.event_time_ns, s.event_id))


def _customer_key(destinations: Sequence[tuple[str, str]]) -> str | None:
    parties = [value for kind, value in destinations if vocabulary_term(kind) in PARTY_TYPES]
    places = [value for kind, value in destinations if vocabulary_term(kind) == "location"]
    found = parties or places
    return found[0] if found else None


@dataclass
class _Tally:
    ship_to: set[str] = field(default_factory=set)
    shipments: set[str] = field(default_factory=set)
    transactions: set[str] = field(default_factory=set)
    objects: int = 0
    units: int = 0


def _customers(located: Mapping[str, Sighting]) -> list[Customer]:
    """The parties the events locating affected identifiers send them to."""
    found: dict[str, _Tally] = {}
    bodies: dict[str, dict[str, Any]] = {}
    for epc, seen in located.items():
        body = bodies.get(seen.event_id)
        if body is None:
            body = bodies[seen.event_id] = json.loads(seen.body)
        destinations = _pairs(body.get("destinationList") or [], "destination")
        key = _customer_key(destinations)
        if key is None:
            continue
        tally = found.setdefault(key, _Tally())
        tally.ship_to |= {v for k, v in destinations if vocabulary_term(k) == "location"}
        tally.shipments.add(seen.event_id)
        transactions = _pairs(body.get("bizTransactionList") or [], "bizTransaction")
        tally.transactions |= {v for _, v in transactions}
        tally.objects += 1
        tally.units += kind_of(epc) is Kind.UNIT
    return [
        Customer(
            party,
            tuple(sorted(t.ship_to)),
            tuple(sorted(t.shipments)),
            tuple(sorted(t.transactions)),
            t.objects,
            t.units,
        )
        for party, t in sorted(found.items())
    ]


# ── the report ──────────────────────────────────────────────────────────────────────


def affected(root: str, forward: Trace, contents: Trace | None = None) -> list[str]:
    """The identifier and everything the traces reached, each once."""
    found = [root, *forward.found(), *(contents.found() if contents is not None else [])]
    return list(dict.fromkeys(found))


def assemble(
    root: str, forward: Trace, contents: Trace | None, sightings: Mapping[str, Sighting]
) -> RecallScope:
    """The recall scope of ``root`` from its traces and the latest sightings of
    :func:`affected` identifiers (pure: no store)."""
    scope = RecallScope(root, kind_of(root))
    scope.truncated = forward.truncated or (contents is not None and contents.truncated)
    lists = {
        Kind.LOT: scope.lots,
        Kind.UNIT: scope.units,
        Kind.CONTAINER: scope.containers,
        Kind.OTHER: scope.others,
    }
    packed = _containers(forward, contents)
    for epc in affected(root, forward, contents):
        lists[kind_of(epc)].append(epc)
        where = _locate(epc, sightings, packed)
        if where is not None:
            scope.locations[epc] = where
    for items in lists.values():
        items.sort()  # the traces' order within a level is arbitrary
    events = {seen.event_id: seen for seen in sightings.values()}
    located = {epc: events[where.event_id] for epc, where in scope.locations.items()}
    direct = {epc for epc, where in scope.locations.items() if where.via is None}
    scope.shipments = _shipments(located, direct)
    scope.customers = _customers(located)
    return scope


def recall_scope(
    store: EpcisEvents, tenant_id: int, identifier: str, max_depth: int = MAX_DEPTH
) -> RecallScope:
    """The recall scope of ``identifier`` from the tenant's stored events."""

    forward = walk_stored(store, tenant_id, identifier, Direction.FORWARD, max_depth)
    contents = None
    if kind_of(identifier) is Kind.CONTAINER:
        contents = walk_stored(
            store, tenant_id, identifier, Direction.BACKWARD, max_depth, "AggregationEvent"
        )
    sightings = store.latest(tenant_id, affected(identifier, forward, contents))
    return assemble(identifier, forward, contents, sightings)


# ── as JSON ─────────────────────────────────────────────────────────────────────────


def to_json(scope: RecallScope) -> dict[str, Any]:
    """The scope as JSON data (times ISO 8601 UTC)."""
    return {
        "identifier": scope.root,
        "kind": str(scope.kind),
        "truncated": scope.truncated,
        "lots": scope.lots,
        "units": scope.units,
        "containers": scope.containers,
        "others": scope.others,
        "shipments": [
            {
                "eventID": s.event_id,
                "eventTime": event_time(s.event_time_ns),
                "bizTransactions": [{"type": t, "id": v} for t, v in s.transactions],
                "destinations": [{"type": t, "id": v} for t, v in s.destinations],
                "objects": list(s.objects),
                "units": s.units,
            }
            for s in scope.shipments
        ],
        "customers": [
            {
                "party": c.party,
                "shipTo": list(c.ship_to),
                "shipments": list(c.shipments),
                "bizTransactions": list(c.transactions),
                "objects": c.objects,
                "units": c.units,
            }
            for c in scope.customers
        ],
        "locations": {
            epc: {
                "location": where.where,
                "disposition": where.disposition,
                "bizStep": where.biz_step,
                "eventID": where.event_id,
                "eventTime": event_time(where.event_time_ns),
                "via": where.via,
            }
            for epc, where in scope.locations.items()
        },
    }


__all__ = [
    "Customer",
    "Kind",
    "Location",
    "RecallScope",
    "Shipment",
    "affected",
    "assemble",
    "kind_of",
    "recall_scope",
    "to_json",
    "vocabulary_term",
]
