"""The alarm processor on the real in-process bus and a migrated SQLite catalog: alarms fire
within a second of the sample, delays fire from the tick, commands are recorded with the
operator, and a restart brings unacknowledged and shelved alarms back from the history."""

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.alarms import AlarmState, AlarmStateError, EventKind, LimitRule, Priority
from factoryos.apps.alarms.config import AlarmConfig, AlarmInfo
from factoryos.apps.alarms.errors import AlarmsUnavailableError
from factoryos.apps.alarms.processor import AlarmNotice, AlarmProcessor, last_samples
from factoryos.apps.alarms.rules import AlarmRule, StaleRule
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.alarm_log import AlarmLog, HistoryFilter
from factoryos.store.catalog import Catalog

TAG = 7
S = 1_000_000_000


def _config(*rules: AlarmRule) -> AlarmConfig:
    info = {r.name: AlarmInfo(r.name, f"p/{r.tag_id}", "p/eq", True, "") for r in rules}
    return AlarmConfig(list(rules), info)


HIGH = LimitRule(name="hot", tag_id=TAG, level="H", setpoint=80.0, priority=Priority.HIGH)
SLOW = LimitRule(name="slow", tag_id=TAG, level="HH", setpoint=90.0, on_delay_s=1.0)


@pytest.fixture
def catalog(tmp_path: Path) -> Iterator[Catalog]:
    c = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    c.migrate()
    yield c
    c.close()


@asynccontextmanager
async def running(processor: AlarmProcessor) -> AsyncIterator[AlarmProcessor]:
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    try:
        await asyncio.wait_for(processor.ready.wait(), 5)  # restored from the history
        yield processor
    finally:
        stop.set()
        await asyncio.wait_for(task, 5)


async def _until(check: Callable[[], bool], timeout_s: float = 3.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.01)


async def _stored(log: AlarmLog, tenant: int, kind: str, timeout_s: float = 3.0) -> None:
    def found() -> bool:
        return bool(log.query(tenant, HistoryFilter(kinds=(kind,))).records)

    await _until(found, timeout_s)


def _sample(value: float, ts: int | None = None) -> SampleBatch:
    return SampleBatch.build([TAG], [ts or time.time_ns()], [value])


async def test_a_sample_beyond_the_limit_fires_within_one_second(catalog: Catalog) -> None:
    bus, tenant = InProcessBus(), catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    seen: list[tuple[float, AlarmNotice]] = []

    async def on_event(notice: AlarmNotice) -> None:
        seen.append((time.monotonic(), notice))

    async with running(AlarmProcessor(_config(HIGH), bus, log, tenant, on_event=on_event)) as p:
        await bus.publish(_sample(70.0))
        published = time.monotonic()
        await bus.publish(_sample(85.5))
        await _until(lambda: bool(seen))
        await _stored(log, tenant, "activated", timeout_s=1.0 - (time.monotonic() - published))
        stored_after = time.monotonic() - published

        at, notice = seen[0]
        assert at - published < 1.0
        assert stored_after < 1.0
        assert (notice.event.kind, notice.event.value) == (EventKind.ACTIVATED, 85.5)
        assert notice.info.equipment == "p/eq"
        live = p.live("hot")
        assert live.status.state is AlarmState.UNACKED
        assert live.last_value == 85.5
    row = log.query(tenant).records[0]
    assert (row.alarm, row.kind, row.priority, row.state) == (
        "hot",
        "activated",
        3,
        "active_unacked",
    )


async def test_an_on_delay_fires_from_the_tick_without_new_samples(catalog: Catalog) -> None:
    bus, tenant = InProcessBus(), catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    async with running(AlarmProcessor(_config(SLOW), bus, log, tenant)) as p:
        await bus.publish(_sample(95.0))  # the only sample: it must hold for 1 s
        await asyncio.sleep(0.3)
        assert p.live("slow").status.state is AlarmState.NORMAL
        await _stored(log, tenant, "activated", timeout_s=3.0)
        assert p.live("slow").status.state is AlarmState.UNACKED


async def test_a_stale_tag_alarms_from_the_tick(catalog: Catalog) -> None:
    bus, tenant = InProcessBus(), catalog.ensure_tenant("acme")
    silent = StaleRule(name="silent", tag_id=TAG, timeout_s=0.5)
    log = AlarmLog(catalog)
    async with running(AlarmProcessor(_config(silent), bus, log, tenant)):
        await _stored(log, tenant, "activated", timeout_s=4.0)


async def test_commands_are_recorded_with_the_operator(catalog: Catalog) -> None:
    bus, tenant = InProcessBus(), catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    async with running(AlarmProcessor(_config(HIGH), bus, log, tenant)) as p:
        await bus.publish(_sample(85.0))
        await _until(lambda: p.live("hot").status.state is AlarmState.UNACKED)

        acked = await p.acknowledge("hot", "user ann", "seen")
        with pytest.raises(AlarmStateError, match="nothing to acknowledge"):
            await p.acknowledge("hot", "user ann")
        until = time.time_ns() + 3600 * S
        shelved = await p.shelve("hot", until, "user bob", "sensor swap")

        assert acked.status.state is AlarmState.ACKED
        assert (shelved.status.state, shelved.status.shelved_until) == (AlarmState.SHELVED, until)
        rows = log.query(tenant, HistoryFilter(kinds=("acknowledged", "shelved"))).records
        assert [(r.kind, r.actor, r.comment, r.until) for r in rows] == [
            ("shelved", "user bob", "sensor swap", until),
            ("acknowledged", "user ann", "seen", None),
        ]


async def test_a_restart_restores_unacked_and_shelved_alarms(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    other = LimitRule(name="other", tag_id=TAG + 1, level="H", setpoint=10.0)
    config = _config(HIGH, other)
    bus = InProcessBus()
    until = time.time_ns() + 3600 * S
    async with running(AlarmProcessor(config, bus, log, tenant)) as p:
        await bus.publish(SampleBatch.build([TAG, TAG + 1], [time.time_ns()] * 2, [85.0, 20.0]))
        await _until(lambda: p.live("other").status.state is AlarmState.UNACKED)
        await p.shelve("other", until, "user bob", "maintenance")

    bus = InProcessBus()
    async with running(AlarmProcessor(config, bus, log, tenant)) as p:
        await _until(lambda: p.live("hot").status.state is AlarmState.UNACKED)
        assert p.live("other").status.state is AlarmState.SHELVED
        assert p.live("other").status.shelved_until == until
        # The restored alarm clears on a normal sample and can be acknowledged.
        await bus.publish(_sample(60.0))
        await _until(lambda: p.live("hot").status.state is AlarmState.RTN_UNACKED)
        await p.acknowledge("hot", "user ann")
        assert p.live("hot").status.state is AlarmState.NORMAL


async def test_an_expired_shelving_ends_after_a_restart(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    log = AlarmLog(catalog)
    bus = InProcessBus()
    async with running(AlarmProcessor(_config(HIGH), bus, log, tenant)) as p:
        await p.shelve("hot", time.time_ns() + S // 2, "user bob", "short")

    await asyncio.sleep(0.6)
    async with running(AlarmProcessor(_config(HIGH), InProcessBus(), log, tenant)) as p:
        await _stored(log, tenant, "unshelved", timeout_s=3.0)
        assert p.live("hot").status.state is AlarmState.NORMAL


async def test_a_failing_notifier_does_not_stop_the_alarms(catalog: Catalog) -> None:
    bus, tenant = InProcessBus(), catalog.ensure_tenant("acme")

    async def broken(_notice: AlarmNotice) -> None:
        raise RuntimeError("smtp down")

    log = AlarmLog(catalog)
    async with running(AlarmProcessor(_config(HIGH), bus, log, tenant, on_event=broken)) as p:
        await bus.publish(_sample(85.0))
        await _stored(log, tenant, "activated")
        await bus.publish(_sample(10.0))
        await _stored(log, tenant, "cleared")
        assert p.stats.notice_failures == 2


def test_last_samples_takes_the_newest_good_sample_per_tag() -> None:
    batch = SampleBatch.build(
        [1, 2, 1, 1, 3],
        [30, 10, 10, 40, 5],
        [3.0, 2.0, 1.0, 4.0, 9.0],
        [Quality.GOOD, Quality.GOOD, Quality.GOOD, Quality.BAD, Quality.GOOD],
    )
    assert last_samples(batch, np.array([1, 2], dtype=np.int32)) == {1: (30, 3.0), 2: (10, 2.0)}
    assert last_samples(SampleBatch.empty(), np.array([1], dtype=np.int32)) == {}


async def test_commands_are_refused_before_restore_and_after_stop(catalog: Catalog) -> None:
    tenant = catalog.ensure_tenant("acme")
    p = AlarmProcessor(_config(HIGH), InProcessBus(), AlarmLog(catalog), tenant)
    with pytest.raises(AlarmsUnavailableError):
        await p.shelve("hot", time.time_ns() + S, "user bob", "early")
    async with running(p):
        pass
    with pytest.raises(AlarmsUnavailableError):
        await p.acknowledge("hot", "user bob")
    assert AlarmLog(catalog).latest(tenant) == {}  # nothing stored, nothing half-done
