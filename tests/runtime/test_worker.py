"""Ingest workers on the real NATS JetStream at 127.0.0.1:4222, storing into real DuckDB files.

The kill test runs two worker processes on one durable consumer (the queue group), SIGKILLs
one mid-stream and checks that every published sample is stored exactly once. DuckDB allows
one process per file, so each worker has its own store: "exactly once" is checked as every
sample present in the union of the two stores, no store holding a sample twice, and a sample
in both only where the killed worker stored a batch it never acked (at most one fetch).
With a shared store (PostgreSQL) the idempotent write on (tag, ts) removes that overlap too.
"""

import asyncio
import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import nats
import nats.js.errors
import numpy as np
import psycopg
import pytest
from nats.aio.client import Client
from prometheus_client.parser import text_string_to_metric_families

from factoryos.bus.codec import encode_batch
from factoryos.bus.nats import ingest_subject
from factoryos.model import SampleBatch, parse_site
from factoryos.runtime.worker import WorkerError, WorkerSettings, run_worker
from factoryos.store.catalog import Catalog
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.postgres_store import PostgresStore
from support.ports import free_port
from support.sites import POWER, RPM, TEMP, site_yaml

URL = "nats://127.0.0.1:4222"
PATHS = [POWER, RPM, TEMP]
PER_TAG = 10  # samples per tag per message
BATCH = 4  # messages per fetch
T0 = 1_700_000_000_000_000_000


@pytest.fixture
async def js_stream() -> AsyncIterator[tuple[Client, str]]:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        pytest.skip("no NATS at 127.0.0.1:4222")
    nc = await nats.connect(URL)
    stream = f"TEST_WORKER_{uuid.uuid4().hex[:12].upper()}"
    await nc.jetstream().add_stream(name=stream, subjects=[ingest_subject(stream.lower())])
    yield nc, stream
    await nc.jetstream().delete_stream(stream)
    await nc.close()


@pytest.fixture
def site(tmp_path: Path) -> tuple[Path, str, dict[str, int]]:
    """The site file, the catalog URL and the tag ids the workers will find there."""
    text = site_yaml("acme")
    path = tmp_path / "site.yaml"
    path.write_text(text)
    url = f"sqlite:///{tmp_path / 'catalog.sqlite'}"
    catalog = Catalog(url)
    catalog.create_all()
    ids = catalog.register_site(parse_site(text))
    catalog.close()
    return path, url, ids


def message(i: int) -> bytes:
    """Message ``i``: PER_TAG samples of each tag at its own timestamps."""
    n = len(PATHS) * PER_TAG
    ts = T0 + i * PER_TAG + np.arange(n) // len(PATHS)
    index = np.arange(n) % len(PATHS)
    values = ts - T0 + index * 0.5
    batch = SampleBatch.build(index, ts, values)
    return encode_batch(batch, source="gw", first_seq=i * n + 1, paths=PATHS)


def expected(messages: int, ids: dict[str, int]) -> dict[tuple[int, int], float]:
    got = {}
    for i in range(messages):
        header_ts = T0 + i * PER_TAG
        for k in range(PER_TAG):
            for j, path in enumerate(PATHS):
                got[(ids[path], header_ts + k)] = float(i * PER_TAG + k + j * 0.5)
    return got


def stored(path: Path, ids: dict[str, int]) -> list[tuple[int, int, float]]:
    with DuckDBStore(path) as store:
        rows = []
        for tag_id in ids.values():
            b = store.raw(tag_id, T0, T0 + 10**12)
            rows += zip(b.tag_ids.tolist(), b.ts.tolist(), b.values.tolist(), strict=True)
        assert store.count() == len(rows)
        return rows


async def publish(nc: Client, stream: str, first: int, last: int) -> None:
    js = nc.jetstream()
    for i in range(first, last):
        await js.publish(ingest_subject(stream.lower()), message(i), stream=stream)


async def acked(nc: Client, stream: str, durable: str, at_least: int, *, settled: bool) -> None:
    """Until the consumer's ack floor reaches ``at_least`` (``settled``: and nothing is out)."""
    js = nc.jetstream()
    async with asyncio.timeout(20):
        while True:
            with contextlib.suppress(nats.js.errors.NotFoundError):  # workers still starting
                info = await js.consumer_info(stream, durable)
                if info.ack_floor.stream_seq >= at_least and not (settled and info.num_ack_pending):
                    return
            await asyncio.sleep(0.02)


def start_worker(
    tmp: Path,
    name: str,
    stream: str,
    site: tuple[Path, str, dict[str, int]],
    store: str | None = None,
) -> tuple[subprocess.Popen[bytes], Path]:
    log = tmp / f"{name}.log"
    cmd = [
        sys.executable, "-m", "factoryos.runtime.worker",
        "--nats-url", URL, "--stream", stream, "--site", str(site[0]),
        "--store", store or str(tmp / f"{name}.duckdb"), "--catalog", site[1],
        "--durable", "workers", "--batch", str(BATCH), "--ack-wait", "1.5",
    ]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=os.environ.copy())
    return proc, log


def log_text(log: Path) -> str:
    return log.read_text()


async def consuming(proc: subprocess.Popen[bytes], log: Path) -> None:
    async with asyncio.timeout(20):
        while "consuming stream" not in log_text(log):
            assert proc.poll() is None, log_text(log)
            await asyncio.sleep(0.05)


async def test_killing_a_worker_mid_stream_loses_and_duplicates_nothing(
    js_stream: tuple[Client, str], site: tuple[Path, str, dict[str, int]], tmp_path: Path
) -> None:
    nc, stream = js_stream
    ids = site[2]
    total = 240
    a, a_log = start_worker(tmp_path, "a", stream, site)
    b, b_log = start_worker(tmp_path, "b", stream, site)
    try:
        await consuming(a, a_log)
        await consuming(b, b_log)
        await publish(nc, stream, 0, total // 3)
        await acked(nc, stream, "workers", 20, settled=False)  # mid-stream: some stored
        a.send_signal(signal.SIGKILL)
        assert a.wait(5) == -signal.SIGKILL
        await publish(nc, stream, total // 3, total)
        await acked(nc, stream, "workers", total, settled=True)
        b.send_signal(signal.SIGTERM)
        assert b.wait(10) == 0, b_log.read_text()
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
                proc.wait()

    in_a, in_b = stored(tmp_path / "a.duckdb", ids), stored(tmp_path / "b.duckdb", ids)
    assert in_a and in_b, "both workers took a share of the stream"
    keys_a, keys_b = {r[:2] for r in in_a}, {r[:2] for r in in_b}
    assert len(keys_a) == len(in_a) and len(keys_b) == len(in_b)  # no store holds one twice
    want = expected(total, ids)
    union = {(t, ts): v for t, ts, v in in_a + in_b}
    assert union == want  # every sample, with its value, and nothing else
    one_fetch = BATCH * len(PATHS) * PER_TAG
    assert len(keys_a & keys_b) <= one_fetch  # only what the killed worker stored unacked


async def test_in_process_worker_stores_and_acks(
    js_stream: tuple[Client, str], site: tuple[Path, str, dict[str, int]], tmp_path: Path
) -> None:
    nc, stream = js_stream
    store_path = tmp_path / "one.duckdb"
    port = free_port()
    stop = asyncio.Event()
    worker = asyncio.create_task(
        run_worker(
            URL,
            stream,
            site_file=site[0],
            store_url_or_path=str(store_path),
            catalog_url=site[1],
            stop=stop,
            durable="solo",
            settings=WorkerSettings(batch=8, metrics_port=port),
        )
    )
    await publish(nc, stream, 0, 20)
    started = time.monotonic()
    await acked(nc, stream, "solo", 20, settled=True)
    async with httpx.AsyncClient() as http:
        text = (await http.get(f"http://127.0.0.1:{port}/metrics", timeout=5)).text
    samples = {s.name: s.value for f in text_string_to_metric_families(text) for s in f.samples}
    assert samples["factoryos_ingest_samples_stored_total"] == 20 * len(PATHS) * PER_TAG
    assert samples["factoryos_nats_messages_total"] == 20
    assert samples["factoryos_nats_pending"] == 0
    stop.set()
    await worker
    assert time.monotonic() - started < 20
    rows = stored(store_path, site[2])
    assert {(t, ts): v for t, ts, v in rows} == expected(20, site[2])


async def test_a_store_url_no_backend_can_open_is_a_clear_error(
    site: tuple[Path, str, dict[str, int]],
) -> None:
    with pytest.raises(WorkerError, match="mongodb://db/x"):
        await run_worker(
            URL,
            "S",
            site_file=site[0],
            store_url_or_path="mongodb://db/x",
            catalog_url=site[1],
            stop=asyncio.Event(),
        )


PG = "postgresql://postgres@127.0.0.1:5432/test"


async def test_killing_a_worker_sharing_a_postgres_store_stores_each_sample_exactly_once(
    js_stream: tuple[Client, str], site: tuple[Path, str, dict[str, int]], tmp_path: Path
) -> None:
    nc, stream = js_stream
    schema = f"workers_{uuid.uuid4().hex[:8]}"
    store = f"{PG}?schema={schema}"
    total = 240
    a, a_log = start_worker(tmp_path, "a", stream, site, store)
    b, b_log = start_worker(tmp_path, "b", stream, site, store)
    try:
        await consuming(a, a_log)
        await consuming(b, b_log)
        await publish(nc, stream, 0, total // 3)
        await acked(nc, stream, "workers", 20, settled=False)
        a.send_signal(signal.SIGKILL)
        assert a.wait(5) == -signal.SIGKILL
        await publish(nc, stream, total // 3, total)
        await acked(nc, stream, "workers", total, settled=True)
        b.send_signal(signal.SIGTERM)
        assert b.wait(10) == 0, b_log.read_text()
        with PostgresStore(PG, schema=schema) as pg:
            rows = []
            for tag_id in site[2].values():
                got = pg.raw(tag_id, 0, 2**62)
                rows += zip(got.tag_ids.tolist(), got.ts.tolist(), got.values.tolist(), strict=True)
            assert pg.count() == len(rows)
    finally:
        for proc in (a, b):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        with psycopg.connect(PG, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    assert {(t, ts): v for t, ts, v in rows} == expected(total, site[2])
    assert len(rows) == len(expected(total, site[2]))  # one row per sample: exactly once
