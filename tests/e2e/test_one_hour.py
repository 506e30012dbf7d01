"""One simulated hour through the real path: virtual factory → Modbus TCP → driver → bus →
ingest → DuckDB, checked sample by sample against the simulator's own values.

The simulator and the pollers run in lockstep on the simulated clock: after every simulated
second each device is polled once over real Modbus TCP, stamped with the simulated time.
One device is cut off (its server stopped) for ten simulated minutes in the middle.
"""

import asyncio
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from factoryos.bus.inprocess import InProcessBus
from factoryos.connect import ModbusPoller, build_pollers
from factoryos.model import Quality, SampleBatch, SiteFile
from factoryos.sim import (
    DEFAULT_START_NS,
    SimulatorHost,
    VirtualFactory,
    load_demo_site,
    with_ports,
)
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor
from support.ports import free_ports

pytestmark = pytest.mark.e2e

STEPS = 3600
CUT_DEVICE = "cnc-02-plc"
CUT_FROM, CUT_UNTIL = 1200, 1800  # steps during which the device's server is stopped
EIGHT_AM = 8 * 3600 * 10**9  # in the morning shift, so the machines run
OVERHEAT_AT = 300  # drives cnc-01's spindle temperature past its range: uncertain samples


def _site() -> SiteFile:
    site = load_demo_site()
    return with_ports(site, dict(zip([d.name for d in site.devices], free_ports(8), strict=True)))


@dataclass
class Expected:
    """What the store must hold for one tag, built from the simulator's values."""

    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)


def _expected_quality(value: float, low_high: tuple[float, float] | None) -> int:
    if math.isnan(value):
        return Quality.BAD
    if low_high is not None and not low_high[0] <= value <= low_high[1]:
        return Quality.UNCERTAIN
    return Quality.GOOD


TAG_IDS = {ref.path: i + 1 for i, ref in enumerate(load_demo_site().tags())}
OVERHEATED = "demo/machining/line1/cell1/cnc-01"
PATHS = {tag_id: path for path, tag_id in TAG_IDS.items()}


def _record(
    expected: dict[int, Expected], poller: ModbusPoller, factory: VirtualFactory, down: bool
) -> None:
    for point in poller.points:
        value = math.nan if down else factory.value(PATHS[point.tag_id])
        exp = expected.setdefault(point.tag_id, Expected())
        exp.ts.append(factory.now_ns)
        exp.values.append(value)
        exp.quality.append(_expected_quality(value, point.tag.range))


async def _run_hour(tmp_path: Path) -> tuple[DuckDBStore, dict[int, Expected], list[SampleBatch]]:
    site = _site()
    factory = VirtualFactory(site, seed=11, start_ns=DEFAULT_START_NS + EIGHT_AM)
    store = DuckDBStore(tmp_path / "timeseries.duckdb")
    bus = InProcessBus()
    ingestor = Ingestor(store, bus)
    stop = asyncio.Event()
    ingest = asyncio.create_task(ingestor.run(stop))
    pollers = build_pollers(site, TAG_IDS)
    expected: dict[int, Expected] = {}
    published: list[SampleBatch] = []
    async with SimulatorHost(factory) as host:
        for step in range(STEPS):
            host.advance(1)
            if step == OVERHEAT_AT:
                factory.inject_fault(OVERHEATED, "overheat", severity=8.0, duration_s=1800)
            if step == CUT_FROM:
                await host.servers[CUT_DEVICE].stop()
            if step == CUT_UNTIL:
                await host.servers[CUT_DEVICE].start()
            polls = [p.poll_once(factory.now_ns, retry_now=True) for p in pollers]
            for poller, batch in zip(pollers, await asyncio.gather(*polls), strict=True):
                down = poller.name == CUT_DEVICE and CUT_FROM <= step < CUT_UNTIL
                _record(expected, poller, factory, down)
                await bus.publish(batch)
                published.append(batch)
    async with asyncio.timeout(60):
        await ingestor.flush()
    for batch in published[:500]:  # a redelivery of already-stored samples
        await bus.publish(batch)
    async with asyncio.timeout(60):
        await ingestor.flush()
    stop.set()
    await ingest
    for poller in pollers:
        await poller.close()
    return store, expected, published


@pytest.fixture(scope="module")
def hour(tmp_path_factory: pytest.TempPathFactory) -> tuple[DuckDBStore, dict[int, Expected]]:
    store, expected, _ = asyncio.run(_run_hour(tmp_path_factory.mktemp("e2e")))
    return store, expected


def test_every_tag_of_every_device_was_polled(
    hour: tuple[DuckDBStore, dict[int, Expected]],
) -> None:
    _, expected = hour
    modbus_tags = {TAG_IDS[r.path] for r in load_demo_site().tags() if r.tag.modbus is not None}
    assert set(expected) == modbus_tags
    assert all(len(e.ts) == STEPS for e in expected.values())


def test_nothing_lost_nothing_duplicated(hour: tuple[DuckDBStore, dict[int, Expected]]) -> None:
    store, expected = hour
    assert store.count() == sum(len(e.ts) for e in expected.values())
    for tag_id, exp in expected.items():
        got = store.raw(tag_id, exp.ts[0], exp.ts[-1] + 1, limit=STEPS + 1)
        np.testing.assert_array_equal(got.ts, np.array(exp.ts), err_msg=f"tag {tag_id}")


def test_values_equal_the_simulators(hour: tuple[DuckDBStore, dict[int, Expected]]) -> None:
    store, expected = hour
    for tag_id, exp in expected.items():
        got = store.raw(tag_id, exp.ts[0], exp.ts[-1] + 1, limit=STEPS + 1)
        np.testing.assert_array_equal(got.values, np.array(exp.values), err_msg=f"tag {tag_id}")
        np.testing.assert_array_equal(got.quality, np.array(exp.quality), err_msg=f"tag {tag_id}")


def test_bad_quality_exactly_while_the_device_was_cut_off(
    hour: tuple[DuckDBStore, dict[int, Expected]],
) -> None:
    store, expected = hour
    cut_ids = {TAG_IDS[r.path] for r in load_demo_site().tags() if r.equipment.device == CUT_DEVICE}
    first_ts = next(iter(expected.values())).ts
    cut_window = set(first_ts[CUT_FROM:CUT_UNTIL])
    for tag_id, exp in expected.items():
        got = store.raw(tag_id, exp.ts[0], exp.ts[-1] + 1, limit=STEPS + 1)
        bad_ts = set(got.ts[got.quality == Quality.BAD].tolist())
        assert bad_ts == (cut_window if tag_id in cut_ids else set()), f"tag {tag_id}"


def test_the_hour_exercised_every_quality(hour: tuple[DuckDBStore, dict[int, Expected]]) -> None:
    _, expected = hour
    seen = {q for e in expected.values() for q in e.quality}
    assert seen == {Quality.GOOD, Quality.UNCERTAIN, Quality.BAD}


def test_last_values_are_the_final_poll(hour: tuple[DuckDBStore, dict[int, Expected]]) -> None:
    store, expected = hour
    ids = np.array(sorted(expected), dtype=np.int32)
    last = store.last(ids)
    assert last.tag_ids.tolist() == ids.tolist()
    np.testing.assert_array_equal(last.values, [expected[int(t)].values[-1] for t in ids])
