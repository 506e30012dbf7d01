"""Fault test (c): ``kill -9`` the gateway mid-run and restart it.

The gateway runs as a real subprocess polling the virtual factory in real time and
forwarding over a private NATS JetStream to the platform (consumer → bus → ingest → DuckDB)
running in the test. It is killed with SIGKILL mid-run, restarted, and stopped cleanly.
"""

import asyncio
import os
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import nats
import numpy as np
import yaml

from edge.harness import Platform, ids_of_platform
from factoryos.bus.codec import decode_batch
from factoryos.model import Quality, SiteFile, parse_site
from factoryos.model.devices import ModbusTcpDevice
from factoryos.sim import (
    DEFAULT_START_NS,
    SimulatorHost,
    VirtualFactory,
    load_demo_site,
    with_ports,
)
from support.nats_server import NatsProcess
from support.ports import free_ports

POLL_S = 0.2
RUN_RECORDS = 40  # outbox records per life of the gateway (8 devices at 5 Hz: about 1 s)


def _fast_site() -> SiteFile:
    site = load_demo_site()
    site = with_ports(site, dict(zip([d.name for d in site.devices], free_ports(8), strict=True)))
    devices = [
        d.model_copy(update={"poll_interval_s": POLL_S}) if isinstance(d, ModbusTcpDevice) else d
        for d in site.devices
    ]
    return site.model_copy(update={"devices": devices})


def _write_config(tmp: Path, site: SiteFile, url: str) -> Path:
    site_text = yaml.safe_dump(site.model_dump(mode="json", exclude_none=True), sort_keys=False)
    parse_site(site_text)  # the file the gateway reads is valid
    (tmp / "site.yaml").write_text(site_text)
    config = {
        "gateway": "gw-k9",
        "site_file": "site.yaml",
        "outbox": {"path": "outbox.sqlite", "max_mb": 64},
        "uplink": {
            "kind": "nats",
            "url": url,
            "stream": "INGEST",
            "timeout_s": 1,
            "max_backoff_s": 0.5,
        },
    }
    (tmp / "gateway.yaml").write_text(yaml.safe_dump(config))
    return tmp / "gateway.yaml"


def _spawn(config: Path, log: Path) -> subprocess.Popen[bytes]:
    code = "import sys; from factoryos.edge import main; main(sys.argv[1])"
    with log.open("ab") as err:
        return subprocess.Popen([sys.executable, "-c", code, str(config)], stderr=err)


def _outbox_state(path: Path) -> tuple[int, int | None, list[bytes]]:
    """(last seq, high_ts, pending payloads) of an outbox file, read as a third party."""
    con = sqlite3.connect(path)
    try:
        row = con.execute("SELECT seq FROM sqlite_sequence WHERE name = 'records'").fetchone()
        high = con.execute("SELECT value FROM meta WHERE key = 'high_ts'").fetchone()
        pending = [bytes(p) for (p,) in con.execute("SELECT payload FROM records ORDER BY seq")]
    except sqlite3.OperationalError:  # not created yet
        return 0, None, []
    finally:
        con.close()
    return (row[0] if row else 0), (high[0] if high else None), pending


async def _wait_for_seq(path: Path, seq: int, proc: subprocess.Popen[bytes]) -> None:
    async with asyncio.timeout(30):
        while (await asyncio.to_thread(_outbox_state, path))[0] < seq:
            assert proc.poll() is None, "the gateway died"
            await asyncio.sleep(0.05)


async def _stream_samples(url: str, last: int) -> tuple[list[int], list[tuple[str, int]]]:
    """Outbox seqs of the stream's messages and every (path, ts) they carry."""
    nc = await nats.connect(url)
    seqs, samples = [], []
    try:
        for stream_seq in range(1, last + 1):
            msg = await nc.jetstream().get_msg("INGEST", stream_seq)
            header, batch = decode_batch(msg.data or b"")
            seqs.append(header.first_seq)
            samples += [
                (header.paths[i], int(t)) for i, t in zip(batch.tag_ids, batch.ts, strict=True)
            ]
    finally:
        await nc.close()
    return seqs, samples


async def test_kill_9_mid_run_then_restart(nats_process: NatsProcess, tmp_path: Path) -> None:
    site = _fast_site()
    config = _write_config(tmp_path, site, nats_process.url)
    outbox_path = tmp_path / "outbox.sqlite"
    platform_ids = ids_of_platform(site)
    polled = [r.path for r in site.tags() if r.tag.modbus is not None]
    factory = VirtualFactory(site, seed=9, start_ns=DEFAULT_START_NS, step_s=POLL_S)
    platform = Platform(nats_process.url, "INGEST", platform_ids, tmp_path)
    sim_stop = asyncio.Event()
    log = tmp_path / "gateway.log"
    async with SimulatorHost(factory) as host:
        sim = asyncio.create_task(host.run_realtime(sim_stop))
        platform.start()
        try:
            first = _spawn(config, log)
            await _wait_for_seq(outbox_path, RUN_RECORDS, first)
            os.kill(first.pid, signal.SIGKILL)
            first.wait(10)
            seq_at_kill, high_ts, pending_at_kill = _outbox_state(outbox_path)
            await asyncio.sleep(1.0)  # dead: nothing is polled
            second = _spawn(config, log)
            await _wait_for_seq(outbox_path, seq_at_kill + RUN_RECORDS, second)
            second.send_signal(signal.SIGTERM)
            assert await asyncio.to_thread(second.wait, 30) == 0, log.read_text()
            last_seq, _, pending_at_end = _outbox_state(outbox_path)
            assert pending_at_end == []  # a clean stop drains the outbox
            last = await platform.caught_up(nats_process.url, "INGEST")
            seqs, samples = await _stream_samples(nats_process.url, last)
        finally:
            sim_stop.set()
            await sim
            await platform.close(keep_store=True)
    store = platform.store
    # Every record the gateway ever made durable is in the stream once, in order.
    assert seqs == list(range(1, last_seq + 1))
    assert last_seq > seq_at_kill >= RUN_RECORDS
    # ... and every sample of the stream is in the store exactly once.
    assert len(set(samples)) == len(samples) == store.count()
    for payload in pending_at_kill:  # durable but unsent when killed: delivered after restart
        header, batch = decode_batch(payload)
        for i, ts in zip(batch.tag_ids, batch.ts, strict=True):
            path = header.paths[i]
            got = store.raw(platform_ids[path], int(ts), int(ts) + 1)
            assert len(got) == 1, (path, ts)
    # The hole is bad quality: one BAD NaN per polled tag 1 ns after the last durable sample.
    assert high_ts is not None
    for path in polled:
        got = store.raw(platform_ids[path], 0, 2**62)
        bad = got.take(got.quality == Quality.BAD)
        assert bad.ts.tolist() == [high_ts + 1], path
        assert np.isnan(bad.values).all()
        assert got.ts[got.ts < high_ts + 1].max() <= high_ts  # good data up to the kill
        assert (got.ts > high_ts + 1).any()  # and again after the restart
    store.close()
