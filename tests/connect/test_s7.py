"""The S7 poller against python-snap7's own S7 server on a free local port."""

import asyncio
import logging
import time
from collections.abc import AsyncIterator

import numpy as np
import pytest
from snap7.server import Server
from snap7.type import SrvArea

from factoryos.connect.errors import CodecError, ConfigError, WriteError
from factoryos.connect.polling import run_all
from factoryos.connect.s7 import S7Poller, build_s7_drivers
from factoryos.model.devices import S7Device
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.model.tags import DataType, S7Area
from support.modbus_server import SilentServer
from support.ports import free_port
from support.sites import Cell, Equipment, site_yaml

from .test_s7_plan import s7_point

LOGGER = "factoryos.connect.s7"
T0 = 1_700_000_000_000_000_000
GOOD, UNCERTAIN, BAD = Quality.GOOD, Quality.UNCERTAIN, Quality.BAD
DB, M, I, Q = S7Area.DB, S7Area.M, S7Area.I, S7Area.Q  # noqa: E741 — S7's own area names
_SRV = {DB: SrvArea.DB, M: SrvArea.MK, I: SrvArea.PE, Q: SrvArea.PA}


class S7TestServer:
    """snap7's server on 127.0.0.1 over byte arrays the test reads and writes:
    DB1 (64 bytes), DB2 (16), and 8 bytes each of M, I and Q."""

    def __init__(self) -> None:
        self.port = free_port()
        self.memory = {(DB, 1): bytearray(64), (DB, 2): bytearray(16)}
        self.memory |= {(area, 0): bytearray(8) for area in (M, I, Q)}
        self._server = Server(log=False)
        for (area, db), data in self.memory.items():
            self._server.register_area(_SRV[area], db, data)

    def start(self) -> None:
        self._server.start_to("127.0.0.1", self.port)

    async def stop(self) -> None:
        await asyncio.to_thread(self._server.stop)

    def put(self, area: S7Area, db: int, offset: int, hex_bytes: str) -> None:
        data = bytes.fromhex(hex_bytes)
        self.memory[(area, db)][offset : offset + len(data)] = data

    def get(self, area: S7Area, db: int, offset: int, size: int) -> str:
        return self.memory[(area, db)][offset : offset + size].hex().upper()


@pytest.fixture
async def plc() -> AsyncIterator[S7TestServer]:
    server = S7TestServer()
    server.start()
    yield server
    await server.stop()


def device(port: int, **fields: object) -> S7Device:
    settings = {"name": "plc", "protocol": "s7", "port": port, "timeout_s": 0.5, **fields}
    return S7Device.model_validate(settings)


def as_dict(batch: SampleBatch) -> dict[int, tuple[float, int]]:
    return {
        int(t): (float(v), int(q))
        for t, v, q in zip(batch.tag_ids, batch.values, batch.quality, strict=True)
    }


async def test_every_type_and_area_decodes_and_scales(plc: S7TestServer) -> None:
    plc.put(DB, 1, 0, "3F800000")  # REAL 1.0
    plc.put(DB, 1, 4, "FFFE")  # INT -2
    plc.put(DB, 1, 6, "FFFE")  # WORD 65534
    plc.put(DB, 1, 8, "FFFE7960")  # DINT -100000
    plc.put(DB, 1, 12, "B2D05E00")  # DWORD 3e9
    plc.put(DB, 1, 16, "00FA")  # INT 250, scale 0.1 -> 25.0
    plc.put(DB, 2, 0, "C2480000")  # REAL -50.0, offset +10 -> -40.0
    plc.put(M, 0, 1, "04")  # M1.2
    plc.put(I, 0, 0, "0102")  # IW0 = 258
    plc.put(Q, 0, 3, "7F")  # Q3.7 clear, Q3.0 set
    points = [
        s7_point(1, DB, 0, DataType.FLOAT32, db=1),
        s7_point(2, DB, 4, DataType.INT16, db=1),
        s7_point(3, DB, 6, DataType.UINT16, db=1),
        s7_point(4, DB, 8, DataType.INT32, db=1),
        s7_point(5, DB, 12, DataType.UINT32, db=1),
        s7_point(6, DB, 16, DataType.INT16, db=1, scale=0.1),
        s7_point(7, DB, 0, DataType.FLOAT32, db=2, offset=10.0),
        s7_point(8, M, 1, DataType.BOOL, bit=2),
        s7_point(9, M, 1, DataType.BOOL, bit=3),
        s7_point(10, I, 0, DataType.UINT16),
        s7_point(11, Q, 3, DataType.BOOL, bit=7),
        s7_point(12, Q, 3, DataType.BOOL, bit=0),
    ]
    poller = S7Poller(device(plc.port), points)
    batch = await poller.poll_once(T0)
    await poller.close()
    got = as_dict(batch)
    assert got.pop(6)[0] == pytest.approx(25.0)
    assert got == {
        1: (1.0, GOOD),
        2: (-2.0, GOOD),
        3: (65534.0, GOOD),
        4: (-100000.0, GOOD),
        5: (3e9, GOOD),
        7: (-40.0, GOOD),
        8: (1.0, GOOD),
        9: (0.0, GOOD),
        10: (258.0, GOOD),
        11: (0.0, GOOD),
        12: (1.0, GOOD),
    }
    assert batch.ts.tolist() == [T0] * 12
    assert len(poller.plan.blocks) == 5  # one read per data block and area
    assert [r.request for r in poller.recent()][:2] == [
        f"connect 127.0.0.1:{plc.port} rack 0 slot 1",
        "read DB1 bytes 0..17",
    ]
    assert poller.stats.failures == 0


async def test_values_outside_the_range_are_uncertain(plc: S7TestServer) -> None:
    points = [s7_point(i, DB, 2 * i, db=1, range=(0.0, 100.0)) for i in range(3)]
    plc.put(DB, 1, 0, "0032 0065 FFFF")  # 50, 101, -1
    poller = S7Poller(device(plc.port), points)
    got = as_dict(await poller.poll_once(T0))
    await poller.close()
    assert got == {0: (50.0, GOOD), 1: (101.0, UNCERTAIN), 2: (-1.0, UNCERTAIN)}


async def test_deadband_stores_only_moves_beyond_it_or_quality_changes(
    plc: S7TestServer,
) -> None:
    poller = S7Poller(
        device(plc.port),
        [s7_point(1, DB, 0, db=1, deadband=5.0, range=(0.0, 100.0)), s7_point(2, DB, 2, db=1)],
    )
    stored = []
    for value in [10, 14, 18, 16, 120, 120, 95]:
        plc.put(DB, 1, 0, f"{value:04X}")
        batch = await poller.poll_once(T0)
        stored.append(as_dict(batch).get(1))
        assert 2 in as_dict(batch)  # no deadband: every poll is stored
    await poller.close()
    assert stored == [
        (10.0, GOOD),
        None,
        (18.0, GOOD),
        None,
        (120.0, UNCERTAIN),
        None,
        (95.0, GOOD),
    ]


async def test_a_refused_block_fails_alone_and_is_logged_once(
    plc: S7TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    plc.put(DB, 1, 0, "0007")
    points = [
        s7_point(1, DB, 0, db=1),
        s7_point(2, DB, 0, DataType.FLOAT32, db=99),  # no such data block
        s7_point(3, DB, 62, DataType.FLOAT32, db=2),  # past the end of DB2
    ]
    poller = S7Poller(device(plc.port), points)
    for _ in range(3):
        got = as_dict(await poller.poll_once(T0))
        assert got[1] == (7.0, GOOD)
        assert np.isnan(got[2][0]) and np.isnan(got[3][0])
        assert got[2][1] == got[3][1] == BAD
    await poller.close()
    assert poller.stats.failures == 3
    assert "read DB99 bytes 0..3 refused" in (poller.stats.last_error or "")
    assert "does not exist" in (poller.stats.last_error or "")
    warnings = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len(warnings) == 2, warnings  # one per refused block, not one per poll
    assert any("DB2 bytes 62..65 refused" in w and "Invalid address" in w for w in warnings)


async def test_write_back_round_trip(plc: S7TestServer) -> None:
    points = [
        s7_point(1, DB, 0, DataType.FLOAT32, db=1, writable=True, range=(0.0, 500.0)),
        s7_point(2, DB, 4, DataType.INT16, db=1, writable=True, scale=0.1),
        s7_point(3, DB, 6, DataType.UINT32, db=1, writable=True),
        s7_point(4, M, 2, DataType.BOOL, bit=5, writable=True),
        s7_point(5, DB, 10, DataType.INT16, db=1),  # read-only
    ]
    plc.put(M, 0, 2, "81")  # bits 0 and 7 set: a bit write must keep them
    poller = S7Poller(device(plc.port), points)
    assert await poller.write(1, 123.5) == 123.5
    assert await poller.write(2, 23.47) == pytest.approx(23.5)  # INT 235: nearest
    assert await poller.write(3, 4_000_000_000) == 4e9
    assert await poller.write(4, 1) == 1.0
    assert plc.get(DB, 1, 0, 10) == "42F70000" + "00EB" + "EE6B2800"
    assert plc.get(M, 0, 2, 1) == "A1"
    got = as_dict(await poller.poll_once(T0))
    assert got[1] == (123.5, GOOD)
    assert got[2][0] == pytest.approx(23.5)
    assert (got[3], got[4]) == ((4e9, GOOD), (1.0, GOOD))
    assert await poller.write(4, 0) == 0.0
    assert plc.get(M, 0, 2, 1) == "81"
    assert [r.request for r in poller.recent()[-2:]] == ["read M bytes 2..2", "write M bytes 2..2"]
    await poller.close()


@pytest.mark.parametrize(
    ("tag_id", "value", "error", "match"),
    [
        (5, 1.0, WriteError, "tag t5 is not writable"),
        (42, 1.0, WriteError, "no tag with id 42"),
        (1, 600.0, WriteError, r"600.0 is outside its range 0.0..500.0"),
        (1, float("nan"), WriteError, "cannot write nan"),
        (2, 4000.0, CodecError, "does not fit int16"),
        (3, -1.0, CodecError, "does not fit uint32"),
        (4, 0.5, WriteError, "a bool takes 0 or 1"),
    ],
)
async def test_refused_writes_change_nothing(
    plc: S7TestServer, tag_id: int, value: float, error: type[Exception], match: str
) -> None:
    points = [
        s7_point(1, DB, 0, DataType.FLOAT32, db=1, writable=True, range=(0.0, 500.0)),
        s7_point(2, DB, 4, DataType.INT16, db=1, writable=True, scale=0.1),
        s7_point(3, DB, 6, DataType.UINT32, db=1, writable=True),
        s7_point(4, M, 2, DataType.BOOL, bit=5, writable=True),
        s7_point(5, DB, 10, DataType.INT16, db=1),
    ]
    before = {key: bytes(data) for key, data in plc.memory.items()}
    poller = S7Poller(device(plc.port), points)
    with pytest.raises(error, match=match):
        await poller.write(tag_id, value)
    await poller.close()
    assert {key: bytes(data) for key, data in plc.memory.items()} == before
    assert poller.recent() == []  # refused before touching the network


async def test_stopped_server_gives_bad_and_recovers_after_restart(
    plc: S7TestServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger=LOGGER)
    plc.put(DB, 1, 0, "002A")
    poller = S7Poller(
        device(plc.port), [s7_point(1, DB, 0, db=1), s7_point(2, M, 0, DataType.BOOL, bit=0)]
    )
    assert as_dict(await poller.poll_once(T0))[1] == (42.0, GOOD)
    await poller.close()  # snap7's server waits for idle clients on stop
    await plc.stop()
    for n in range(4):
        batch = await poller.poll_once(T0 + n, retry_now=n % 2 == 0)
        assert batch.quality.tolist() == [BAD, BAD]
        assert np.isnan(batch.values).all()
    assert not poller.stats.connected
    assert poller.stats.consecutive_failures == 4
    assert "cannot connect to 127.0.0.1" in (poller.stats.last_error or "")
    plc.start()  # same port
    assert as_dict(await poller.poll_once(T0 + 10, retry_now=True))[1] == (42.0, GOOD)
    assert poller.stats.connected
    await poller.close()
    messages = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    assert len([m for m in messages if " down: " in m]) == 1
    assert [m for m in messages if "recovered" in m] == ["device plc recovered after 4 polls"]


async def test_a_plc_that_never_answers_times_out() -> None:
    silent = SilentServer()
    await silent.start()
    poller = S7Poller(device(silent.port, timeout_s=0.2), [s7_point(1, DB, 0, db=1)])
    started = time.perf_counter()
    batch = await poller.poll_once(T0)
    elapsed = time.perf_counter() - started
    await poller.close()
    await silent.stop()
    assert batch.quality.tolist() == [BAD]
    assert 0.15 < elapsed < 1.5
    assert "no answer within 0.2 s" in (poller.stats.last_error or "")


async def test_a_dead_plc_never_delays_a_healthy_one(plc: S7TestServer) -> None:
    silent = SilentServer()
    await silent.start()
    interval, window = 0.1, 2.0
    healthy = S7Poller(device(plc.port, poll_interval_s=interval), [s7_point(1, DB, 0, db=1)])
    refused = S7Poller(
        device(free_port(), name="refused", poll_interval_s=interval), [s7_point(2, DB, 0, db=1)]
    )
    hung = S7Poller(
        device(silent.port, name="hung", poll_interval_s=interval),
        [s7_point(3, DB, 0, db=1)],
        max_backoff_s=0.2,  # retry often, so it keeps hanging on timeouts
    )
    seen: dict[int, list[float]] = {1: [], 2: [], 3: []}

    async def publish(batch: SampleBatch) -> None:
        for tag_id in batch.tag_ids.tolist():
            seen[tag_id].append(time.perf_counter())

    stop = asyncio.Event()
    runner = asyncio.create_task(run_all([healthy, refused, hung], publish, stop))
    await asyncio.sleep(window)
    stop.set()
    await asyncio.wait_for(runner, timeout=2.0)
    await silent.stop()

    expected = window / interval
    assert len(seen[1]) >= 0.8 * expected, f"healthy poller ran {len(seen[1])} of {expected}"
    gaps = np.diff(seen[1])
    assert np.mean(gaps < interval + 0.05) >= 0.9, f"healthy poll gaps: {gaps.round(3)}"
    assert healthy.stats.failures == 0
    assert seen[2] and seen[3]  # the dead ones still published (BAD) samples
    assert "within 0.5 s" in (hung.stats.last_error or "")
    assert not any(p.stats.connected for p in (healthy, refused, hung))  # run() closes


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
                    ("{name: force, s7: {db: 1, offset: 0}}", "{name: note}"),
                    device="plc1",
                ),
                Equipment(
                    "oven",
                    (
                        "{name: temp, type: int16, s7: {area: I, offset: 2}}",
                        "{name: door, type: bool, s7: {area: Q, offset: 0, bit: 1}}",
                    ),
                    device="plc2",
                ),
            ),
        )
    ],
    devices=[
        "{name: plc1, protocol: s7, port: 1102}",
        "{name: plc2, protocol: s7, port: 1103, rack: 0, slot: 2}",
        "{name: plc3, protocol: s7}",
    ],
)


def test_build_s7_drivers_makes_one_poller_per_device_with_s7_tags() -> None:
    site = parse_site(SITE)
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    pollers = build_s7_drivers(site, ids)
    assert [(p.name, p.device.port, p.device.slot) for p in pollers] == [
        ("plc1", 1102, 1),
        ("plc2", 1103, 2),
    ]
    assert [[pt.tag.name for pt in p.points] for p in pollers] == [["force"], ["temp", "door"]]
    with pytest.raises(ConfigError, match="tag plant/a/l/c/press/force has an S7 address"):
        build_s7_drivers(site, {})
