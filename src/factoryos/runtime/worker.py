"""A stateless ingest worker: one JetStream durable consumer → the time-series store.

Start as many as the load needs (``factoryos ingest`` or ``python -m
factoryos.runtime.worker``): every worker pulls from the same durable consumer, so JetStream
hands each message to one of them (a queue group). A worker acks a message only after the
store holds its samples; a worker that dies leaves its unacked messages to be redelivered
to another after ``ack_wait_s``, and the store's idempotent write on (tag, ts) turns that
at-least-once delivery into an exactly-once effect. Workers keep no state of their own: the
site file, the catalog (tag ids) and the store are shared.
"""

import argparse
import asyncio
import logging
import signal
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from prometheus_client import start_http_server

from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.nats import NatsIngestSource
from factoryos.errors import FactoryOSError
from factoryos.model import load_site
from factoryos.runtime.metrics import MetricSources, build_registry
from factoryos.store import backend
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.catalog import Catalog
from factoryos.store.errors import StoreError
from factoryos.store.ingest import Ingestor

log = logging.getLogger(__name__)

DEFAULT_DURABLE = "ingest-workers"
DEFAULT_STREAM = "FACTORYOS_INGEST"


class WorkerError(FactoryOSError):
    """The ingest worker cannot start or stopped on its own."""


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker pulls (batch size per fetch, redelivery delay of the consumer) and where
    it serves its Prometheus metrics (off when ``metrics_port`` is None; no credential, so
    the default address is loopback: expose it only on a network Prometheus alone reaches)."""

    batch: int = 256
    ack_wait_s: float = 30.0
    metrics_port: int | None = None
    metrics_addr: str = "127.0.0.1"


def open_store(url_or_path: str) -> TimeSeriesStore:
    """The time-series store at ``url_or_path``: a PostgreSQL URL (shared by every worker)
    or a DuckDB file path (one process per file, so one worker per file)."""
    try:
        return backend.open_store(url_or_path)
    except StoreError as exc:
        raise WorkerError(f"store {url_or_path!r}: {exc}") from exc


def _register(site_file: Path, catalog_url: str) -> dict[str, int]:
    """The catalog's tag ids for the site (registering it is idempotent)."""
    site = load_site(site_file)
    catalog = Catalog(catalog_url)
    try:
        catalog.create_all()
        return catalog.register_site(site)
    finally:
        catalog.close()


async def run_worker(
    nats_url: str,
    stream: str,
    *,
    site_file: Path,
    store_url_or_path: str,
    catalog_url: str,
    stop: asyncio.Event,
    durable: str = DEFAULT_DURABLE,
    settings: WorkerSettings | None = None,
) -> None:
    """Ingest from ``stream`` until ``stop`` is set; raises :class:`WorkerError` if a part fails.

    Shutdown drains: the consumer stops fetching first, then the ingest stores what it holds.
    """
    settings = settings or WorkerSettings()
    tag_ids = await asyncio.to_thread(_register, site_file, catalog_url)
    store = await asyncio.to_thread(open_store, store_url_or_path)
    bus = InProcessBus()
    try:
        ingestor = Ingestor(store, bus, name=f"ingest-{durable}")
        source = NatsIngestSource(
            nats_url,
            stream,
            durable,
            bus=bus,
            tag_ids=tag_ids,
            after_publish=ingestor.flush,  # ack only what the store holds
            batch=settings.batch,
            ack_wait_s=settings.ack_wait_s,
        )
        sources = MetricSources([ingestor], store, list(tag_ids.values()), bus, [source])
        with _metrics_served(settings, sources):
            await _run_parts(source, ingestor, stop)
    finally:
        bus.close()
        store.close()


@contextmanager
def _metrics_served(settings: WorkerSettings, sources: MetricSources) -> Iterator[None]:
    if settings.metrics_port is None:
        yield
        return
    try:
        server, thread = start_http_server(
            settings.metrics_port, settings.metrics_addr, build_registry(sources)
        )
    except OSError as exc:
        raise WorkerError(
            f"metrics: cannot listen on {settings.metrics_addr}:{settings.metrics_port}: {exc}"
        ) from exc
    log.info("metrics at http://%s:%d/metrics", settings.metrics_addr, settings.metrics_port)
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


async def _run_parts(source: NatsIngestSource, ingestor: Ingestor, stop: asyncio.Event) -> None:
    consume_stop, ingest_stop = asyncio.Event(), asyncio.Event()
    pulling = asyncio.create_task(source.run(consume_stop), name="nats-ingest")
    storing = asyncio.create_task(ingestor.run(ingest_stop), name="ingest")
    stopped = asyncio.create_task(stop.wait(), name="stop")
    try:
        done, _ = await asyncio.wait(
            {pulling, storing, stopped}, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        consume_stop.set()
        failures = await _failure(pulling)
        ingest_stop.set()
        failures += await _failure(storing)
        stopped.cancel()
    ended = [t.get_name() for t in (pulling, storing) if t in done]
    if ended or failures:
        raise WorkerError(f"ingest worker: {', '.join(ended) or 'shutdown'} failed: {failures}")


async def _failure(task: "asyncio.Task[None]") -> list[str]:
    try:
        await task
    except Exception as exc:
        log.error("%s failed: %s", task.get_name(), exc, exc_info=exc)
        return [f"{task.get_name()}: {exc}"]
    return []


def serve(
    nats_url: str,
    stream: str,
    *,
    site_file: Path,
    store_url_or_path: str,
    catalog_url: str,
    durable: str = DEFAULT_DURABLE,
    settings: WorkerSettings | None = None,
) -> None:
    """Run a worker in this process until SIGTERM or SIGINT (for the CLI and containers)."""

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        log.info("ingest worker %s on %s stream %s", durable, nats_url, stream)
        await run_worker(
            nats_url,
            stream,
            site_file=site_file,
            store_url_or_path=store_url_or_path,
            catalog_url=catalog_url,
            stop=stop,
            durable=durable,
            settings=settings,
        )

    asyncio.run(main())


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="python -m factoryos.runtime.worker", description=__doc__)
    p.add_argument("--nats-url", default="nats://127.0.0.1:4222")
    p.add_argument("--stream", default=DEFAULT_STREAM)
    p.add_argument("--site", type=Path, required=True, help="the site file (tags by UNS path)")
    p.add_argument("--store", required=True, help="time-series store: DuckDB file path")
    p.add_argument("--catalog", required=True, help="catalog SQLAlchemy URL")
    p.add_argument("--durable", default=DEFAULT_DURABLE, help="shared consumer (queue group)")
    p.add_argument("--batch", type=int, default=WorkerSettings.batch)
    p.add_argument("--ack-wait", type=float, default=WorkerSettings.ack_wait_s)
    p.add_argument("--metrics-port", type=int, default=None, help="serve /metrics on this port")
    p.add_argument("--metrics-addr", default=WorkerSettings.metrics_addr)
    return p


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m factoryos.runtime.worker``: the same as ``factoryos ingest``."""
    args = _parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        serve(
            args.nats_url,
            args.stream,
            site_file=args.site,
            store_url_or_path=args.store,
            catalog_url=args.catalog,
            durable=args.durable,
            settings=WorkerSettings(
                batch=args.batch,
                ack_wait_s=args.ack_wait,
                metrics_port=args.metrics_port,
                metrics_addr=args.metrics_addr,
            ),
        )
    except FactoryOSError as exc:
        raise SystemExit(f"factoryos ingest: {exc}") from exc


if __name__ == "__main__":
    main()
