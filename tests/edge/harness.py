"""Test harness: the platform side of NATS."""

import asyncio
from pathlib import Path

import nats

from factoryos.bus.codec import decode_batch
from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.nats import NatsIngestSource
from factoryos.model import SiteFile
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor


def ids_of_platform(site: SiteFile) -> dict[str, int]:
    """A numbering unlike the gateway's, as a platform catalog would have."""
    return {ref.path: 5000 - i for i, ref in enumerate(site.tags())}


class Platform:
    """NATS consumer → bus → ingest → DuckDB, as the platform runs it."""

    def __init__(self, url: str, stream: str, tag_ids: dict[str, int], tmp: Path) -> None:
        self.store = DuckDBStore(tmp / "ts.duckdb")
        self.bus = InProcessBus()
        self.ingestor = Ingestor(self.store, self.bus, max_delay_s=0.05)
        self.source = NatsIngestSource(
            url,
            stream,
            "platform",
            bus=self.bus,
            tag_ids=tag_ids,
            after_publish=self.ingestor.flush,
            max_backoff_s=0.5,
        )
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self.ingestor.run(self.stop)),
            asyncio.create_task(self.source.run(self.stop)),
        ]

    async def caught_up(self, url: str, stream: str) -> int:
        """Wait until every message in the stream is stored; returns the stream's last seq."""
        nc = await nats.connect(url)
        try:
            last = (await nc.jetstream().stream_info(stream)).state.last_seq
        finally:
            await nc.close()
        async with asyncio.timeout(30):
            while self.source.stats.last_stream_seq < last:  # noqa: ASYNC110 - a counter
                await asyncio.sleep(0.05)
        return last

    async def close(self, *, keep_store: bool = False) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)
        if not keep_store:
            self.store.close()


async def stream_records(url: str, stream: str, last: int) -> list[int]:
    """The outbox seq of every message in the stream, in stream order."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        msgs = [await js.get_msg(stream, seq) for seq in range(1, last + 1)]
    finally:
        await nc.close()
    return [decode_batch(m.data or b"")[0].first_seq for m in msgs]
