"""``factoryos bench resolve``: identifier resolutions per second, and their latency.

``identifiers`` handles (``88.100.<block>/SN-<n>``, one product record each) are registered
through the registry in a fresh catalog (SQLite in a temporary folder, or a schema of its
own in the PostgreSQL at ``catalog_url``, dropped afterwards). Then one plan of requests,
the same for both measurements below, is replayed for ``seconds``:

- 90 % go to a hot 1 % of the handles (a line's current products, scanned over and over),
  9 % to any handle (cold: mostly cache misses), 1 % to handles that do not exist (negative
  answers, also cached briefly). The cache starts empty; the hit rate is measured.
- **Resolver** (``per_s``, ``p99_ms``): what a node does per resolution — parse the handle,
  the cache, on a miss the catalog in a worker thread — with ``concurrency`` requests in
  flight on one event loop, as the API's handler calls it. No HTTP, no credential check.
- **HTTP** (``http_per_s``, ``http_p99_ms``): ``GET /api/resolve/{handle}`` against the real
  API (uvicorn, one process, started for the run) with ``http_clients`` keep-alive
  connections from this process, each request with an API key the server checks. Client
  and server share the machine's cores.

Each latency is one resolution, from request to answer. The two figures answer different
questions and are reported side by side; neither is an estimate of the other.
"""

import asyncio
import contextlib
import json
import os
import selectors
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import psycopg
from psycopg import sql
from rich.progress import Progress
from rich.table import Table
from sqlalchemy.engine import make_url

from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import progress_bar
from factoryos.store.catalog import Catalog, Role
from factoryos.twin.config import ResolverConfig
from factoryos.twin.errors import NotFoundError
from factoryos.twin.node import IdentifierNode

PREFIX = "88.100"
BLOCK = 10_000  # identifiers per sub-prefix, and per registration transaction
HOT_SHARE, COLD_SHARE, MISSING_SHARE = 0.90, 0.09, 0.01
HOT_FRACTION = 0.01  # of the identifiers are hot
PLAN = 400_000  # requests planned; a longer run goes round the plan again
CONCURRENCY = 4
HTTP_CLIENTS = 16
BATCH = 100  # handles per POST /api/resolve (the API's most)
WARMUP_S = 0.5
TIMEOUT_S = 30.0  # any one HTTP answer, and the server's start
MAX_BODY = 2**20
SEED = 20_260_101


@dataclass(frozen=True)
class _Run:
    latencies_ns: list[int]
    wall_s: float
    not_found: int
    errors: int = 0


# -- the catalog ----------------------------------------------------------------------


@contextlib.contextmanager
def _catalog(url: str | None) -> Iterator[tuple[str, str]]:
    """(catalog URL, backend name) of a fresh, migrated catalog, removed afterwards."""
    if url is None:
        with tempfile.TemporaryDirectory(prefix="factoryos-bench-resolve-") as tmp:
            yield _migrated(f"sqlite:///{Path(tmp) / 'catalog.sqlite'}"), "sqlite"
        return
    parsed = make_url(url)
    if parsed.get_backend_name() != "postgresql":
        raise BenchError(f"--catalog-url: {parsed.get_backend_name()!r} is not postgresql")
    schema = f"bench_resolve_{uuid.uuid4().hex[:8]}"
    libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        scoped = parsed.set(drivername="postgresql+psycopg").update_query_dict(
            {"options": f"-csearch_path={schema}"}
        )
        yield _migrated(scoped.render_as_string(hide_password=False)), "postgresql"
    finally:
        with psycopg.connect(libpq, autocommit=True, connect_timeout=10) as admin:
            drop = sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema))
            admin.execute(drop)


def _migrated(url: str) -> str:
    catalog = Catalog(url)
    try:
        catalog.migrate()
    finally:
        catalog.close()
    return url


def handle_of(n: int) -> str:
    return f"{PREFIX}.{n // BLOCK}/SN-{n:08d}"


def _record(n: int) -> dict[str, Any]:
    return {
        "type": "product",
        "name": f"Centrifugal pump CP-40 #{n}",
        "data": {
            "gtin": "09506000134352",
            "serial": f"{n:08d}",
            "lot": f"L{n // 500:05d}",
            "rated_kw": 7.5,
            "made": "2026-01-05",
            "plant": "plant1",
        },
        "twin": f"plant1/assembly/line2/cell1/cp40-{n % 8}",
        "epcs": [f"urn:epc:id:sgtin:9506000.134352.{n}"],
    }


def _register(url: str, count: int, progress: Progress | None) -> tuple[str, float]:
    """Register ``count`` identifiers; (a viewer API key, identifiers per second)."""
    catalog = Catalog(url)
    try:
        tenant = catalog.ensure_tenant("bench")
        key = catalog.create_api_key("bench", Role.VIEWER, "bench-resolver")
        node = IdentifierNode.open(catalog, ResolverConfig(node="bench"))
        node.allocate(PREFIX, tenant, "bench")
        job = progress.add_task("registering", total=count) if progress else None
        start = time.perf_counter()
        for at in range(0, count, BLOCK):
            block = [(handle_of(n), _record(n)) for n in range(at, min(at + BLOCK, count))]
            node.register_many(tenant, block)
            if progress is not None and job is not None:
                progress.update(job, completed=at + len(block))
        return key, count / (time.perf_counter() - start)
    finally:
        catalog.close()


# -- the plan -------------------------------------------------------------------------


def plan(identifiers: int, size: int = PLAN, seed: int = SEED) -> list[str]:
    """The requests: hot, cold and missing handles in the shares above, shuffled."""
    rng = np.random.default_rng(seed)
    hot = rng.choice(identifiers, size=max(1, round(identifiers * HOT_FRACTION)), replace=False)
    kind = rng.random(size)
    which = np.where(
        kind < HOT_SHARE, hot[rng.integers(0, len(hot), size)], rng.integers(0, identifiers, size)
    )
    absent = rng.integers(0, 10**9, size)
    return [
        f"{PREFIX}.0/NONE-{absent[i]}" if kind[i] >= 1 - MISSING_SHARE else handle_of(int(n))
        for i, n in enumerate(which)
    ]


# -- the resolver ---------------------------------------------------------------------


async def _resolver_run(
    node: IdentifierNode, handles: list[str], seconds: float, concurrency: int
) -> _Run:
    latencies: list[int] = []
    missing = 0
    cursor = iter(range(10**12))

    async def worker(deadline: float) -> None:
        nonlocal missing
        while time.perf_counter() < deadline:
            handle = handles[next(cursor) % len(handles)]
            t0 = time.perf_counter_ns()
            try:
                await node.resolve(handle)
            except NotFoundError:
                missing += 1
            latencies.append(time.perf_counter_ns() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(worker(start + seconds) for _ in range(concurrency)))
    return _Run(latencies, time.perf_counter() - start, missing)


def _measure_resolver(
    url: str, handles: list[str], seconds: float, concurrency: int
) -> tuple[_Run, IdentifierNode]:
    catalog = Catalog(url)
    try:
        node = IdentifierNode.open(catalog, ResolverConfig(node="bench"))
        return asyncio.run(_resolver_run(node, handles, seconds, concurrency)), node
    finally:
        catalog.close()


# -- HTTP -----------------------------------------------------------------------------


@contextlib.contextmanager
def _api_server(url: str) -> Iterator[int]:
    """The real API over the catalog at ``url`` in a process of its own; its port."""
    with tempfile.TemporaryDirectory(prefix="factoryos-bench-resolve-api-") as tmp:
        proc = subprocess.Popen(
            [sys.executable, "-m", "factoryos.bench.resolve", "--serve", url, tmp],
            stdout=subprocess.PIPE,
        )
        try:
            yield _port_of(proc)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=TIMEOUT_S)
            if proc.stdout is not None:
                proc.stdout.close()


def _port_of(proc: "subprocess.Popen[bytes]") -> int:
    """The port the server process prints when it is ready to serve."""
    assert proc.stdout is not None
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        if not sel.select(TIMEOUT_S):
            raise BenchError(f"the API server did not start within {TIMEOUT_S:.0f} s")
    line = proc.stdout.readline().decode().split()
    if len(line) != 2 or line[0] != "PORT":
        raise BenchError(f"the API server failed to start (exit code {proc.poll()})")
    return int(line[1])


async def _answer(reader: asyncio.StreamReader) -> int:
    """Read one HTTP/1.1 answer with a Content-Length body; its status."""
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), TIMEOUT_S)
    lines = head.decode("latin-1").split("\r\n")
    fields = (line.partition(":") for line in lines[1:])
    length = next((int(v) for k, _, v in fields if k.lower() == "content-length"), 0)
    if length > MAX_BODY:
        raise BenchError(f"an answer of {length} bytes")
    await asyncio.wait_for(reader.readexactly(length), TIMEOUT_S)
    return int(lines[0].split(" ", 2)[1])


Request = Callable[[int], bytes]
"""The raw bytes of a run's i-th HTTP request."""


def _single(key: str, handles: list[str]) -> Request:
    head = f"Host: bench\r\nAuthorization: Bearer {key}\r\n"

    def request(i: int) -> bytes:
        return f"GET /api/resolve/{handles[i % len(handles)]} HTTP/1.1\r\n{head}\r\n".encode()

    return request


def _batch(key: str, handles: list[str], size: int) -> Request:
    head = f"Host: bench\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\n"

    def request(i: int) -> bytes:
        at = (i * size) % (len(handles) - size)
        body = json.dumps({"handles": handles[at : at + size]})
        length = f"Content-Length: {len(body)}\r\n"
        return f"POST /api/resolve HTTP/1.1\r\n{head}{length}\r\n{body}".encode()

    return request


async def _http_run(port: int, request: Request, seconds: float, clients: int) -> _Run:
    """``clients`` keep-alive connections sending ``request``s, one at a time each."""
    latencies: list[int] = []
    counts = {"missing": 0, "errors": 0}
    cursor = iter(range(10**12))

    async def client(deadline: float) -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < deadline:
                raw = request(next(cursor))
                t0 = time.perf_counter_ns()
                writer.write(raw)
                status = await _answer(reader)
                latencies.append(time.perf_counter_ns() - t0)
                if status == 404:
                    counts["missing"] += 1
                elif status != 200:
                    counts["errors"] += 1
        finally:
            writer.close()
            await writer.wait_closed()

    start = time.perf_counter()
    await asyncio.gather(*(client(start + seconds) for _ in range(clients)))
    return _Run(latencies, time.perf_counter() - start, counts["missing"], counts["errors"])


def _measure_http(
    url: str, key: str, handles: list[str], seconds: float, clients: int
) -> tuple[_Run, _Run]:
    """One handle per request, then BATCH per request, against one server process."""
    with _api_server(url) as port:
        # not counted: the server process's first requests load code and open connections
        asyncio.run(_http_run(port, _single(key, handles[-1000:]), WARMUP_S, clients))
        single = asyncio.run(_http_run(port, _single(key, handles), seconds, clients))
        batch = asyncio.run(_http_run(port, _batch(key, handles, BATCH), seconds, clients))
    return single, batch


def _serve(url: str, folder: str) -> None:
    """The server process (``python -m factoryos.bench.resolve --serve URL FOLDER``)."""
    import socket

    import uvicorn

    from factoryos.api import Services, create_app
    from factoryos.bus.inprocess import InProcessBus
    from factoryos.store.duckdb_store import DuckDBStore

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(2048)  # connections wait in the backlog until uvicorn accepts them
    catalog = Catalog(url)
    node = IdentifierNode.open(catalog, ResolverConfig(node="bench-http"))
    services = Services(
        catalog, DuckDBStore(Path(folder) / "ts.duckdb"), InProcessBus(), identifiers=node
    )
    config = uvicorn.Config(
        create_app(services), log_level="warning", access_log=False, lifespan="off"
    )
    sys.stdout.write(f"PORT {sock.getsockname()[1]}\n")
    sys.stdout.flush()
    uvicorn.Server(config).run(sockets=[sock])


# -- the whole run --------------------------------------------------------------------


def _figures(run: _Run, prefix: str, per_request: int = 1) -> dict[str, Any]:
    """Resolutions per second and the latency of one request (one resolution, or one batch
    of ``per_request``)."""
    if not run.latencies_ns:
        raise BenchError(f"{prefix or 'resolver'}: no request completed")
    ms = np.asarray(run.latencies_ns, dtype=np.float64) / 1e6
    return {
        f"{prefix}resolutions": len(ms) * per_request,
        f"{prefix}per_s": len(ms) * per_request / run.wall_s,
        f"{prefix}wall_s": run.wall_s,
        f"{prefix}p50_ms": float(np.percentile(ms, 50)),
        f"{prefix}p99_ms": float(np.percentile(ms, 99)),
    }


def run_resolve_bench(
    identifiers: int = 100_000,
    seconds: float = 10.0,
    *,
    catalog_url: str | None = None,
    concurrency: int = CONCURRENCY,
    http_clients: int = HTTP_CLIENTS,
    progress: bool = True,
) -> dict[str, Any]:
    """Run the benchmark; the figures as a dict (the ``--json`` object)."""
    if identifiers < 100 or seconds <= 0 or concurrency < 1 or http_clients < 1:
        raise BenchError("identifiers (at least 100), seconds and concurrency must be positive")
    load = os.getloadavg()[0]
    handles = plan(identifiers)
    with progress_bar(progress) as bar, _catalog(catalog_url) as (url, backend):
        key, register_per_s = _register(url, identifiers, bar)
        job = bar.add_task("resolving (resolver, then HTTP)", total=None) if bar else None
        resolver, node = _measure_resolver(url, handles, seconds, concurrency)
        http, batch = _measure_http(url, key, handles, seconds, http_clients)
        if bar is not None and job is not None:
            bar.update(job, total=1, completed=1)
    if http.errors or batch.errors:
        raise BenchError(f"HTTP: {http.errors + batch.errors} answers were neither 200 nor 404")
    return {
        "identifiers": identifiers,
        "catalog": backend,
        "seconds": seconds,
        "register_per_s": register_per_s,
        "mix": {
            "hot": HOT_SHARE,
            "cold": COLD_SHARE,
            "missing": MISSING_SHARE,
            "hot_handles": max(1, round(identifiers * HOT_FRACTION)),
        },
        "cache_size": node.resolver.cache.capacity,
        "concurrency": concurrency,
        **_figures(resolver, ""),
        "not_found": resolver.not_found,
        "hit_rate": node.resolver.cache.stats.hit_rate,
        "http_clients": http_clients,
        **_figures(http, "http_"),
        "http_not_found": http.not_found,
        "http_batch_size": BATCH,
        **_figures(batch, "http_batch_", BATCH),
        "cpus": os.cpu_count(),
        "load_before": load,
    }


def format_resolve_table(r: dict[str, Any]) -> Table:
    mix = r["mix"]
    table = Table(
        title=f"factoryos bench resolve — {r['identifiers']:,} identifiers ({r['catalog']}), "
        f"{r['seconds']:g} s each; requests {mix['hot']:.0%} hot ({mix['hot_handles']:,} "
        f"handles), {mix['cold']:.0%} any, {mix['missing']:.0%} missing"
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("registration (bulk)", f"{r['register_per_s']:,.0f} identifiers/s"),
        (f"resolver, {r['concurrency']} in flight", f"{r['per_s']:,.0f} resolutions/s"),
        ("resolver latency p50 / p99", f"{r['p50_ms']:.3f} / {r['p99_ms']:.3f} ms"),
        ("resolver cache hit rate", f"{r['hit_rate']:.1%} (cache {r['cache_size']:,})"),
        (f"HTTP API, {r['http_clients']} connections", f"{r['http_per_s']:,.0f} resolutions/s"),
        ("HTTP latency p50 / p99", f"{r['http_p50_ms']:.2f} / {r['http_p99_ms']:.2f} ms"),
        (
            f"HTTP batches of {r['http_batch_size']}, {r['http_clients']} connections",
            f"{r['http_batch_per_s']:,.0f} resolutions/s",
        ),
        (
            "batch request latency p50 / p99",
            f"{r['http_batch_p50_ms']:.1f} / {r['http_batch_p99_ms']:.1f} ms",
        ),
        ("not found (resolver / HTTP)", f"{r['not_found']:,} / {r['http_not_found']:,}"),
        ("CPUs, load before", f"{r['cpus']}, {r['load_before']:.2f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table


if __name__ == "__main__" and sys.argv[1:2] == ["--serve"]:
    _serve(sys.argv[2], sys.argv[3])
