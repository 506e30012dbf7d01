"""Recall scope: what an identifier went into, who received it and where each affected item
is now — assembled from hand-made traces and sightings, then over production events stored
in SQLite and the real PostgreSQL, then from the command line."""

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from apps.trace.test_production_events import MATERIAL, NS, T0, plan, run
from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.genealogy import Direction, Trace, trace
from factoryos.apps.trace.production import LineTracker
from factoryos.apps.trace.production.events import document
from factoryos.apps.trace.recall import (
    Kind,
    RecallScope,
    assemble,
    kind_of,
    recall_scope,
    to_json,
    vocabulary_term,
)
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents, Sighting
from store.test_migrations import pg_url, sqlite_url
from support.genealogy import EventSpec, fake_edges

__all__ = ["pg_url", "sqlite_url"]

LOT = "urn:epc:class:lgtin:4012345.012345.L1"
U1, U2 = "urn:epc:id:sgtin:4012345.012345.L1-1", "urn:epc:id:sgtin:4012345.012345.L1-2"
CASE = "urn:epc:id:sscc:4012345.0000000001"
GLOBEX = "urn:epc:id:pgln:0614141.00001"
GLOBEX_DOCK = "urn:epc:id:sgln:0614141.00002.0"

# material → lot → two units → one case, shipped; unit 2 taken out of the case afterwards
EVENTS: list[EventSpec] = [
    ("start", "TransformationEvent", None, [("input_class", MATERIAL), ("output_class", LOT)]),
    ("finish", "TransformationEvent", None,
     [("input_class", LOT), ("output", U1), ("output", U2)]),
    ("pack", "AggregationEvent", "ADD", [("parent", CASE), ("child", U1), ("child", U2)]),
    ("unpack", "AggregationEvent", "DELETE", [("parent", CASE), ("child", U2)]),
]  # fmt: skip


edges = fake_edges(EVENTS)


def sighting(event_id: str, minute: int, **fields: Any) -> Sighting:
    body = {k: v for k, v in fields.items() if k in ("destinationList", "bizTransactionList")}
    return Sighting(
        event_id=event_id,
        event_type=fields.get("type", "ObjectEvent"),
        event_time_ns=minute * 60 * NS,
        action=fields.get("action"),
        biz_step=fields.get("biz_step"),
        disposition=fields.get("disposition"),
        read_point=fields.get("read_point"),
        biz_location=fields.get("biz_location"),
        body=json.dumps(body),
    )


SHIPPED = sighting(
    "ship", 5, biz_step="https://ref.gs1.org/cbv/BizStep-shipping", disposition="in_transit",
    read_point="urn:epc:id:sgln:4012345.00001.dock",
    destinationList=[{"type": "owning_party", "destination": GLOBEX},
                     {"type": "location", "destination": GLOBEX_DOCK}],
    bizTransactionList=[{"type": "desadv", "bizTransaction": "urn:epcglobal:cbv:bt:1:S1"}],
)  # fmt: skip
SIGHTINGS = {
    MATERIAL: sighting("start", 0, biz_step="creating_class_instance", biz_location="plant",
                       disposition="in_progress"),
    LOT: sighting("finish", 1, biz_step="commissioning", biz_location="plant",
                  disposition="active"),
    U1: sighting("pack", 2, biz_step="packing", biz_location="plant", type="AggregationEvent"),
    U2: sighting("unpack", 9, biz_step="unpacking", biz_location="returns",
                 disposition="non_conformant", type="AggregationEvent"),
    CASE: SHIPPED,
}  # fmt: skip


def scope_of(root: str) -> RecallScope:
    forward = trace(edges, root, Direction.FORWARD)
    contents: Trace | None = None
    if kind_of(root) is Kind.CONTAINER:
        contents = trace(edges, root, Direction.BACKWARD, max_depth=1)
    return assemble(root, forward, contents, SIGHTINGS)


def test_kinds_and_vocabulary() -> None:
    assert kind_of(LOT) is Kind.LOT and kind_of(U1) is Kind.UNIT and kind_of(CASE) is Kind.CONTAINER
    assert kind_of("https://id.gs1.org/01/04012345123456/10/L1") is Kind.LOT
    assert kind_of("https://example.com/01/04012345123456/21/7") is Kind.UNIT
    assert kind_of("https://id.gs1.org/00/040123450000000016") is Kind.CONTAINER
    assert kind_of("https://id.gs1.org/01/04012345123457/21/7") is Kind.OTHER  # check digit
    assert kind_of("urn:epc:id:sgln:4012345.00001.0") is Kind.OTHER
    for value in ("shipping", "https://ref.gs1.org/cbv/BizStep-shipping",
                  "urn:epcglobal:cbv:bizstep:shipping"):  # fmt: skip
        assert vocabulary_term(value) == "shipping"
    assert vocabulary_term("https://ref.gs1.org/cbv/Disp-in_transit") == "in_transit"
    assert vocabulary_term(None) is None


def test_a_material_lot_reaches_units_cases_shipments_and_customers() -> None:
    scope = scope_of(MATERIAL)
    assert scope.kind is Kind.LOT and not scope.truncated
    assert scope.lots == [MATERIAL, LOT] and sorted(scope.units) == [U1, U2]
    assert scope.containers == [CASE] and scope.others == []
    in_case = scope.locations[U1]  # packed and not named since: where its case is
    assert in_case.via == CASE and in_case.disposition == "in_transit"
    assert in_case.where == "urn:epc:id:sgln:4012345.00001.dock" and in_case.event_id == "ship"
    taken_out = scope.locations[U2]  # unpacked later: its own latest event
    assert taken_out.via is None and taken_out.where == "returns"
    assert taken_out.disposition == "non_conformant"
    assert scope.locations[LOT].where == "plant" and scope.locations[LOT].disposition == "active"
    (shipment,) = scope.shipments
    assert shipment.objects == (CASE,) and shipment.units == 1
    assert shipment.transactions == (("desadv", "urn:epcglobal:cbv:bt:1:S1"),)
    (customer,) = scope.customers
    assert customer.party == GLOBEX and customer.ship_to == (GLOBEX_DOCK,)
    assert customer.units == 1 and customer.objects == 2 and customer.shipments == ("ship",)
    data = to_json(scope)
    assert data["customers"][0]["units"] == 1
    assert data["locations"][U1]["via"] == CASE
    assert data["shipments"][0]["eventTime"] == "1970-01-01T00:05:00.000Z"


def test_a_case_recalls_its_contents_and_a_unit_only_itself() -> None:
    case = scope_of(CASE)
    assert case.kind is Kind.CONTAINER and sorted(case.units) == [U1, U2]
    assert case.lots == []  # contents are followed through packing only, not to materials
    assert [c.party for c in case.customers] == [GLOBEX]
    unit = scope_of(U1)
    assert unit.units == [U1] and unit.containers == [CASE]
    assert unit.locations[U1].via == CASE
    nothing = assemble("urn:epc:id:sgtin:1.2.3", trace(edges, "x", Direction.FORWARD), None, {})
    assert not nothing.found and nothing.units == ["urn:epc:id:sgtin:1.2.3"]


# ── over stored production events ──────────────────────────────────────────────────


@pytest.fixture(params=["sqlite", "postgresql"])
def produced(request: pytest.FixtureRequest) -> Iterator[tuple[int, EpcisEvents]]:
    """Ten units of the test line (lots of 4, cases of 2, two cases a shipment) stored."""
    url = request.getfixturevalue(f"{'pg' if request.param == 'postgresql' else 'sqlite'}_url")
    catalog = Catalog(str(url))
    catalog.migrate()
    tenant = catalog.ensure_tenant("acme")
    store = EpcisEvents(catalog)
    tracker = LineTracker(plan())
    events = run(tracker, [float(n) for n in range(11)]) + tracker.close()
    capture(store, tenant, document(events), T0)
    yield tenant, store
    catalog.close()


def test_recall_over_stored_events(produced: tuple[int, EpcisEvents]) -> None:
    tenant, store = produced
    scope = recall_scope(store, tenant, MATERIAL)
    assert len(scope.units) == 10 and len(scope.lots) == 4  # the material and three lots
    assert len(scope.containers) == 5 and len(scope.shipments) == 2
    assert [c.party for c in scope.customers] == [GLOBEX, "urn:epc:id:pgln:4098765.00001"]
    assert sum(c.units for c in scope.customers) == 8  # the fifth case waits at the packer
    waiting = next(c for c in scope.containers if scope.locations[c].disposition != "in_transit")
    assert scope.locations[waiting].where == "urn:epc:id:sgln:4012345.00001.0"
    unit = scope.units[0]
    assert scope.locations[unit].where == "urn:epc:id:sgln:4012345.00001.dock"
    first_case = recall_scope(store, tenant, scope.locations[unit].via or "")
    assert first_case.units == scope.units[:2] and first_case.customers[0].party == GLOBEX
    one = recall_scope(store, tenant, unit)
    assert one.units == [unit] and len(one.containers) == 1 and len(one.shipments) == 1
    assert not recall_scope(store, tenant, "urn:epc:id:sgtin:4012345.012345.nope").found


# ── from the command line ──────────────────────────────────────────────────────────


def _recall(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("factoryos")), "trace", "recall", *args]
    wide = {**os.environ, "COLUMNS": "250"}  # whole identifiers on one line each
    url = f"sqlite:///{data_dir / 'catalog.sqlite'}"
    return subprocess.run([*command, "--catalog", url], env=wide,
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip


def test_the_recall_command(tmp_path: Path) -> None:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    try:
        tracker = LineTracker(plan())
        events = run(tracker, [float(n) for n in range(9)])
        capture(EpcisEvents(catalog), catalog.ensure_tenant("default"), document(events), T0)
    finally:
        catalog.close()
    done = _recall(tmp_path, MATERIAL)
    assert done.returncode == 0, done.stderr
    for text in ("Recall scope", "Affected lots", "Customers", "Current locations", GLOBEX):
        assert text in done.stdout
    done = _recall(tmp_path, MATERIAL, "--json")
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert len(data["units"]) == 8 and len(data["shipments"]) == 2
    assert data["customers"][0]["party"] == GLOBEX and data["kind"] == "lot"
    assert data["shipments"][0]["eventTime"] == "2025-01-06T08:04:00.000Z"
    missing = _recall(tmp_path, "urn:epc:id:sgtin:4012345.012345.nope")
    assert missing.returncode == 1 and "no event of tenant 'default' names" in missing.stderr
    other = _recall(tmp_path, MATERIAL, "--tenant", "nobody")
    assert other.returncode == 2 and "no tenant 'nobody'" in other.stderr
