"""The in-process bus: fan-out, back-pressure, drop-oldest, close."""

import asyncio

import pytest

from factoryos.bus import BusClosedError, BusError, InProcessBus, Overflow
from factoryos.model.samples import SampleBatch


def batch(n: int) -> SampleBatch:
    return SampleBatch.build([n], [n], [float(n)])


async def test_every_subscriber_gets_every_batch_in_order() -> None:
    bus = InProcessBus()
    first, second = bus.subscribe("a"), bus.subscribe("b", overflow=Overflow.DROP_OLDEST)
    for n in range(5):
        await bus.publish(batch(n))
    bus.close()
    assert [int(b.ts[0]) async for b in first] == [0, 1, 2, 3, 4]
    assert [int(b.ts[0]) async for b in second] == [0, 1, 2, 3, 4]


async def test_a_full_block_subscriber_holds_the_publisher_back() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("ingest", maxsize=2)
    await bus.publish(batch(0))
    await bus.publish(batch(1))
    third = asyncio.create_task(bus.publish(batch(2)))
    await asyncio.sleep(0.01)
    assert not third.done()
    assert sub.qsize == 3
    assert int((await anext(sub)).ts[0]) == 0
    await asyncio.wait_for(third, 1)
    assert [int(b.ts[0]) for b in sub.take_all()] == [1, 2]
    assert sub.dropped == 0


async def test_drop_oldest_discards_and_counts_without_blocking() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("chart", maxsize=3, overflow=Overflow.DROP_OLDEST)
    for n in range(10):
        await asyncio.wait_for(bus.publish(batch(n)), 1)
    assert sub.dropped == 7
    assert [int(b.ts[0]) for b in sub.take_all()] == [7, 8, 9]


async def test_close_ends_iteration_after_what_was_queued() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("s")
    await bus.publish(batch(1))
    received: list[int] = []

    async def consume() -> None:
        async for b in sub:
            received.append(int(b.ts[0]))

    consumer = asyncio.create_task(consume())
    await asyncio.sleep(0.01)
    sub.close()
    await asyncio.wait_for(consumer, 1)
    assert received == [1]
    assert bus.subscriptions == ()
    await bus.publish(batch(2))  # no subscriber left: delivered to nobody
    assert sub.take_all() == []


async def test_closing_delivers_batches_of_blocked_publishers() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("s", maxsize=1)
    await bus.publish(batch(0))
    blocked = asyncio.create_task(bus.publish(batch(1)))
    await asyncio.sleep(0.01)
    sub.close()
    await asyncio.wait_for(blocked, 1)
    assert [int(b.ts[0]) async for b in sub] == [0, 1]


async def test_a_closed_bus_refuses_publish_and_subscribe() -> None:
    bus = InProcessBus()
    sub = bus.subscribe("s")
    bus.close()
    assert sub.closed
    with pytest.raises(BusClosedError, match="closed"):
        await bus.publish(batch(0))
    with pytest.raises(BusClosedError, match="'late'"):
        bus.subscribe("late")


def test_maxsize_must_be_positive() -> None:
    with pytest.raises(BusError, match="maxsize"):
        InProcessBus().subscribe("s", maxsize=0)


async def test_interrupt_wakes_a_waiting_consumer() -> None:
    sub = InProcessBus().subscribe("s")
    waiter = asyncio.create_task(sub.wait())
    await asyncio.sleep(0.01)
    assert not waiter.done()
    sub.interrupt()
    await asyncio.wait_for(waiter, 1)
