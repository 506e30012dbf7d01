"""/metrics, /api/health and /api/ready on a real app: real catalog, DuckDB store, bus, ingest."""

import asyncio
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families

from factoryos.api import Services, create_app
from factoryos.apps.alarms.processor import ProcessorStats
from factoryos.apps.notify import ChannelCounters, NotifierStats
from factoryos.bus.inprocess import Overflow
from factoryos.bus.nats import NatsIngestSource
from factoryos.connect.polling import PollerStats
from factoryos.model import SampleBatch
from factoryos.runtime.metrics import MetricSources, build_registry
from factoryos.store.catalog import Catalog
from factoryos.store.ingest import Ingestor
from support.asgi import asgi_client
from support.sites import POWER, TEMP


@dataclass
class Device:
    """What the collector reads of a driver: its name and its (real) poll counters."""

    name: str
    stats: PollerStats = field(default_factory=PollerStats)


@pytest.fixture
def sources(services: Services) -> MetricSources:
    return MetricSources(store=services.store, bus=services.bus)


@pytest.fixture
def app(services: Services, sources: MetricSources) -> FastAPI:
    return create_app(services, metrics_registry=build_registry(sources))


Scraped = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(text: str) -> Scraped:
    """Sample name and labels → value, from the text exposition."""
    found = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            found[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return found


async def get_metrics(client: httpx.AsyncClient, auth: dict[str, str]) -> Scraped:
    r = await client.get("/metrics", headers=auth)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain; version=")
    return scrape(r.text)


async def test_metrics_need_a_viewer_key(client: httpx.AsyncClient, acme) -> None:
    for headers in ({}, {"Authorization": "Bearer fos_wrong"}):
        r = await client.get("/metrics", headers=headers)
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    assert (await client.get("/metrics", headers={"X-API-Key": acme.viewer})).status_code == 200


async def test_ingest_bus_and_lag_are_exported(
    client: httpx.AsyncClient, services: Services, sources: MetricSources, acme
) -> None:
    ingestor = Ingestor(services.store, services.bus, name="ingest")
    sources.ingestors.append(ingestor)
    sources.tag_ids += [acme.ids[POWER], acme.ids[TEMP]]
    services.bus.subscribe("slow-view", maxsize=1, overflow=Overflow.DROP_OLDEST)
    stop = asyncio.Event()
    running = asyncio.create_task(ingestor.run(stop))
    newest = time.time_ns() - 5 * 10**9
    for i in range(3):
        ts = newest - (2 - i) * 10**9
        await services.bus.publish(
            SampleBatch.build([acme.ids[POWER], acme.ids[TEMP]], [ts, ts], [1.0, 2.0])
        )
    async with asyncio.timeout(5):
        await ingestor.flush()

    m = await get_metrics(client, acme.auth())
    assert m[("factoryos_ingest_samples_total", ())] == 6
    assert m[("factoryos_ingest_samples_stored_total", ())] == 6
    assert m[("factoryos_ingest_batches_total", ())] == 3
    assert m[("factoryos_ingest_write_errors_total", ())] == 0
    assert m[("factoryos_ingest_queue_depth", ())] == 0
    assert 5 <= m[("factoryos_ingest_lag_seconds", ())] < 60
    assert m[("factoryos_bus_dropped_batches_total", (("sub", "slow-view"),))] == 2
    assert m[("factoryos_bus_queue_depth", (("sub", "slow-view"),))] == 1
    stop.set()
    await running


async def test_nats_and_driver_counters_are_exported(
    client: httpx.AsyncClient, services: Services, sources: MetricSources, acme
) -> None:
    sources.nats.append(NatsIngestSource("nats://x", "S", "workers", bus=services.bus, tag_ids={}))
    plc = Device("plc1")
    plc.stats.polls, plc.stats.failures, plc.stats.connected = 10, 2, True
    sources.drivers += [plc, object()]  # something without poll stats is left out
    m = await get_metrics(client, acme.auth())
    assert m[("factoryos_nats_connected", (("consumer", "workers"),))] == 0
    assert m[("factoryos_nats_messages_total", (("consumer", "workers"),))] == 0
    assert m[("factoryos_driver_polls_total", (("device", "plc1"),))] == 10
    assert m[("factoryos_driver_failures_total", (("device", "plc1"),))] == 2
    assert m[("factoryos_driver_connected", (("device", "plc1"),))] == 1


async def test_alarm_and_notification_counters_are_exported(
    client: httpx.AsyncClient, sources: MetricSources, acme
) -> None:
    sources.alarms = ProcessorStats(batches=7, events=3, dropped_batches=1)
    mail = ChannelCounters(sent=4, failed=1, dropped=0, deduplicated=2)
    sources.notify = lambda: NotifierStats(submitted=9, unrouted=2, channels={"mail": mail})
    m = await get_metrics(client, acme.auth())
    assert m[("factoryos_alarm_batches_total", ())] == 7
    assert m[("factoryos_alarm_dropped_batches_total", ())] == 1
    assert m[("factoryos_notify_submitted_total", ())] == 9
    assert m[("factoryos_notify_sent_total", (("channel", "mail"),))] == 4
    assert m[("factoryos_notify_deduplicated_total", (("channel", "mail"),))] == 2


async def test_an_app_without_a_registry_serves_empty_metrics(services: Services, acme) -> None:
    async with asgi_client(create_app(services)) as client:
        r = await client.get("/metrics", headers=acme.auth())
    assert r.status_code == 200 and r.text == ""


async def test_health_and_ready_need_no_credential(client: httpx.AsyncClient) -> None:
    health = await client.get("/api/health")
    assert health.status_code == 200 and health.json()["status"] == "ok"
    r = await client.get("/api/ready")
    assert r.status_code == 200, r.text
    assert r.json() == {"status": "ready", "checks": {"store": "ok", "catalog": "ok"}}


async def test_not_ready_names_the_store(client: httpx.AsyncClient, services: Services) -> None:
    services.store.close()
    r = await client.get("/api/ready")
    assert r.status_code == 503
    body = r.json()
    assert body["status"] == "not ready" and body["checks"]["catalog"] == "ok"
    assert "closed" in body["checks"]["store"]
    assert (await client.get("/api/health")).status_code == 200  # alive, just not ready


@pytest.fixture
async def unready_catalog_client(
    services: Services, tmp_path: Path
) -> AsyncIterator[httpx.AsyncClient]:
    empty = Catalog(f"sqlite:///{tmp_path / 'no-tables.sqlite'}")  # never created: no tables
    broken = Services(catalog=empty, store=services.store, bus=services.bus)
    async with asgi_client(create_app(broken)) as client:
        yield client
    empty.close()


async def test_not_ready_names_the_catalog(unready_catalog_client: httpx.AsyncClient) -> None:
    r = await unready_catalog_client.get("/api/ready")
    assert r.status_code == 503
    checks = r.json()["checks"]
    assert checks["store"] == "ok" and "no such table" in checks["catalog"]
