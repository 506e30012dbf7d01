"""The ingest worker end to end: bus → Ingestor → DuckDBStore."""

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass

import numpy as np
import pytest

from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.errors import IngestError
from factoryos.store.ingest import Ingestor

T0 = 1_767_225_600_000_000_000
TAGS = 50


def poll(n: int) -> SampleBatch:
    """Poll number ``n`` of TAGS tags, 100 ms apart."""
    return SampleBatch.build(np.arange(TAGS), T0 + n * 100_000_000, np.full(TAGS, float(n)))


@dataclass
class Running:
    store: DuckDBStore
    bus: InProcessBus
    ingestor: Ingestor
    stop: asyncio.Event
    task: "asyncio.Task[None]"


@pytest.fixture
async def running() -> AsyncIterator[Running]:
    store, bus = DuckDBStore(), InProcessBus()
    ingestor = Ingestor(store, bus, max_rows=1000, max_delay_s=0.05, maxsize=8)
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    yield Running(store, bus, ingestor, stop, task)
    stop.set()
    await asyncio.wait_for(task, 5)
    store.close()


async def test_published_batches_are_stored_once_even_when_replayed(running: Running) -> None:
    for n in range(200):
        await running.bus.publish(poll(n))
    await asyncio.wait_for(running.ingestor.flush(), 5)
    assert running.store.count() == 200 * TAGS
    for n in range(150, 250):  # redelivery of 50 polls, then 50 new ones
        await running.bus.publish(poll(n))
    await asyncio.wait_for(running.ingestor.flush(), 5)
    assert running.store.count() == 250 * TAGS
    stats = running.ingestor.stats
    assert (stats.batches, stats.rows_in, stats.rows_stored) == (300, 300 * TAGS, 250 * TAGS)
    assert running.store.last(np.array([0])).values.tolist() == [249.0]


async def test_a_small_batch_is_written_after_max_delay(running: Running) -> None:
    await running.bus.publish(poll(0))
    for _ in range(100):
        if running.store.count() == TAGS:
            break
        await asyncio.sleep(0.01)
    assert running.store.count() == TAGS


async def test_an_invalid_batch_is_rejected_and_the_others_stored(running: Running) -> None:
    await running.bus.publish(poll(0))
    await running.bus.publish(SampleBatch.build([-1], [T0], [0.0]))
    await running.bus.publish(poll(1))
    await asyncio.wait_for(running.ingestor.flush(), 5)
    assert running.store.count() == 2 * TAGS
    assert running.ingestor.stats.rows_rejected == 1


async def test_stop_drains_everything_queued() -> None:
    store, bus = DuckDBStore(), InProcessBus()
    ingestor = Ingestor(store, bus, max_rows=10**9, max_delay_s=60, maxsize=4)
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    publisher = asyncio.create_task(_publish(bus, 20))
    await asyncio.sleep(0.05)
    assert store.count() == 0  # nothing is due yet: max_rows and max_delay are far away
    stop.set()
    await asyncio.wait_for(task, 5)
    await asyncio.wait_for(publisher, 5)
    assert store.count() == ingestor.stats.rows_in == 20 * TAGS
    assert ingestor.stats.queue_depth == 0
    store.close()


async def _publish(bus: InProcessBus, polls: int) -> None:
    for n in range(polls):
        await bus.publish(poll(n))


async def test_a_stopped_worker_refuses_a_second_run() -> None:
    store, bus = DuckDBStore(), InProcessBus()
    ingestor = Ingestor(store, bus)
    await bus.publish(poll(0))
    stop = asyncio.Event()
    stop.set()
    await ingestor.run(stop)  # drains the one batch on its way out
    assert store.count() == TAGS
    with pytest.raises(IngestError, match="has run"):
        await ingestor.run(stop)
    store.close()


async def test_a_failing_store_is_retried_then_stops_the_worker_and_flush() -> None:
    store, bus = DuckDBStore(), InProcessBus()
    ingestor = Ingestor(store, bus, max_delay_s=0.01)
    store.close()  # every write now fails
    task = asyncio.create_task(ingestor.run(asyncio.Event()))
    await bus.publish(poll(0))
    with pytest.raises(IngestError, match="has stopped"):
        await asyncio.wait_for(ingestor.flush(), 5)
    with pytest.raises(IngestError, match="after 3 attempts"):
        await task


async def test_flush_waits_for_a_worker_that_has_not_started_yet() -> None:
    store, bus = DuckDBStore(), InProcessBus()
    ingestor = Ingestor(store, bus)
    await bus.publish(poll(0))
    stop = asyncio.Event()
    task = asyncio.create_task(ingestor.run(stop))
    await asyncio.wait_for(ingestor.flush(), 5)
    assert store.count() == TAGS
    stop.set()
    await task
    store.close()


def test_bad_settings_are_refused() -> None:
    with pytest.raises(IngestError, match="max_rows"):
        Ingestor(DuckDBStore(), InProcessBus(), max_rows=0)
