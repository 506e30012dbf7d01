"""The Modbus TCP poller against a real pymodbus server on localhost."""

import asyncio
import logging
import time

import numpy as np
import pytest

from factoryos.connect import ModbusPoller, build_pollers, run_pollers
from factoryos.connect.codec import encode
from factoryos.connect.errors import ConfigError
from factoryos.connect.modbus import next_slot
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.model.tags import DataType, ModbusTable, WordOrder
from support.modbus_server import REGISTERS, ModbusTestServer, SilentServer
from support.ports import free_port
from support.sites import Cell, Equipment, site_yaml

from .points import point

HR, IR, CO, DI = ModbusTable.HOLDING, ModbusTable.INPUT, ModbusTable.COIL, ModbusTable.DISCRETE
BIG, LITTLE = WordOrder.BIG, WordOrder.LITTLE
LOGGER = "factoryos.connect.modbus"
GOOD, UNCERTAIN, BAD = Quality.GOOD, Quality.UNCERTAIN, Quality.BAD
T0 = 1_700_000_000_000_000_000


def device(port: int, **settings: object) -> ModbusTcpDevice:
    fields: dict[str, object] = {"poll_interval_s": 0.1, "timeout_s": 0.3}
    fields.update(settings)
    return ModbusTcpDevice.model_validate({"name": "plc", "port": port, **fields})


def put(
    server: ModbusTestServer,
    table: ModbusTable,
    address: int,
    dtype: DataType,
    value: float,
    order: WordOrder = BIG,
) -> None:
    words = encode(np.array([value]), dtype, order)
    getattr(server.memory, str(table))[address : address + len(words)] = words


def as_dict(batch: SampleBatch) -> dict[int, tuple[float, int]]:
    return {
        int(i): (float(v), int(q))
        for i, v, q in zip(batch.tag_ids, batch.values, batch.quality, strict=True)
    }


async def test_every_table_type_word_order_and_scaling(modbus_server: ModbusTestServer) -> None:
    s = modbus_server
    put(s, HR, 0, DataType.FLOAT32, 1.5)
    put(s, HR, 2, DataType.FLOAT32, -2.25, LITTLE)
    put(s, HR, 4, DataType.INT16, -5)
    put(s, HR, 5, DataType.UINT16, 65000)
    put(s, HR, 6, DataType.INT32, -100000)
    put(s, HR, 8, DataType.UINT32, 3_000_000_000, LITTLE)
    put(s, IR, 10, DataType.INT16, 250)  # 25.0 degC after scaling
    s.memory.coil[3] = True
    s.memory.discrete[5] = True
    points = [
        point(1, HR, 0, DataType.FLOAT32),
        point(2, HR, 2, DataType.FLOAT32, word_order=LITTLE),
        point(3, HR, 4, DataType.INT16),
        point(4, HR, 5, DataType.UINT16),
        point(5, HR, 6, DataType.INT32),
        point(6, HR, 8, DataType.UINT32, word_order=LITTLE),
        point(7, IR, 10, DataType.INT16, scale=0.1, offset=-0.0),
        point(8, IR, 11, DataType.UINT16, scale=2.0, offset=-40.0),
        point(9, CO, 3, DataType.BOOL),
        point(10, CO, 4, DataType.BOOL),
        point(11, DI, 5, DataType.BOOL),
    ]
    poller = ModbusPoller(device(s.port), points)
    batch = await poller.poll_once(T0)
    await poller.close()
    assert as_dict(batch) == {
        1: (1.5, GOOD),
        2: (-2.25, GOOD),
        3: (-5.0, GOOD),
        4: (65000.0, GOOD),
        5: (-100000.0, GOOD),
        6: (3e9, GOOD),
        7: (25.0, GOOD),
        8: (-40.0, GOOD),
        9: (1.0, GOOD),
        10: (0.0, GOOD),
        11: (1.0, GOOD),
    }
    assert batch.ts.tolist() == [T0] * 11
    assert len(poller.plan.blocks) == 4  # one request per table
    assert poller.stats.failures == 0


async def test_device_word_order_applies_to_tags_without_their_own(
    modbus_server: ModbusTestServer,
) -> None:
    put(modbus_server, HR, 20, DataType.FLOAT32, 3.0, LITTLE)
    put(modbus_server, HR, 22, DataType.FLOAT32, 4.0, BIG)
    points = [
        point(1, HR, 20, DataType.FLOAT32),
        point(2, HR, 22, DataType.FLOAT32, word_order=BIG),
    ]
    poller = ModbusPoller(device(modbus_server.port, word_order="little"), points)
    assert as_dict(await poller.poll_once(T0)) == {1: (3.0, GOOD), 2: (4.0, GOOD)}
    await poller.close()


async def test_values_outside_the_range_are_uncertain(modbus_server: ModbusTestServer) -> None:
    points = [point(i, HR, i, range=(0.0, 100.0)) for i in range(3)]
    for address, value in enumerate([50, 101, -1]):
        put(modbus_server, HR, address, DataType.INT16, value)
    poller = ModbusPoller(device(modbus_server.port), points)
    got = as_dict(await poller.poll_once(T0))
    await poller.close()
    assert got == {0: (50.0, GOOD), 1: (101.0, UNCERTAIN), 2: (-1.0, UNCERTAIN)}


async def test_nan_and_infinite_floats_are_bad(modbus_server: ModbusTestServer) -> None:
    values = [float("nan"), float("inf"), -float("inf"), 7.5]
    for i, value in enumerate(values):
        put(modbus_server, HR, 2 * i, DataType.FLOAT32, value)
    points = [point(i, HR, 2 * i, DataType.FLOAT32, range=(0.0, 100.0)) for i in range(4)]
    poller = ModbusPoller(device(modbus_server.port), points)
    batch = await poller.poll_once(T0)
    await poller.close()
    assert batch.quality.tolist() == [BAD, BAD, BAD, GOOD]
    assert np.isnan(batch.values[:3]).all()
    assert batch.values[3] == 7.5


async def test_deadband_stores_only_moves_beyond_it_or_quality_changes(
    modbus_server: ModbusTestServer,
) -> None:
    s = modbus_server
    poller = ModbusPoller(
        device(s.port),
        [point(1, HR, 0, deadband=5.0, range=(0.0, 100.0)), point(2, HR, 1)],  # 2 has none
    )
    stored = []
    for value in [10, 14, 18, 16, 120, 120, 95]:
        put(s, HR, 0, DataType.INT16, value)
        batch = await poller.poll_once(T0)
        stored.append(as_dict(batch).get(1))
        assert 2 in as_dict(batch)  # no deadband: every poll is stored
    await poller.close()
    # 14 is within 5 of 10; 18 moved 8 from the stored 10; 16 within 5 of 18;
    # 120 moved and went uncertain; the repeat is suppressed; 95 came back good.
    assert stored == [
        (10.0, GOOD),
        None,
        (18.0, GOOD),
        None,
        (120.0, UNCERTAIN),
        None,
        (95.0, GOOD),
    ]


async def test_exception_response_fails_only_its_block(
    modbus_server: ModbusTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    put(modbus_server, HR, 0, DataType.INT16, 7)
    past_end = REGISTERS + 50
    poller = ModbusPoller(
        device(modbus_server.port), [point(1, HR, 0), point(2, HR, past_end, DataType.FLOAT32)]
    )
    for _ in range(3):
        got = as_dict(await poller.poll_once(T0))
        assert got[1] == (7.0, GOOD)
        assert np.isnan(got[2][0])
        assert got[2][1] == BAD
    assert poller.stats.connected
    assert poller.stats.failures == 3
    error = poller.stats.last_error or ""
    assert "Modbus exception 2 (illegal data address)" in error
    assert "function 0x03" in error
    assert f"holding {past_end}..{past_end + 1}" in error
    assert [r.outcome for r in poller.recent()[-2:]] == ["ok", error]
    warnings = [r for r in caplog.records if "illegal data address" in r.getMessage()]
    assert len(warnings) == 1  # logged once, not every poll
    await poller.close()


async def test_stopped_server_gives_bad_samples_and_recovery_after_restart(
    modbus_server: ModbusTestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    put(modbus_server, HR, 0, DataType.INT16, 42)
    poller = ModbusPoller(
        device(modbus_server.port), [point(1, HR, 0), point(2, CO, 0, DataType.BOOL)]
    )
    assert as_dict(await poller.poll_once(T0))[1] == (42.0, GOOD)

    await modbus_server.stop()
    for n in range(6):
        batch = await poller.poll_once(T0 + n, retry_now=n % 2 == 0)  # some reconnect tries
        assert batch.quality.tolist() == [BAD, BAD]
        assert np.isnan(batch.values).all()
        assert batch.ts.tolist() == [T0 + n] * 2
    assert not poller.stats.connected
    assert poller.stats.consecutive_failures == 6
    assert "cannot connect" in (poller.stats.last_error or "")

    await modbus_server.start()  # same port
    assert as_dict(await poller.poll_once(T0 + 10, retry_now=True))[1] == (42.0, GOOD)
    assert poller.stats.connected
    assert poller.stats.consecutive_failures == 0
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert [m for m in messages if "down" in m] == [
        f"device plc down: cannot connect to 127.0.0.1:{modbus_server.port} "
        "(refused or unreachable)"
    ]
    assert [m for m in messages if "recovered" in m] == ["device plc recovered after 6 polls"]
    await poller.close()


async def test_while_backing_off_polls_return_bad_without_network_io() -> None:
    poller = ModbusPoller(device(free_port(), poll_interval_s=10.0), [point(1, HR, 0)])
    await poller.poll_once(T0)
    attempts = len(poller.recent())
    started = time.perf_counter()
    for _ in range(100):
        batch = await poller.poll_once(T0)
        assert batch.quality.tolist() == [BAD]
    assert time.perf_counter() - started < 0.5
    assert len(poller.recent()) == attempts  # no connection attempt during the back-off
    await poller.poll_once(T0, retry_now=True)
    assert len(poller.recent()) == attempts + 1
    assert poller.stats.polls == 102
    assert poller.stats.failures == 102


async def test_reconnect_back_off_grows_and_is_capped() -> None:
    poller = ModbusPoller(
        device(free_port(), poll_interval_s=0.05), [point(1, HR, 0)], max_backoff_s=0.2
    )
    deadline = time.perf_counter() + 1.0
    while time.perf_counter() < deadline:
        await poller.poll_once(T0)
        await asyncio.sleep(0.01)
    attempts = sum(r.request.startswith("connect") for r in poller.recent())
    # Retries after ~0.05, 0.1, 0.2, 0.2 ... s: about 7 in a second, not one per poll.
    assert 4 <= attempts <= 12, attempts
    assert poller.stats.polls > 3 * attempts


async def test_a_device_that_never_answers_times_out(silent_server: SilentServer) -> None:
    poller = ModbusPoller(device(silent_server.port, timeout_s=0.2), [point(1, HR, 0)])
    started = time.perf_counter()
    batch = await poller.poll_once(T0)
    elapsed = time.perf_counter() - started
    assert batch.quality.tolist() == [BAD]
    assert 0.15 < elapsed < 1.0
    assert "no answer to read holding 0..0 within 0.2 s" in (poller.stats.last_error or "")
    assert not poller.stats.connected
    await poller.close()


async def test_a_dead_device_never_delays_a_healthy_one(
    modbus_server: ModbusTestServer, silent_server: SilentServer
) -> None:
    interval, window = 0.1, 3.0
    healthy = ModbusPoller(device(modbus_server.port, poll_interval_s=interval), [point(1, HR, 0)])
    refused = ModbusPoller(
        ModbusTcpDevice(name="refused", port=free_port(), poll_interval_s=interval, timeout_s=0.5),
        [point(2, HR, 0)],
    )
    hung = ModbusPoller(
        ModbusTcpDevice(
            name="hung", port=silent_server.port, poll_interval_s=interval, timeout_s=0.5
        ),
        [point(3, HR, 0)],
        max_backoff_s=0.2,  # retry often, so it keeps hanging on timeouts
    )
    seen: dict[int, list[float]] = {1: [], 2: [], 3: []}

    async def publish(batch: SampleBatch) -> None:
        for tag_id in batch.tag_ids.tolist():
            seen[tag_id].append(time.perf_counter())

    stop = asyncio.Event()
    runner = asyncio.create_task(run_pollers([healthy, refused, hung], publish, stop))
    await asyncio.sleep(window)
    stop.set()
    await asyncio.wait_for(runner, timeout=2.0)

    expected = window / interval
    assert len(seen[1]) >= 0.8 * expected, f"healthy poller ran {len(seen[1])} of {expected}"
    gaps = np.diff(seen[1])
    assert np.mean(gaps < interval + 0.05) >= 0.9, f"healthy poll gaps: {gaps.round(3)}"
    assert healthy.stats.failures == 0
    assert seen[2] and seen[3]  # the dead ones still published (BAD) samples
    assert "within 0.5 s" in (hung.stats.last_error or "")
    assert hung.stats.polls < healthy.stats.polls
    assert not any(p.stats.connected for p in (healthy, refused, hung))  # run() closes


async def test_run_keeps_a_fixed_schedule_and_stamps_the_clock(
    modbus_server: ModbusTestServer,
) -> None:
    poller = ModbusPoller(device(modbus_server.port, poll_interval_s=0.05), [point(1, HR, 0)])
    ticks = iter(range(T0, T0 + 10_000))
    batches: list[SampleBatch] = []
    stop = asyncio.Event()

    async def publish(batch: SampleBatch) -> None:
        batches.append(batch)
        if len(batches) == 5:
            stop.set()

    await asyncio.wait_for(poller.run(publish, stop, clock=lambda: next(ticks)), timeout=5.0)
    assert [b.ts.tolist() for b in batches] == [[T0 + i] for i in range(5)]


def test_next_slot_skips_missed_slots_instead_of_bursting() -> None:
    assert next_slot(10.0, 1.0, 10.5) == (11.0, 0)
    assert next_slot(10.0, 1.0, 13.2) == (14.0, 3)
    assert next_slot(10.0, 1.0, 11.0) == (12.0, 1)


SITE = site_yaml(
    None,
    name="plant",
    cells=[
        Cell(
            "a",
            "l",
            "c",
            (
                Equipment(
                    "press",
                    ("{name: force, modbus: {table: holding, address: 0}}", "{name: note}"),
                    device="plc1",
                ),
                Equipment(
                    "oven",
                    (
                        "{name: temp, type: int16, modbus: {table: input, address: 3}}",
                        "{name: door, type: bool, modbus: {table: coil, address: 1}}",
                    ),
                    device="plc2",
                ),
                Equipment("manual", ("{name: count}",)),
            ),
        )
    ],
    devices=["{name: plc1, port: 5020}", "{name: plc2, port: 5021}", "{name: unused, port: 5022}"],
)


def test_build_pollers_one_per_device_with_its_points() -> None:
    site = parse_site(SITE)
    ids = {ref.path: n for n, ref in enumerate(site.tags(), start=100)}
    pollers = build_pollers(site, ids)
    assert [(p.name, [pt.tag_id for pt in p.points]) for p in pollers] == [
        ("plc1", [100]),
        ("plc2", [102, 103]),
    ]
    assert pollers[1].device.port == 5021


def test_build_pollers_names_a_tag_without_id() -> None:
    site = parse_site(SITE)
    with pytest.raises(ConfigError, match="tag plant/a/l/c/oven/door has a Modbus address"):
        build_pollers(site, {"plant/a/l/c/press/force": 1, "plant/a/l/c/oven/temp": 2})
