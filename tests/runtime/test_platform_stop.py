"""Stopping the platform's parts: a part that hangs is cancelled and named, not waited for."""

import asyncio

from factoryos.runtime.platform import _finish


async def _hangs() -> None:
    await asyncio.sleep(3600)


async def _fails() -> None:
    raise ConnectionError("broker gone")


async def _ends() -> None:
    await asyncio.sleep(0)


async def test_a_hung_part_is_cancelled_and_named_with_the_failures() -> None:
    tasks = [
        asyncio.create_task(_hangs(), name="uns-publish"),
        asyncio.create_task(_fails(), name="nats-ingest"),
        asyncio.create_task(_ends(), name="drivers"),
    ]
    failures = await _finish(tasks, timeout_s=0.2)
    assert failures == ["uns-publish: did not stop within 0.2 s", "nats-ingest: broker gone"]
    assert tasks[0].cancelled()


async def test_parts_that_stop_report_nothing() -> None:
    assert await _finish([asyncio.create_task(_ends(), name="api")]) == []
    assert await _finish([]) == []
