"""The MQTT bridge end to end on the real services: plain JSON publishers (paho-mqtt) → the
shared Mosquitto at 127.0.0.1:1883 → ``factoryos edge`` with MQTT devices and a NATS uplink
(the bridge, with its outbox) → the shared JetStream at 127.0.0.1:4222 → ``factoryos ingest``
→ DuckDB.

Both commands run as real subprocesses, as they are deployed. Each test has its own topic
prefix, site name (so its own subject) and stream, and removes its stream and its retained
messages. The store must hold every good sample exactly once with its value, timestamp and
quality, and nothing of the bad payloads, which the bridge reports in its log instead.
"""

import asyncio
import contextlib
import json
import math
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import nats
import nats.js.errors
import paho.mqtt.client as paho
import pytest
import yaml
from nats.js import JetStreamContext

from factoryos.bus.codec import decode_batch
from factoryos.bus.nats import ingest_subject
from factoryos.model import Quality, parse_site
from factoryos.store.catalog import Catalog
from factoryos.store.duckdb_store import DuckDBStore
from support.ports import free_port

HOST = "127.0.0.1"
MQTT_PORT, NATS_PORT = 1883, 4222
NATS_URL = f"nats://{HOST}:{NATS_PORT}"
FACTORYOS = Path(sys.executable).parent / "factoryos"
DURABLE = "bridge-workers"
WAIT_S = 20.0
GOOD, UNCERTAIN, BAD = int(Quality.GOOD), int(Quality.UNCERTAIN), int(Quality.BAD)
T0_MS = 1_795_507_200_000  # 2026-11-24T08:00:00Z
TOPICS = 3  # force, status (two tags), power

SITE_YAML = """\
site:
  name: SITE
  areas:
    - name: pressing
      lines:
        - name: line1
          cells:
            - name: cell1
              equipment:
                - name: press-01
                  device: plant-broker
                  tags:
                    - name: force_kn
                      unit: kN
                      range: [0, 500]
                      mqtt: {value: $.v, timestamp: $.ts}
                - name: cnc-01
                  device: plant-broker
                  tags:
                    - name: spindle_rpm
                      unit: rpm
                      mqtt:
                        topic: PREFIX/cnc-01/status
                        value: $.spindle.rpm
                        timestamp: $.ts
                        quality: $.q
                    - name: running
                      type: bool
                      mqtt: {topic: PREFIX/cnc-01/status, value: $.state.running, timestamp: $.ts}
                - name: meter-01
                  device: plant-broker
                  tags:
                    - {name: power_kw, unit: kW, scale: 0.001, mqtt: {quality: $.quality}}
devices:
  - name: plant-broker
    protocol: mqtt
    host: 127.0.0.1
    port: 1883
    qos: 1
    topic_template: "PREFIX/{area}/{equipment}/{tag}"
"""


def _reachable(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((HOST, port)) == 0


@dataclass
class Bridge:
    """One test's names and files: site, stream, topics, config, store, catalog."""

    tmp: Path
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])

    @property
    def site(self) -> str:
        return f"bridge-{self.tag}"

    @property
    def stream(self) -> str:
        return f"TEST_BRIDGE_{self.tag.upper()}"

    @property
    def prefix(self) -> str:
        return f"factoryos-test/{self.tag}"

    def path(self, equipment: str, tag: str) -> str:
        return f"{self.site}/pressing/line1/cell1/{equipment}/{tag}"

    @property
    def force(self) -> str:
        return f"{self.prefix}/pressing/press-01/force_kn"

    @property
    def status(self) -> str:
        return f"{self.prefix}/cnc-01/status"

    @property
    def power(self) -> str:
        return f"{self.prefix}/pressing/meter-01/power_kw"

    @property
    def site_file(self) -> Path:
        return self.tmp / "site.yaml"

    @property
    def gateway_config(self) -> Path:
        return self.tmp / "gateway.yaml"

    @property
    def outbox(self) -> Path:
        return self.tmp / "state" / "bridge.outbox"

    @property
    def store(self) -> Path:
        return self.tmp / "ingest.duckdb"

    @property
    def catalog(self) -> str:
        return f"sqlite:///{self.tmp / 'catalog.sqlite'}"

    def write_files(self) -> None:
        text = SITE_YAML.replace("SITE", self.site).replace("PREFIX", self.prefix)
        parse_site(text)  # the file the bridge and the worker read is valid
        self.site_file.write_text(text)
        self.write_config(NATS_URL)

    def write_config(self, nats_url: str) -> None:
        config = {
            "gateway": "mqtt-bridge",
            "site_file": "site.yaml",
            "outbox": {"path": "state/bridge.outbox", "max_mb": 16},
            "uplink": {"kind": "nats", "url": nats_url, "stream": self.stream, "timeout_s": 1},
            "drain_timeout_s": 0,  # a stop leaves what is unsent on disk, for the next start
        }
        self.gateway_config.write_text(yaml.safe_dump(config))


@pytest.fixture
async def bridge(tmp_path: Path) -> AsyncIterator[Bridge]:
    """Files for one bridge, and its stream (capturing only its site's subject)."""
    for name, port in (("MQTT broker", MQTT_PORT), ("NATS", NATS_PORT)):
        if not _reachable(port):
            pytest.skip(f"no {name} at {HOST}:{port}")
    b = Bridge(tmp_path)
    b.write_files()
    nc = await nats.connect(NATS_URL)
    try:
        await nc.jetstream().add_stream(name=b.stream, subjects=[ingest_subject(b.site)])
        yield b
    finally:
        with contextlib.suppress(nats.js.errors.NotFoundError):
            await nc.jetstream().delete_stream(b.stream)
        await nc.close()


# -- the publishers --------------------------------------------------------------------

Key = tuple[str, int]  # (UNS path, ts ns)
Sample = tuple[float | None, int]  # (value, None for NaN; quality)


@dataclass
class Traffic:
    """Messages to publish, the samples they must give, and the problems they must raise."""

    messages: list[tuple[str, bytes, bool]] = field(default_factory=list)  # topic, payload, retain
    expected: dict[Key, Sample] = field(default_factory=dict)
    problems: set[tuple[str, str]] = field(default_factory=set)  # (topic, reason)
    bad_ts: set[Key] = field(default_factory=set)  # times that only bad payloads carried

    def add(self, topic: str, payload: object, *, retain: bool = False) -> None:
        data = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        self.messages.append((topic, data, retain))

    @property
    def newest_ns(self) -> int:
        return max(ts for _, ts in self.expected)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def traffic(b: Bridge, first: int, last: int, *, retain_last: bool = False) -> Traffic:
    """Messages ``first`` … ``last - 1`` on the three topics, every fifth with bad payloads."""
    t = Traffic()
    force, rpm = b.path("press-01", "force_kn"), b.path("cnc-01", "spindle_rpm")
    running, power = b.path("cnc-01", "running"), b.path("meter-01", "power_kw")
    for i in range(first, last):
        ms = T0_MS + i * 100
        # One tag per topic, custom paths; 650 is outside the range [0, 500]: UNCERTAIN.
        v = 650.0 if i % 10 == 7 else 10.0 + i
        t.add(b.force, {"v": v, "ts": ms}, retain=retain_last and i == last - 1)
        t.expected[(force, ms * 10**6)] = (v, UNCERTAIN if v > 500 else GOOD)
        # Two tags reading one topic; a batch of two readings; OPC UA StatusCodes.
        q = [0, 0x40000000, 0x80000000][i % 3]
        batch = [
            {"ts": ms + k * 50, "spindle": {"rpm": 1000 + i}, "state": {"running": k == 0}, "q": q}
            for k in range(2)
        ]
        t.add(b.status, batch)
        for k in range(2):
            rpm_q = [GOOD, UNCERTAIN, BAD][i % 3]
            t.expected[(rpm, (ms + k * 50) * 10**6)] = (
                None if rpm_q == BAD else float(1000 + i),
                rpm_q,
            )
            t.expected[(running, (ms + k * 50) * 10**6)] = (1.0 if k == 0 else 0.0, GOOD)
        # Default paths, ISO time text, scaled W → kW; null is "no value": BAD.
        watts = None if i % 9 == 4 else 4000 + 10 * i
        quality = "uncertain" if i % 4 == 1 else "good"
        t.add(b.power, {"value": watts, "timestamp": _iso(ms), "quality": quality, "unit": "W"})
        t.expected[(power, ms * 10**6)] = (
            (None, BAD)
            if watts is None
            else (watts * 0.001, GOOD if quality == "good" else UNCERTAIN)
        )
        if i % 5 == 2:
            _add_bad(t, b, ms)
    return t


def _add_bad(t: Traffic, b: Bridge, ms: int) -> None:
    """Bad payloads on every topic, around message time ``ms``."""
    bad_ms = ms + 7  # no good message has this time
    force, running = b.path("press-01", "force_kn"), b.path("cnc-01", "running")
    power = b.path("meter-01", "power_kw")
    t.add(b.force, b"{not json")
    t.add(b.force, {"v": "12.5", "ts": bad_ms})  # a number in quotes
    t.add(b.force, {"value": 3.0, "ts": bad_ms})  # no $.v
    t.add(b.power, b'{"value": NaN, "timestamp": "' + _iso(bad_ms).encode() + b'"}')
    t.add(b.power, {"value": 1000, "timestamp": "yesterday"})
    # One bad element spoils only itself; one bad field only its own tag.
    t.add(b.status, [7, {"ts": bad_ms, "spindle": {"rpm": 1}, "state": {"running": "yes"}}])
    rpm = b.path("cnc-01", "spindle_rpm")
    t.expected[(rpm, bad_ms * 10**6)] = (1.0, GOOD)
    t.bad_ts |= {(force, bad_ms * 10**6), (power, bad_ms * 10**6), (running, bad_ms * 10**6)}
    t.problems |= {
        (b.force, "not_json"),
        (b.force, "wrong_type"),
        (b.force, "missing"),
        (b.power, "not_json"),
        (b.power, "bad_time"),
        (b.status, "not_object"),
        (b.status, "wrong_type"),
    }


@contextlib.contextmanager
def publisher() -> Iterator[paho.Client]:
    """A plain paho-mqtt client, as a PLC gateway or a Node-RED flow would use."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv311)
    up = threading.Event()
    client.on_connect = lambda *_: up.set()
    client.connect(HOST, MQTT_PORT, keepalive=10)
    client.loop_start()
    try:
        assert up.wait(5), "publisher: no CONNACK"
        yield client
    finally:
        client.disconnect()
        client.loop_stop()


def publish(messages: list[tuple[str, bytes, bool]]) -> None:
    """Publish with QoS 1, in order, each acknowledged by the broker."""
    with publisher() as client:
        for topic, payload, retain in messages:
            info = client.publish(topic, payload, qos=1, retain=retain)
            info.wait_for_publish(5)
            assert info.is_published(), topic


def clear_retained(topics: list[str]) -> None:
    """Leave nothing retained on the shared broker."""
    publish([(topic, b"", True) for topic in topics])


# -- the processes ---------------------------------------------------------------------


def spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen([str(FACTORYOS), *args], stdout=out, stderr=subprocess.STDOUT)


def start_worker(b: Bridge) -> tuple[subprocess.Popen[bytes], Path]:
    log = b.tmp / "ingest.log"
    args = [
        "ingest", "--nats-url", NATS_URL, "--stream", b.stream, "--site", str(b.site_file),
        "--store", str(b.store), "--catalog", b.catalog, "--durable", DURABLE,
        "--batch", "16", "--ack-wait", "5",
    ]  # fmt: skip
    return spawn(args, log), log


def start_bridge(b: Bridge, life: int) -> tuple[subprocess.Popen[bytes], Path]:
    log = b.tmp / f"edge-{life}.log"
    return spawn(["edge", "--config", str(b.gateway_config)], log), log


def text(log: Path) -> str:
    return log.read_text()


async def logged(proc: subprocess.Popen[bytes], log: Path, line: str) -> None:
    """Until ``line`` is in the process's log (it says so when it is ready)."""
    async with asyncio.timeout(WAIT_S):
        while line not in text(log):
            assert proc.poll() is None, text(log)
            await asyncio.sleep(0.05)


async def stopped(proc: subprocess.Popen[bytes], log: Path) -> None:
    """SIGTERM, as a service manager stops it; it must exit cleanly."""
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.to_thread(proc.wait, WAIT_S) == 0, text(log)


def kill_all(*procs: subprocess.Popen[bytes]) -> None:
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


# -- what reached JetStream and the store ----------------------------------------------


@dataclass
class Stream:
    """The stream's messages as the bridge published them: outbox seqs and samples."""

    js: JetStreamContext
    name: str
    seqs: list[int] = field(default_factory=list)
    samples: list[tuple[str, int, float, int]] = field(default_factory=list)

    async def read(self) -> None:
        last = (await self.js.stream_info(self.name)).state.last_seq
        for stream_seq in range(len(self.seqs) + 1, last + 1):
            msg = await self.js.get_msg(self.name, stream_seq)
            header, batch = decode_batch(msg.data or b"")
            self.seqs.append(header.first_seq)
            self.samples += [
                (header.paths[i], ts, v, q)
                for i, ts, v, q in zip(
                    batch.tag_ids.tolist(),
                    batch.ts.tolist(),
                    batch.values.tolist(),
                    batch.quality.tolist(),
                    strict=True,
                )
            ]

    def keys(self) -> set[Key]:
        return {(path, ts) for path, ts, _, _ in self.samples}

    async def holds(self, keys: set[Key]) -> None:
        """Until every one of ``keys`` has reached the stream."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + WAIT_S
        await self.read()
        while missing := keys - self.keys():
            assert loop.time() < deadline, f"never in the stream: {sorted(missing)[:5]} …"
            await asyncio.sleep(0.05)
            await self.read()

    async def consumed(self) -> None:
        """Until the workers acked every message (they ack only what the store holds)."""
        async with asyncio.timeout(WAIT_S):
            while True:
                last = (await self.js.stream_info(self.name)).state.last_seq
                with contextlib.suppress(nats.js.errors.NotFoundError):
                    info = await self.js.consumer_info(self.name, DURABLE)
                    if info.ack_floor.stream_seq >= last and not info.num_ack_pending:
                        return
                await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def stream_of(b: Bridge) -> AsyncIterator[Stream]:
    nc = await nats.connect(NATS_URL)
    try:
        yield Stream(nc.jetstream(), b.stream)
    finally:
        await nc.close()


def stored(b: Bridge) -> dict[Key, list[Sample]]:
    """Every sample in the worker's DuckDB, by (path, ts): a list, so a double shows."""
    site = parse_site(b.site_file.read_text())
    catalog = Catalog(b.catalog)
    try:
        ids = catalog.register_site(site)  # idempotent: the ids the worker stored under
    finally:
        catalog.close()
    rows: dict[Key, list[Sample]] = {}
    with DuckDBStore(b.store) as store:
        for path, tag_id in ids.items():
            got = store.raw(tag_id, 0, 2**62)
            for ts, v, q in zip(
                got.ts.tolist(), got.values.tolist(), got.quality.tolist(), strict=True
            ):
                rows.setdefault((path, ts), []).append((None if math.isnan(v) else v, q))
        assert store.count() == sum(len(r) for r in rows.values())
    return rows


def warnings(log: Path) -> list[str]:
    return [line for line in log.read_text().splitlines() if " WARNING " in line]


def problems_logged(log: Path) -> set[tuple[str, str]]:
    """(topic, reason) of the bad-input warnings of the MQTT driver in the bridge's log; it
    logs each (topic, reason) once until the topic reads cleanly again."""
    found = set()
    for line in warnings(log):
        if " factoryos.connect.mqtt device " in line and " topic " in line:
            topic = line.split(" topic ", 1)[1].split(":", 1)[0]
            reason = line.rsplit("(", 1)[1].split(";", 1)[0]
            found.add((topic, reason))
    return found


# -- the tests ---------------------------------------------------------------------------


async def test_mqtt_json_reaches_the_store_through_jetstream_exactly_once(bridge: Bridge) -> None:
    b = bridge
    t = traffic(b, 0, 40)
    worker, worker_log = start_worker(b)
    edge, edge_log = start_bridge(b, 1)
    try:
        await logged(worker, worker_log, "consuming stream")
        await logged(edge, edge_log, f"subscribed to {TOPICS} topics")
        await asyncio.to_thread(publish, t.messages)
        async with stream_of(b) as stream:
            await stream.holds(set(t.expected))
            await stream.consumed()
            await stopped(edge, edge_log)
            await stopped(worker, worker_log)
            await stream.read()
    finally:
        kill_all(edge, worker)

    # On the wire: each outbox record once, in order, carrying exactly the expected samples.
    assert stream.seqs == list(range(1, len(stream.seqs) + 1))
    assert len(stream.samples) == len(t.expected)
    # In the store: every good sample once, with its value, time and quality; nothing else.
    rows = stored(b)
    assert rows == {key: [sample] for key, sample in t.expected.items()}
    assert not t.bad_ts & set(rows)
    # The bad payloads are reported by topic and reason, and nothing else is warned about.
    assert problems_logged(edge_log) == t.problems
    assert all(" factoryos.connect.mqtt device " in w for w in warnings(edge_log)), text(edge_log)
    assert not warnings(worker_log), text(worker_log)


def _outbox_state(path: Path) -> tuple[int, int | None, int]:
    """(last seq, high_ts, records pending) of the bridge's outbox, read as a third party."""
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        high = con.execute("SELECT value FROM meta WHERE key = 'high_ts'").fetchone()
        (pending,) = con.execute("SELECT COUNT(*) FROM records").fetchone()
    except sqlite3.OperationalError:  # not created yet
        return 0, None, 0
    finally:
        con.close()
    return (row[0] if row else 0), (high[0] if high else None), pending


async def durable_up_to(outbox: Path, ts_ns: int, proc: subprocess.Popen[bytes]) -> None:
    """Until the bridge made a sample at ``ts_ns`` durable (its outbox's newest time)."""
    async with asyncio.timeout(WAIT_S):
        while ((await asyncio.to_thread(_outbox_state, outbox))[1] or 0) < ts_ns:
            assert proc.poll() is None, "the bridge died"
            await asyncio.sleep(0.02)


async def life(b: Bridge, n: int, nats_url: str, t: Traffic) -> Path:
    """One life of the bridge: start, publish ``t``, stop as soon as its outbox holds it all
    (sent or not: with ``drain_timeout_s: 0`` a stop leaves the unsent on disk)."""
    b.write_config(nats_url)
    proc, log = start_bridge(b, n)
    try:
        await logged(proc, log, f"subscribed to {TOPICS} topics")
        await asyncio.to_thread(publish, t.messages)
        await durable_up_to(b.outbox, t.newest_ns, proc)
        await stopped(proc, log)
    finally:
        kill_all(proc)
    return log


async def test_a_restarted_bridge_loses_and_doubles_nothing(bridge: Bridge) -> None:
    """Three lives on one outbox: the first delivers as it goes; the second cannot reach
    NATS (it starts while NATS is down, so everything stays in its outbox) and is stopped;
    the third delivers what the second left, then its own. The first life's last force
    reading is retained, so the broker hands it to each new subscription again."""
    b = bridge
    lives = [traffic(b, 0, 20, retain_last=True), traffic(b, 20, 40), traffic(b, 40, 60)]
    nowhere = f"nats://{HOST}:{free_port()}"
    worker, worker_log = start_worker(b)
    try:
        await logged(worker, worker_log, "consuming stream")
        await life(b, 1, NATS_URL, lives[0])
        high_1 = _outbox_state(b.outbox)[1]
        log_2 = await life(b, 2, nowhere, lives[1])
        _, high_2, left_behind = _outbox_state(b.outbox)
        assert left_behind > 0 and "uplink down" in text(log_2)

        b.write_config(NATS_URL)
        edge, edge_log = start_bridge(b, 3)
        try:
            await logged(edge, edge_log, f"subscribed to {TOPICS} topics")
            await asyncio.to_thread(publish, lives[2].messages)
            async with stream_of(b) as stream:
                await stream.holds(set().union(*(t.expected for t in lives)))
                await stream.consumed()
                await stopped(edge, edge_log)
                await stopped(worker, worker_log)
                await stream.read()
        finally:
            kill_all(edge)
        last_seq, _, pending = _outbox_state(b.outbox)
    finally:
        kill_all(worker)
        await asyncio.to_thread(clear_retained, [b.force])

    # Every record of the three lives on the wire once, in order; the outbox is empty.
    assert stream.seqs == list(range(1, last_seq + 1)) and pending == 0
    # The retained reading came with every subscription (three times) but is stored once.
    force = b.path("press-01", "force_kn")
    retained = max(k for k in lives[0].expected if k[0] == force)
    assert [s[:2] for s in stream.samples].count(retained) == 3
    # Each restart marks its hole: one BAD NaN per tag 1 ns after the newest durable sample.
    assert (high_1, high_2) == (lives[0].newest_ns, lives[1].newest_ns)
    paths = {path for path, _ in lives[0].expected}
    markers = {(path, high + 1): (None, BAD) for path in paths for high in (high_1, high_2)}
    want = {**lives[0].expected, **lives[1].expected, **lives[2].expected, **markers}
    assert stored(b) == {key: [sample] for key, sample in want.items()}
