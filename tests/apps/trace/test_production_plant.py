"""The demo plant traced end to end: the virtual factory's counters go over the live bus to
the trace processor, which captures EPCIS events into a real SQLite catalog; a shipped
case then traces back to its material lots, a material lot forward to cases, shipments and
customers, and the same samples again store nothing new. The demo's history path (stored
samples → events) is exercised through the platform as ``factoryos demo`` runs it."""

import asyncio
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.trace.genealogy import Direction, walk_stored
from factoryos.apps.trace.production import TraceProcessor, load_section, plans
from factoryos.apps.trace.production.config import LinePlan
from factoryos.apps.trace.recall import Kind, kind_of, recall_scope
from factoryos.bus.inprocess import InProcessBus
from factoryos.cli import DEMO_APPS
from factoryos.model.appsfile import load_apps_file
from factoryos.model.samples import SampleBatch
from factoryos.runtime.history import record_history
from factoryos.runtime.launch import _trace_history
from factoryos.runtime.platform import Platform
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.factory import DEFAULT_START_NS
from factoryos.store.catalog import Catalog
from factoryos.store.epcis_events import EpcisEvents

NS_PER_H = 3600 * 10**9
START = DEFAULT_START_NS + 6 * NS_PER_H  # Monday 06:00 UTC: every machine at work
HOURS = 10
STEP_S = 10.0
HOUSING_MATERIAL = "urn:epc:class:lgtin:4000001.065432.AL6082-2501"


def demo_plans() -> tuple[LinePlan, ...]:
    section = load_section(load_apps_file(DEMO_APPS), load_demo_site())
    assert section is not None
    return plans(section)


def counter_batches(
    factory: VirtualFactory, paths: Sequence[str], tag_ids: dict[str, int], steps: int
) -> Iterator[SampleBatch]:
    """One batch per step with the tags' values, as a poll of every device would give."""
    ids = np.array([tag_ids[p] for p in paths], dtype=np.int32)
    for _ in range(steps):
        factory.step()
        yield SampleBatch.build(ids, factory.now_ns, [factory.value(p) for p in paths])


async def run_live(
    catalog: Catalog, line_plans: Sequence[LinePlan], tag_ids: dict[str, int]
) -> tuple[TraceProcessor, dict[str, tuple[float, float]]]:
    """Simulate HOURS of the demo plant, publish its counters (and state tags, which the
    trace must ignore), run the processor to its stop; the counters' first and last values."""
    site = load_demo_site()
    bus = InProcessBus()
    processor = TraceProcessor(
        line_plans, bus, EpcisEvents(catalog), catalog.ensure_tenant("default"), tag_ids
    )
    stop = asyncio.Event()
    running = asyncio.create_task(processor.run(stop))
    counters = sorted({p.unit_tag for p in line_plans} | {p.packer_tag or "" for p in line_plans})
    paths = [*counters, *(ref.path for ref in site.tags() if ref.tag.name == "state")]
    factory = VirtualFactory(site, seed=4, start_ns=START, step_s=STEP_S)
    first: dict[str, float] = {}
    steps = round(HOURS * 3600 / STEP_S)
    for n, batch in enumerate(counter_batches(factory, paths, tag_ids, steps)):
        if n == 0:
            first = {p: factory.value(p) for p in counters}
        await bus.publish(batch)
        if n % 100 == 0:
            await asyncio.sleep(0)  # let the processor take what is queued
    stop.set()
    await asyncio.wait_for(running, 60)
    bus.close()
    return processor, {p: (first[p], factory.value(p)) for p in counters}


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    opened = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    opened.migrate()
    yield opened
    opened.close()


async def test_the_demo_plant_emits_a_genealogy_from_its_counters(catalog: Catalog) -> None:
    line_plans = demo_plans()
    tag_ids = catalog.register_site(load_demo_site())
    processor, counters = await run_live(catalog, line_plans, tag_ids)
    tenant = catalog.ensure_tenant("default")
    store = EpcisEvents(catalog)

    made = processor.lines
    for line in line_plans:  # every part the machine counted became a unit, none twice
        first, last = counters[line.unit_tag]
        assert made[line.line].units == last - first > 0
        assert made[line.line].shipments > 0
    stats = processor.stats
    assert stats.stored == stats.events == store.count(tenant) and stats.refused_events == 0
    housings = made["housings"]
    assert housings.lots_finished == housings.lots_started  # the open lot closed at stop

    bodies = [json.loads(b) for b in store.bodies(tenant, limit=100_000)]
    shipped = [b for b in bodies if b.get("bizStep") == "shipping"]
    assert len(shipped) == sum(m.shipments for m in made.values())

    case = shipped[0]["epcList"][0]  # housings ship first: their lot is smaller
    back = walk_stored(store, tenant, case, Direction.BACKWARD)
    assert {kind_of(e) for e in back.found(1)} == {Kind.UNIT}
    assert {kind_of(e) for e in back.found(2)} == {Kind.LOT}  # the product lot
    assert HOUSING_MATERIAL in back.found(3)  # the bar stock of the first eight hours

    forward = walk_stored(store, tenant, HOUSING_MATERIAL, Direction.FORWARD)
    reached = set(forward.found())
    assert case in reached
    assert {kind_of(e) for e in reached} == {Kind.LOT, Kind.UNIT, Kind.CONTAINER}

    scope = recall_scope(store, tenant, HOUSING_MATERIAL)
    assert case in scope.containers and scope.shipments and scope.customers
    in_case = back.found(1)[0]
    assert scope.locations[in_case].via == case
    assert scope.locations[in_case].disposition == "in_transit"
    assert scope.locations[in_case].where == "urn:epc:id:sgln:4012345.00001.dock-1"
    customers = {c.party for c in scope.customers}
    assert "urn:epc:id:pgln:0614141.00001" in customers  # the first shipment's, round-robin
    assert sum(c.units for c in scope.customers) == sum(s.units for s in scope.shipments)

    again, _ = await run_live(catalog, line_plans, tag_ids)  # the same samples once more
    assert again.stats.events == stats.events and again.stats.stored == 0
    assert again.stats.duplicates == stats.events == store.count(tenant)


async def test_the_demo_history_gets_its_production_events(tmp_path: Path) -> None:
    site = load_demo_site()
    platform = Platform(site, tmp_path, apps_file=DEMO_APPS)
    try:
        assert platform.trace is not None
        processor = platform._trace_processor()
        assert processor is not None and "trace" in {s.name for s in platform.bus.subscriptions}
        factory = VirtualFactory(site, seed=2, start_ns=START, step_s=STEP_S)
        record_history(factory, platform.store, platform.tag_ids, round(8 * 3600 / STEP_S))
        said: list[str] = []
        await _trace_history(platform, START, factory.now_ns + 1, said.append)
        tenant = platform.catalog.ensure_tenant(site.site.tenant)
        stored = EpcisEvents(platform.catalog).count(tenant)
        again: list[str] = []
        await _trace_history(platform, START, factory.now_ns + 1, again.append)
        assert EpcisEvents(platform.catalog).count(tenant) == stored > 0  # stored once
    finally:
        platform.catalog.close()
        platform.close()
    assert said == again and said[0].startswith("emitting the production events")
    assert any("housings:" in s and "shipments" in s for s in said[1:])
