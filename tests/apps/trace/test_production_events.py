"""Production events from counter samples, without servers: lots, cases and shipments as
the counters rise; every document valid against GS1's EPCIS 2.0 schema; eventIDs the same
for the same samples (a replay is stored once) and new after a restart; counters that
reset, repeat, misread or jump; the packer pacing cases; the ``trace:`` section's checks."""

import json
from collections.abc import Iterator, Sequence
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.epcis.validate import validate_document
from factoryos.apps.trace.production import LinePlan, LineTracker, SampleRouter, load_section
from factoryos.apps.trace.production import plans as line_plans
from factoryos.apps.trace.production import tracker as tracker_module
from factoryos.apps.trace.production.events import Event, document, event_time
from factoryos.apps.trace.production.tracker import Counter
from factoryos.model.appsfile import parse_apps_file
from factoryos.model.errors import AppsFileError
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.sim import load_demo_site
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents

NS = 1_000_000_000
T0 = 1_736_150_400 * NS  # 2025-01-06T08:00:00Z
CNC = "demo/machining/line1/cell1/cnc-03"
PACKER = "demo/packaging/pack1/cell1/packer-01"
MATERIAL = "urn:epc:class:lgtin:4000001.065432.AL2501"
APPS = """\
trace:
  company_prefix: "4012345"
  location_reference: "00001"
  customers:
    - {name: Globex, party: "urn:epc:id:pgln:0614141.00001",
       location: "urn:epc:id:sgln:0614141.00002.0", order: PO-4711}
    - {name: Initech, party: "urn:epc:id:pgln:4098765.00001"}
  lines:
    housings:
      code: H1
      item_reference: "012345"
      unit: {equipment: %(cnc)s}
      lot_size: 4
      materials:
        - {name: bar, per_unit: 1.5, uom: KGM, change_every_h: 1,
           lots: ["%(material)s", "urn:epc:class:lgtin:4000001.065432.AL2502"]}
      packing: {equipment: %(packer)s, %(counter)s case_size: 2}
      shipping: {cases: 2}
"""


def section_text(counter: str | None = None) -> str:
    packer_counter = "" if counter is None else f"counter: {counter},"
    return APPS % {"cnc": CNC, "packer": PACKER, "material": MATERIAL, "counter": packer_counter}


@cache
def demo_site() -> SiteFile:
    return load_demo_site()


@cache
def plan(counter: str | None = None) -> LinePlan:
    apps = parse_apps_file(section_text(counter), "apps.yaml")
    section = load_section(apps, demo_site())
    assert section is not None
    (line,) = line_plans(section)
    return line


def run(tracker: LineTracker, values: Sequence[float], every_s: int = 60) -> list[Event]:
    """The unit counter at ``values``, one sample every ``every_s`` from T0."""
    out: list[Event] = []
    for n, value in enumerate(values):
        out += tracker.on_units(T0 + n * every_s * NS, value)
    return out


def of(events: list[Event], type_: str, step: str | None = None) -> list[Event]:
    return [e for e in events if e["type"] == type_ and (step is None or e["bizStep"] == step)]


def test_a_lot_its_cases_and_a_shipment_as_the_counter_rises() -> None:
    events = run(LineTracker(plan()), [0, 1, 2, 3, 4])
    start, finish = of(events, "TransformationEvent")
    assert start["bizStep"] == "creating_class_instance" and start["eventTime"] == event_time(
        T0 + 60 * NS
    )
    assert start["inputQuantityList"] == [{"epcClass": MATERIAL, "quantity": 6.0, "uom": "KGM"}]
    lot = "urn:epc:class:lgtin:4012345.012345.H1250106080100"
    assert start["outputQuantityList"] == [{"epcClass": lot, "quantity": 4}]
    assert finish["bizStep"] == "commissioning" and finish["disposition"] == "active"
    assert finish["inputQuantityList"] == [{"epcClass": lot, "quantity": 4}]
    units = [f"urn:epc:id:sgtin:4012345.012345.H1250106080100-000{n}" for n in range(1, 5)]
    assert finish["outputEPCList"] == units
    cases = of(events, "AggregationEvent", "packing")
    assert [c["childEPCs"] for c in cases] == [units[:2], units[2:]]
    assert all(c["action"] == "ADD" and c["parentID"].startswith("urn:epc:id:sscc:") for c in cases)
    assert cases[0]["readPoint"] == {"id": "urn:epc:id:sgln:4012345.00001.packer-01"}
    (ship,) = of(events, "ObjectEvent", "shipping")
    assert ship["epcList"] == [c["parentID"] for c in cases]
    assert ship["disposition"] == "in_transit" and "bizLocation" not in ship
    assert ship["destinationList"] == [
        {"type": "owning_party", "destination": "urn:epc:id:pgln:0614141.00001"},
        {"type": "location", "destination": "urn:epc:id:sgln:0614141.00002.0"},
    ]
    assert {t["type"] for t in ship["bizTransactionList"]} == {"desadv", "po"}
    validate_document(document(events))


def test_every_document_is_valid_epcis() -> None:
    tracker = LineTracker(plan())
    events = run(tracker, [float(n) for n in range(41)]) + tracker.close()
    assert tracker.stats.lots_finished == 10 and tracker.stats.shipments == 10
    validate_document(document(events))
    for event in events:  # each alone too: nothing relies on a neighbour
        validate_document(document([event]))


def test_material_lots_change_with_time_and_customers_take_turns() -> None:
    tracker = LineTracker(plan())
    events = run(tracker, [float(n) for n in range(17)], every_s=900)  # a unit per 15 min
    starts = of(events, "TransformationEvent", "creating_class_instance")
    used = [s["inputQuantityList"][0]["epcClass"] for s in starts]
    assert used == [MATERIAL, "urn:epc:class:lgtin:4000001.065432.AL2502"] * 2  # hourly
    parties = [s["destinationList"][0]["destination"] for s in of(events, "ObjectEvent")]
    assert parties == ["urn:epc:id:pgln:0614141.00001", "urn:epc:id:pgln:4098765.00001"] * 2


def test_the_same_samples_give_the_same_event_ids_and_a_restart_gives_new_ones() -> None:
    values = [float(n) for n in range(13)]
    first, again = run(LineTracker(plan()), values), run(LineTracker(plan()), values)
    assert first == again
    ids = [e["eventID"] for e in first]
    assert len(set(ids)) == len(ids) and all(i.startswith("urn:uuid:") for i in ids)
    restarted = LineTracker(plan())  # the same counts an hour later: a restarted line
    later: list[Event] = []
    for n, value in enumerate(values):
        later += restarted.on_units(T0 + 3600 * NS + n * 60 * NS, value)
    assert len(later) == len(first)
    assert {e["eventID"] for e in later}.isdisjoint(ids)


def test_identities_never_repeat_within_a_second() -> None:
    tracker = LineTracker(plan())
    events = tracker.on_units(T0, 0) + tracker.on_units(T0 + NS, 12)  # three lots at once
    lots = [e["outputQuantityList"][0]["epcClass"] for e in of(events, "TransformationEvent")[::2]]
    assert [lot[-12:] for lot in lots] == ["250106080001", "250106080002", "250106080003"]
    cases = [e["parentID"] for e in of(events, "AggregationEvent")]
    assert len(set(cases)) == len(cases) == 6
    shipments = [e["bizTransactionList"][0]["bizTransaction"] for e in of(events, "ObjectEvent")]
    assert len(set(shipments)) == 3


def test_counters_that_reset_repeat_misread_or_jump() -> None:
    counter = Counter(limit=100)
    assert counter.rise(T0, 10) == 0  # the baseline
    assert counter.rise(T0 + NS, 13) == 3
    assert counter.rise(T0 + NS, 20) is None  # a redelivered time
    assert counter.rise(T0, 20) is None  # older
    assert counter.rise(T0 + 2 * NS, float("nan")) is None
    assert counter.rise(T0 + 3 * NS, 13.5) is None
    assert counter.rise(T0 + 4 * NS, 2) == 2  # reset to 0, then counted 2
    assert counter.rise(T0 + 5 * NS, 500) is None  # not believed: counting restarts at 500
    assert counter.rise(T0 + 6 * NS, 501) == 1
    tracker = LineTracker(plan())
    run(tracker, [5, 7, 7, float("inf"), 1, 3])
    assert tracker.stats.units == 2 + 1 + 2 and tracker.stats.skipped_samples == 1


def test_the_packer_paces_cases_one_per_rise() -> None:
    tracker = LineTracker(plan("cycle_count"))
    events = run(tracker, [0, 1, 2, 3, 4])
    assert of(events, "AggregationEvent") == []  # the lot is done, the packer has not moved
    packed = tracker.on_packer(T0, 100) + tracker.on_packer(T0 + 600 * NS, 101)
    assert [e["eventTime"] for e in packed] == [event_time(T0 + 600 * NS)]
    packed += tracker.on_packer(T0 + 610 * NS, 105)  # four rises, one full case left
    assert len(of(packed, "AggregationEvent")) == 2 and len(of(packed, "ObjectEvent")) == 1
    assert tracker.on_packer(T0 + 620 * NS, 106) == []  # nothing waits


def test_a_stalled_packer_does_not_hold_units_without_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tracker_module, "MAX_WAITING_UNITS", 6)
    tracker = LineTracker(plan("cycle_count"))
    events = run(tracker, [float(n) for n in range(17)])  # four lots, the packer still
    packed = sum(len(e["childEPCs"]) for e in of(events, "AggregationEvent"))
    assert tracker.stats.units - packed <= 6  # what still waits for the packer
    assert tracker.stats.unpaced_cases == len(of(events, "AggregationEvent")) == 5


def test_closing_finishes_the_open_lot_short() -> None:
    tracker = LineTracker(plan())
    run(tracker, [0, 1, 2, 3, 4, 5, 6])
    short, packed = tracker.close()  # and its two units packed: a full case
    assert packed["type"] == "AggregationEvent" and packed["childEPCs"] == short["outputEPCList"]
    assert short["inputQuantityList"][0]["quantity"] == 2 and len(short["outputEPCList"]) == 2
    assert short["eventTime"] == event_time(T0 + 6 * 60 * NS)
    full = run(LineTracker(plan()), [0, 1, 2, 3, 4, 5, 6, 7, 8])
    assert short["eventID"] not in {e["eventID"] for e in full}  # a fuller finish is new
    assert tracker.close() == []


def _batch(rows: list[tuple[int, int, float, Quality]]) -> SampleBatch:
    tags, ts, values, quality = zip(*rows, strict=True)
    return SampleBatch.build(np.array(tags), np.array(ts), np.array(values), np.array(quality))


def test_the_router_feeds_good_samples_of_watched_tags_in_time_order() -> None:
    line = plan("cycle_count")
    ids = {line.unit_tag: 7, line.packer_tag or "": 9}
    router = SampleRouter([line], ids)
    good, bad = Quality.GOOD, Quality.BAD
    rows = [
        (7, T0 + 2 * NS, 4.0, good),
        (9, T0 + 3 * NS, 1.0, good),  # the packer after the units, though listed first
        (7, T0, 0.0, good),
        (9, T0, 0.0, good),
        (7, T0 + NS, 99.0, bad),  # a failed read: skipped
        (3, T0 + NS, 50.0, good),  # not watched
    ]
    events = router.feed(_batch(rows))
    assert len(of(events, "TransformationEvent")) == 2
    assert len(of(events, "AggregationEvent")) == 1  # one rise of the packer: one case
    assert router.trackers[0].stats.skipped_samples == 0


@pytest.fixture
def events_store(tmp_path: Path) -> Iterator[tuple[int, EpcisEvents]]:
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.migrate()
    yield catalog.ensure_tenant("acme"), EpcisEvents(catalog)
    catalog.close()


def test_a_replay_is_stored_once(events_store: tuple[int, EpcisEvents]) -> None:
    tenant, store = events_store
    values = [float(n) for n in range(21)]
    events = run(LineTracker(plan()), values)
    first = capture(store, tenant, document(events), T0)
    replay = capture(store, tenant, document(run(LineTracker(plan()), values)), T0 + NS)
    assert first.written == len(events) and replay.written == 0
    assert len(replay.duplicates) == len(events) == store.count(tenant)
    stored = [json.loads(b) for b in store.bodies(tenant, limit=100)]
    assert {e["eventID"] for e in stored} == {e["eventID"] for e in events}


def _problems(text: str) -> str:
    with pytest.raises(AppsFileError) as info:
        load_section(parse_apps_file(text, "apps.yaml"), demo_site())
    return str(info.value)


def test_a_wrong_section_names_the_line_and_field() -> None:
    text = section_text()
    wrong = text.replace(CNC, "demo/machining/line1/cell1/cnc-99")
    assert "trace.lines.housings.unit.equipment" in _problems(wrong)
    assert "no equipment 'demo/machining/line1/cell1/cnc-99'" in _problems(wrong)
    message = _problems(text.replace('"012345"', '"01234"'))
    assert "item_reference" in message and "must be 6 digits" in message
    message = _problems(text.replace("pgln:4098765.00001", "sgln:4098765.00001.0"))
    assert "trace.customers[1].party" in message
    message = _problems(text.replace(MATERIAL, "urn:epc:class:lgtin:4000001.065432"))
    assert "trace.lines.housings.materials[0].lots[0]" in message
    message = _problems(section_text("no_such_counter"))
    assert "no tag 'demo/packaging/pack1/cell1/packer-01/no_such_counter'" in message
    assert "apps.yaml:13: trace.lines.housings.lot_size" in _problems(
        text.replace("lot_size: 4", "lot_size: 0")
    )


def test_the_demo_section_loads() -> None:
    demo = Path(__file__).resolve().parents[3] / "src/factoryos/sim/sites/demo-apps.yaml"
    apps = parse_apps_file(demo.read_text(), demo)
    section = load_section(apps, demo_site())
    assert section is not None
    lines = {p.line: p for p in line_plans(section)}
    assert set(lines) == {"housings", "caps"}
    assert lines["housings"].unit_tag == f"{CNC}/good_count"
    assert lines["caps"].packer_tag == f"{PACKER}/cycle_count"
    assert lines["housings"].sscc_extension != lines["caps"].sscc_extension
