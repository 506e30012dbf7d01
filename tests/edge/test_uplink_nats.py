"""The NATS uplink and the platform consumer end to end: round trip, de-duplication, and an
outage of the NATS server in the middle of a lockstep run of the virtual factory."""

import asyncio
from pathlib import Path

import nats
import numpy as np

from edge.harness import Platform, ids_of_platform, stream_records
from factoryos.bus.codec import decode_batch
from factoryos.bus.nats import ingest_subject
from factoryos.connect import build_pollers
from factoryos.edge import Gateway, NatsUplink, NatsUplinkConfig, Outbox, edge_tag_ids
from factoryos.model import Quality, SampleBatch, SiteFile
from factoryos.sim import (
    DEFAULT_START_NS,
    SimulatorHost,
    VirtualFactory,
    load_demo_site,
    with_ports,
)
from support.nats_server import NatsProcess
from support.ports import free_ports

SITE = "demo"


def _site() -> SiteFile:
    site = load_demo_site()
    return with_ports(site, dict(zip([d.name for d in site.devices], free_ports(8), strict=True)))


async def test_round_trip_with_dedup_on_resend(
    nats_process: NatsProcess, stream_name: str, tmp_path: Path
) -> None:
    site = load_demo_site()
    edge_ids = edge_tag_ids(site)
    platform_ids = ids_of_platform(site)
    paths = list(edge_ids)[:3]
    config = NatsUplinkConfig(url=nats_process.url, stream=stream_name, timeout_s=2)
    uplink = NatsUplink(
        config, gateway="gw-1", site=SITE, path_of={i: p for p, i in edge_ids.items()}
    )
    platform = Platform(nats_process.url, stream_name, platform_ids, tmp_path)
    platform.start()
    batch = SampleBatch.build(
        [edge_ids[p] for p in paths], 1_000, [1.0, 2.0, np.nan], [0, 0, Quality.BAD]
    )
    try:
        await uplink.send(range(1, 2), batch)
        await uplink.send(range(1, 2), batch)  # a resend after a lost PubAck: de-duplicated
        await uplink.send(range(2, 3), batch.take(np.array([0])))
        last = await platform.caught_up(nats_process.url, stream_name)
        assert await stream_records(nats_process.url, stream_name, last) == [1, 2]
        stored = platform.store.last(np.array([platform_ids[p] for p in paths]))
        assert stored.values[:2].tolist() == [1.0, 2.0] and stored.quality[2] == Quality.BAD
        assert platform.store.count() == 3
    finally:
        await uplink.close()
        await platform.close()


async def test_a_new_outbox_under_an_old_gateway_name_is_not_taken_for_a_resend(
    nats_url: str, stream_name: str
) -> None:
    """Outbox seqs start at 1 again when the outbox file is new (state wiped, a container
    without a volume, a replaced outbox). Those records are new data: JetStream must not drop
    them as duplicates of the old gateway's records with the same seq."""
    site = stream_name.lower()  # a subject of its own on the shared server
    edge_ids = edge_tag_ids(load_demo_site())
    path_of = {i: p for p, i in edge_ids.items()}
    config = NatsUplinkConfig(url=nats_url, stream=stream_name, timeout_s=2)
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(name=stream_name, subjects=[ingest_subject(site)])
    before, after = (NatsUplink(config, gateway="gw-1", site=site, path_of=path_of) for _ in "ab")
    tag = next(iter(path_of))
    try:
        await before.send(range(1, 2), SampleBatch.build([tag], 1_000, [1.0]))
        await after.send(range(1, 2), SampleBatch.build([tag], 2_000, [2.0]))  # new outbox
        await after.send(range(1, 2), SampleBatch.build([tag], 2_000, [2.0]))  # its resend
        last = (await js.stream_info(stream_name)).state.last_seq
        values = [
            decode_batch((await js.get_msg(stream_name, seq)).data or b"")[1].values.tolist()
            for seq in range(1, last + 1)
        ]
        assert values == [[1.0], [2.0]]
    finally:
        await before.close()
        await after.close()
        await js.delete_stream(stream_name)
        await nc.close()


STEPS, OUTAGE_FROM, OUTAGE_UNTIL = 60, 20, 40


async def test_outage_of_nats_loses_nothing_and_replays_in_order(
    nats_process: NatsProcess, tmp_path: Path
) -> None:
    site = _site()
    edge_ids = edge_tag_ids(site)
    platform_ids = ids_of_platform(site)
    to_platform = {edge_ids[p]: platform_ids[p] for p in edge_ids}
    factory = VirtualFactory(site, seed=5, start_ns=DEFAULT_START_NS + 8 * 3600 * 10**9)
    outbox = await Outbox.open(tmp_path / "outbox.sqlite", max_bytes=50 * 2**20)
    config = NatsUplinkConfig(url=nats_process.url, stream="INGEST", timeout_s=0.5)
    uplink = NatsUplink(
        config, gateway="gw-1", site=SITE, path_of={i: p for p, i in edge_ids.items()}
    )
    gateway = Gateway("gw-1", outbox, uplink, edge_ids, max_backoff_s=0.5)
    stop = asyncio.Event()
    sender = asyncio.create_task(gateway.run_sender(stop))
    platform = Platform(nats_process.url, "INGEST", platform_ids, tmp_path)
    platform.start()
    pollers = build_pollers(site, edge_ids)
    published: list[SampleBatch] = []
    try:
        async with SimulatorHost(factory) as host:
            for step in range(STEPS):
                host.advance(1)
                if step == OUTAGE_FROM:
                    nats_process.stop()
                if step == OUTAGE_UNTIL:
                    nats_process.start()
                if OUTAGE_FROM <= step < OUTAGE_UNTIL:
                    await asyncio.sleep(0.1)  # two seconds without NATS
                batches = await asyncio.gather(
                    *(p.poll_once(factory.now_ns, retry_now=True) for p in pollers)
                )
                for batch in batches:
                    await gateway.publish(batch)
                    published.append(batch)
        assert gateway.stats.send_failures > 0  # the outage was felt
        async with asyncio.timeout(30):
            while outbox.stats.pending_records:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.05)
        last = await platform.caught_up(nats_process.url, "INGEST")
        assert await stream_records(nats_process.url, "INGEST", last) == list(
            range(1, outbox.last_seq + 1)
        )
        everything = SampleBatch.concat(published)
        store = platform.store
        assert store.count() == len(everything)
        for edge_id in np.unique(everything.tag_ids):
            mine = everything.take(everything.tag_ids == edge_id)
            got = store.raw(to_platform[int(edge_id)], 0, 2**62)
            np.testing.assert_array_equal(got.ts, mine.ts)
            np.testing.assert_array_equal(got.values, mine.values)
            np.testing.assert_array_equal(got.quality, mine.quality)
    finally:
        stop.set()
        await sender
        for p in pollers:
            await p.close()
        await uplink.close()
        await outbox.close()
        await platform.close()
