"""Start-up of ``factoryos demo`` and ``factoryos serve``: checks, progress, signals."""

import asyncio
import errno
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from factoryos.apps.maintenance.service import MaintenanceApp
from factoryos.apps.trace.production import backfill
from factoryos.apps.trace.production import plans as trace_plans
from factoryos.errors import FactoryOSError
from factoryos.model import SiteFile
from factoryos.runtime.feeds import Feeds
from factoryos.runtime.history import record_history
from factoryos.runtime.platform import Platform
from factoryos.runtime.retention_job import DEFAULT_EVERY_S
from factoryos.runtime.settings import ServerTls
from factoryos.sim import SimulatorHost, VirtualFactory
from factoryos.store.epcis_events import EpcisEvents


class LaunchError(FactoryOSError):
    """The platform cannot start (port taken, data directory unusable …)."""


def check_port_free(host: str, port: int) -> None:
    """Raise :class:`LaunchError` naming host and port when something already listens there."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                raise LaunchError(
                    f"port {port} on {host} is already in use: stop the other process "
                    "or pass --port"
                ) from exc
            raise LaunchError(f"cannot listen on {host}:{port}: {exc.strerror}") from exc


def _stop_on_signals(stop: asyncio.Event) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)


HISTORY_STEP_S = 10.0  # coarser than live polling: a day of history in seconds
LIVE_STEP_S = 1.0  # the demo devices' poll interval
LIVE_RATE_HOURS = 1.0  # history at the live poll rate: the demo's anomaly training window


def _history(platform: Platform, seed: int, hours: float, now_ns: int) -> VirtualFactory:
    """Store ``hours`` of simulated history up to ``now_ns``: the last LIVE_RATE_HOURS at
    the live poll rate (what anomaly models train on: their rows are polls), the rest at
    HISTORY_STEP_S. The two parts are two simulator runs: the second takes over the machines'
    wear, while their states and temperatures restart where they meet. Answers the factory as
    history left it: the live plant goes on with its wear."""
    live = min(hours, LIVE_RATE_HOURS)
    live_start = now_ns - round(live * 3600e9)
    coarse = hours - live
    factory = VirtualFactory(platform.site, seed=seed + 1, start_ns=live_start, step_s=LIVE_STEP_S)
    if coarse > 0:
        start = live_start - round(coarse * 3600e9)
        before = VirtualFactory(platform.site, seed=seed, start_ns=start, step_s=HISTORY_STEP_S)
        steps = round(coarse * 3600 / HISTORY_STEP_S)
        record_history(before, platform.store, platform.tag_ids, steps)
        factory.carry_wear(before)
    record_history(factory, platform.store, platform.tag_ids, round(live * 3600 / LIVE_STEP_S))
    return factory


async def _train_models(
    app: MaintenanceApp, site: SiteFile, start: int, now: int, step: Callable[[str], None]
) -> None:
    step("training an anomaly model per watched machine on that history")
    trained = await asyncio.to_thread(app.train_missing, start, now, "demo")
    for equipment, outcome in trained.items():
        step(f"  {equipment}: {outcome}")
    if app.section.rul:
        step("training remaining-useful-life models on simulated run-to-failure lives")
        for kind, outcome in (
            await asyncio.to_thread(app.rul.train_simulated, site, "demo", now)
        ).items():
            step(f"  rul/{kind}: {outcome}")


async def _trace_history(
    platform: Platform, start: int, now: int, step: Callable[[str], None]
) -> None:
    """The production events (EPCIS) of the stored history, as if the trace had watched it."""
    assert platform.trace is not None
    step("emitting the production events (EPCIS) of that history")
    tenant_id = platform.catalog.ensure_tenant(platform.site.site.tenant)
    events, plans = EpcisEvents(platform.catalog), trace_plans(platform.trace)
    done = await asyncio.to_thread(
        backfill, plans, platform.store, events, tenant_id, platform.tag_ids, start, now
    )
    for line, made in done.lines.items():
        step(f"  {line}: {made.lots_finished} lots, {made.cases} cases, {made.shipments} shipments")


async def run_platform(
    site: SiteFile,
    data_dir: Path,
    host: str,
    port: int,
    *,
    simulate: bool,
    seed: int,
    step: Callable[[str], None],
    on_ready: Callable[[str], None],
    feeds: Feeds | None = None,
    store_url: str | None = None,
    retention_every_s: float = DEFAULT_EVERY_S,
    tls: ServerTls | None = None,
    token_secret: str | None = None,
    apps_file: Path | None = None,
    history_hours: float = 0.0,
) -> None:
    """Run until SIGINT/SIGTERM; ``step`` reports start-up progress, ``on_ready`` the key;
    ``tls`` serves the API over HTTPS; ``history_hours`` of simulated history are stored
    first when simulating into an empty store (so the OEE board has days to show)."""
    stop = asyncio.Event()
    _stop_on_signals(stop)
    step("opening the catalog and time-series store")
    platform = Platform(site, data_dir, store_url, retention_every_s, token_secret, apps_file)
    sim = (
        SimulatorHost(VirtualFactory(site, seed=seed, start_ns=time.time_ns()))
        if simulate
        else None
    )
    tasks: list[asyncio.Task[None]] = []
    try:
        key = platform.admin_key("demo-admin" if simulate else "serve-admin")
        if simulate and history_hours > 0 and platform.store.count() == 0:
            step(f"storing {history_hours:g} simulated hours of history (once, on a new store)")
            now = time.time_ns()
            recorded = await asyncio.to_thread(_history, platform, seed, history_hours, now)
            start = recorded.start_ns
            if sim is not None:
                sim.factory.carry_wear(recorded)
            if platform.maintenance_app is not None:
                await _train_models(platform.maintenance_app, site, start, now, step)
            if platform.trace is not None:
                await _trace_history(platform, now - round(history_hours * 3600e9), now, step)
        if sim is not None:
            step(f"starting the virtual factory ({len(site.devices)} Modbus devices)")
            await sim.start_all()
            sim.sync_all()
            tasks.append(asyncio.create_task(sim.run_realtime(stop), name="simulator"))
        step("starting drivers, ingest and the API")
        await platform.run(host, port, stop, lambda: on_ready(key), feeds, tls)
        await asyncio.gather(*tasks)
    finally:
        if sim is not None:
            await sim.stop_all()
        platform.close()
