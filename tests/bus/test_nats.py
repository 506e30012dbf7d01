"""The platform's JetStream consumer against the real NATS at 127.0.0.1:4222."""

import asyncio
import socket
import time
import uuid
from collections.abc import AsyncIterator

import nats
import numpy as np
import pytest
from nats.aio.client import Client

from factoryos.bus.codec import encode_batch
from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.nats import NatsError, NatsIngestSource, connect_nats, ingest_subject
from factoryos.model import Quality, SampleBatch
from support.ports import free_port

URL = "nats://127.0.0.1:4222"
PATHS = {"plant1/a/l/c/m/power_kw": 101, "plant1/a/l/c/m/temp_c": 102}


@pytest.fixture
async def js_stream() -> AsyncIterator[tuple[Client, str]]:
    try:
        socket.create_connection(("127.0.0.1", 4222), timeout=1).close()
    except OSError:
        pytest.skip("no NATS at 127.0.0.1:4222")
    nc = await nats.connect(URL)
    stream = f"TEST_{uuid.uuid4().hex[:12].upper()}"
    await nc.jetstream().add_stream(name=stream, subjects=[f"factoryos.ingest.{stream.lower()}"])
    yield nc, stream
    await nc.jetstream().delete_stream(stream)
    await nc.close()


async def _consume_until(source: NatsIngestSource, stream_seq: int) -> None:
    stop = asyncio.Event()
    task = asyncio.create_task(source.run(stop))
    try:
        async with asyncio.timeout(20):
            while source.stats.last_stream_seq < stream_seq:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.05)
    finally:
        stop.set()
        await task


async def test_batches_arrive_with_platform_ids_and_bad_input_is_counted(
    js_stream: tuple[Client, str], caplog: pytest.LogCaptureFixture
) -> None:
    nc, stream = js_stream
    subject = ingest_subject(stream.lower())
    js = nc.jetstream()
    paths = [*PATHS, "plant1/a/l/c/m/unknown"]
    batch = SampleBatch.build(
        [0, 1, 2, 0], [10, 10, 10, 20], [1.5, 2.5, 3.5, np.nan], [0, 0, 0, Quality.BAD]
    )
    await js.publish(subject, encode_batch(batch, source="gw", first_seq=1, paths=paths))
    await js.publish(subject, b"not a batch")
    await js.publish(subject, b"also not a batch")
    last = await js.publish(
        subject, encode_batch(batch.take(np.array([3])), source="gw", first_seq=2, paths=paths)
    )
    bus = InProcessBus()
    sub = bus.subscribe("test", maxsize=100)
    source = NatsIngestSource(URL, stream, "platform", bus=bus, tag_ids=PATHS, batch=2)
    with caplog.at_level("WARNING", logger="factoryos.bus.nats"):
        await _consume_until(source, last.seq)
    got = SampleBatch.concat(sub.take_all())
    assert got.tag_ids.tolist() == [101, 102, 101, 101]
    assert got.ts.tolist() == [10, 10, 20, 20]
    assert got.values[:2].tolist() == [1.5, 2.5] and got.quality.tolist()[-1] == Quality.BAD
    assert (source.stats.malformed, source.stats.unknown_samples) == (2, 1)
    assert source.stats.messages == 2
    malformed_logs = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert len(malformed_logs) == 1  # once per subject
    info = await js.consumer_info(stream, "platform")
    assert info.num_ack_pending == 0 and info.num_pending == 0  # acked or termed, all of them


async def test_a_restarted_consumer_resumes_after_what_it_acked(
    js_stream: tuple[Client, str],
) -> None:
    nc, stream = js_stream
    subject = ingest_subject(stream.lower())
    js = nc.jetstream()
    path = next(iter(PATHS))

    async def publish(i: int) -> int:
        one = SampleBatch.build([0], [i], [float(i)])
        data = encode_batch(one, source="gw", first_seq=i + 1, paths=[path])
        return (await js.publish(subject, data)).seq

    bus = InProcessBus()
    sub = bus.subscribe("test", maxsize=100)
    seqs = [await publish(i) for i in range(3)]
    first = NatsIngestSource(URL, stream, "durable", bus=bus, tag_ids=PATHS, batch=2)
    await _consume_until(first, seqs[-1])
    seqs = [await publish(i) for i in range(3, 6)]
    second = NatsIngestSource(URL, stream, "durable", bus=bus, tag_ids=PATHS, batch=2)
    await _consume_until(second, seqs[-1])
    ts = SampleBatch.concat(sub.take_all()).ts.tolist()
    assert ts == [0, 1, 2, 3, 4, 5]


async def test_a_first_connect_to_no_server_fails_within_its_timeout() -> None:
    """nats-py alone retries a first connect forever (unlimited reconnects): a gateway or
    worker started while NATS was down hung silently and ignored SIGTERM."""
    url = f"nats://127.0.0.1:{free_port()}"
    started = time.monotonic()
    with pytest.raises(NatsError, match=f"cannot connect to {url} within 1 s"):
        await connect_nats(url, name="nowhere", timeout_s=1)
    assert time.monotonic() - started < 3


async def test_a_clean_close_is_no_warning(
    js_stream: tuple[Client, str], caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level("WARNING", logger="factoryos.bus.nats"):
        nc = await connect_nats(URL, name="closer", timeout_s=2)
        await nc.close()
    assert not caplog.records
