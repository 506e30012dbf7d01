"""The running platform: drivers → bus → ingest → store, with the API and web page on top.

``factoryos demo`` and ``factoryos serve`` both build a :class:`Platform`; the demo also
starts the virtual factory, whose Modbus servers the drivers then poll like any real PLC.
"""

import asyncio
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import uvicorn

from factoryos.api.app import create_app
from factoryos.api.services import EnergyApp, OeeApp, Services
from factoryos.api.tokens import TokenIssuer
from factoryos.apps.alarms.config import AlarmConfig, alarm_config
from factoryos.apps.alarms.notifying import notify_alarms
from factoryos.apps.alarms.processor import AlarmProcessor, OnEvent
from factoryos.apps.energy.carbon_service import CarbonService
from factoryos.apps.energy.config import EnergySection
from factoryos.apps.energy.config import load_section as load_energy
from factoryos.apps.energy.service import EnergyService
from factoryos.apps.maintenance.config import MaintenanceSection
from factoryos.apps.maintenance.config import load_section as load_maintenance
from factoryos.apps.maintenance.service import MaintenanceApp
from factoryos.apps.notify import Notifier
from factoryos.apps.notify.settings import NotifySettings, load_notify
from factoryos.apps.oee.config import OeeSection, load_section
from factoryos.apps.oee.scheduled import check_report_channels, report_job
from factoryos.apps.oee.service import OeeService
from factoryos.apps.trace.production import TraceProcessor, TraceSection
from factoryos.apps.trace.production import load_section as load_trace
from factoryos.apps.trace.production import plans as trace_plans
from factoryos.apps.trace.spc.config import SpcSection
from factoryos.apps.trace.spc.config import load_section as load_spc
from factoryos.apps.trace.spc.service import SpcService
from factoryos.bus.inprocess import InProcessBus
from factoryos.connect.polling import run_all
from factoryos.connect.registry import build_drivers
from factoryos.errors import FactoryOSError
from factoryos.model import SiteFile
from factoryos.model.appsfile import AppsFile, load_apps_file
from factoryos.model.errors import AppsFileError
from factoryos.runtime.feeds import Feeds, Task
from factoryos.runtime.metrics import MetricSources, build_registry
from factoryos.runtime.retention_job import DEFAULT_EVERY_S, RetentionJob
from factoryos.runtime.settings import ServerTls
from factoryos.store.alarm_log import AlarmLog
from factoryos.store.backend import TimeSeriesStore, open_store
from factoryos.store.carbon_reports import CarbonReports
from factoryos.store.catalog import Catalog, Role
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.epcis_query import EpcisQueries
from factoryos.store.ingest import Ingestor
from factoryos.store.retention import policy_of_site

log = logging.getLogger(__name__)

APP_SECTIONS = {"alarms", "oee", "notify", "maintenance", "spc", "trace", "energy"}
STOP_TIMEOUT_S = 30.0
"""How long each part may take to stop once told; one that hangs is cancelled and named, so
a stuck part cannot keep the whole platform from shutting down."""
"""The apps-file sections the platform reads; any other is refused as a misspelling."""


class PlatformError(FactoryOSError):
    """A part of the running platform (drivers, ingest, API) stopped on its own."""


async def _started(server: uvicorn.Server, api: "asyncio.Task[None]") -> None:
    # uvicorn exposes start-up only as a flag.
    while not server.started and not api.done():  # noqa: ASYNC110
        await asyncio.sleep(0.05)
    if api.done():
        await api  # re-raises why the API could not start (port in use …)


async def _finish(
    tasks: "list[asyncio.Task[None]]", timeout_s: float = STOP_TIMEOUT_S
) -> list[str]:
    """Wait for ``tasks`` to end; their failures as text (logged), nothing for clean ends.

    Tasks still running after ``timeout_s`` are cancelled and reported as failures."""
    if not tasks:
        return []
    await asyncio.wait(tasks, timeout=timeout_s)
    hung = [t for t in tasks if not t.done()]
    for task in hung:
        task.cancel()
        log.error("%s did not stop within %g s: cancelled", task.get_name(), timeout_s)
    if hung:
        await asyncio.wait(hung, timeout=timeout_s)
    failures = [f"{t.get_name()}: did not stop within {timeout_s:g} s" for t in hung]
    for task in tasks:
        if task in hung or task.cancelled() or task.exception() is None:
            continue
        exc = task.exception()
        log.error("%s failed: %s", task.get_name(), exc, exc_info=exc)
        failures.append(f"{task.get_name()}: {exc}")
    return failures


@dataclass
class Platform:
    """Everything one embedded FactoryOS process runs, opened on a data directory."""

    site: SiteFile
    data_dir: Path
    store_url: str | None = None  # a PostgreSQL URL; None: DuckDB in data_dir
    retention_every_s: float = DEFAULT_EVERY_S
    token_secret: str | None = None
    """Signs users' access tokens; None: API keys only (no user login)."""
    apps_file: Path | None = None
    """The applications' configuration (alarms …); None: no applications run."""
    on_alarm: OnEvent | None = None
    """Receives every alarm event; None: the notify: section's notifier, if any."""
    catalog: Catalog = field(init=False)
    store: TimeSeriesStore = field(init=False)
    bus: InProcessBus = field(init=False)
    tag_ids: dict[str, int] = field(init=False)
    alarms: AlarmConfig | None = field(init=False)
    oee: OeeSection | None = field(init=False)
    notify: NotifySettings | None = field(init=False)
    maintenance: MaintenanceSection | None = field(init=False)
    maintenance_app: MaintenanceApp | None = field(init=False)
    spc: SpcSection | None = field(init=False)
    trace: TraceSection | None = field(init=False)
    energy: EnergySection | None = field(init=False)

    def __post_init__(self) -> None:
        apps = self._apps()
        self.oee, self.notify, self.maintenance = None, None, None
        self.spc = None
        self.trace = None
        self.energy = None
        if apps is not None:  # everything the file says is checked before anything opens
            self.oee = load_section(apps, self.site)
            self.notify = load_notify(apps)
            self.maintenance = load_maintenance(apps, self.site)
            self.spc = load_spc(apps, self.site)
            self.trace = load_trace(apps, self.site)
            self.energy = load_energy(apps, self.site)
            if self.oee is not None:
                channels = None if self.notify is None else self.notify.targets.keys()
                check_report_channels(apps, self.oee, channels)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.catalog = Catalog(f"sqlite:///{self.data_dir / 'catalog.sqlite'}")
        self.catalog.migrate()
        self.tag_ids = self.catalog.register_site(self.site)
        try:
            self.alarms = None if apps is None else alarm_config(apps, self.tag_ids)
        except AppsFileError:
            self.catalog.close()
            raise
        self.store = open_store(self.store_url or str(self.data_dir / "timeseries.duckdb"))
        self.bus = InProcessBus()
        self.maintenance_app = self._maintenance_app()

    def _apps(self) -> AppsFile | None:
        """The apps file, parsed and its section names checked (before anything runs)."""
        if self.apps_file is None:
            return None
        apps = load_apps_file(self.apps_file)
        apps.check_sections(APP_SECTIONS)
        return apps

    def _alarm_processor(self, notifier: Notifier | None) -> AlarmProcessor | None:
        """Subscribes at once: build it before the drivers start publishing."""
        if self.alarms is None:
            return None
        tenant_id = self.catalog.ensure_tenant(self.site.site.tenant)
        history = AlarmLog(self.catalog)
        on_event = self.on_alarm
        if on_event is None and notifier is not None:
            on_event = notify_alarms(notifier)
        return AlarmProcessor(self.alarms, self.bus, history, tenant_id, on_event=on_event)

    def _maintenance_app(self) -> MaintenanceApp | None:
        """Subscribes to the bus at once, before any driver publishes."""
        if self.maintenance is None:
            return None
        return MaintenanceApp(
            self.maintenance,
            self.catalog,
            self.store,
            self.bus,
            self.tag_ids,
            self.site.site.tenant,
        )

    def _spc_service(self) -> SpcService | None:
        """Control charts of the ``spc:`` section's characteristics, and their alarms."""
        if self.spc is None:
            return None
        return SpcService(self.spc, self.catalog, self.store, self.tag_ids, self.site.site.tenant)

    def _trace_processor(self) -> TraceProcessor | None:
        """Production events of the ``trace:`` section's lines; subscribes at once: build it
        before the drivers start publishing."""
        if self.trace is None:
            return None
        tenant_id = self.catalog.ensure_tenant(self.site.site.tenant)
        events = EpcisEvents(self.catalog)
        return TraceProcessor(trace_plans(self.trace), self.bus, events, tenant_id, self.tag_ids)

    def _energy_app(self, oee: OeeApp | None) -> EnergyApp | None:
        """Energy per place, shift and product (shifts and parts from OEE, when there)."""
        if self.energy is None:
            return None
        service = EnergyService(
            self.energy, self.store, self.tag_ids, None if oee is None else oee.service
        )
        tenant = self.site.site.tenant
        carbon = None
        if self.energy.carbon is not None:
            assert self.apps_file is not None  # the section came from it
            carbon = CarbonService(
                self.energy.carbon,
                str(self.apps_file),
                service,
                CarbonReports(self.catalog),
                self.catalog.ensure_tenant(tenant),
                self.site.site.name,
                {plan.line: plan for plan in trace_plans(self.trace)} if self.trace else None,
                EpcisQueries(self.catalog),
            )
        return EnergyApp(tenant, service, carbon)

    def _apps_tasks(self, notifier: Notifier | None) -> tuple[OeeApp | None, dict[str, Task]]:
        """OEE for the API, and the scheduled reports to run."""
        tasks: dict[str, Task] = {}
        if self.oee is None:
            return None, tasks
        service = OeeService(self.oee, self.store, self.tag_ids)
        for config in self.oee.reports:
            assert notifier is not None  # checked at start: reports name notify channels
            job = report_job(config, service, notifier, self.data_dir / "reports")
            tasks[f"report-{config.name}"] = job.run
        return OeeApp(self.site.site.tenant, service), tasks

    def admin_key(self, name: str) -> str:
        """The admin key of ``data_dir/admin.key`` while it is valid, else a new one.

        A new key revokes earlier keys of the same name, so restarts never pile up
        valid admin credentials. The file is created readable by its owner only.
        """
        key_file = self.data_dir / "admin.key"
        tenant = self.site.site.tenant
        if key_file.exists():
            key = key_file.read_text().strip()
            found = self.catalog.authenticate(key)
            if found and found.tenant == tenant and found.role is Role.ADMIN:
                return key
        tenant_id = self.catalog.ensure_tenant(tenant)
        for old in self.catalog.api_keys(tenant_id):
            if old.name == name and not old.revoked:
                self.catalog.revoke_api_key(tenant_id, old.id)
        key = self.catalog.create_api_key(tenant, Role.ADMIN, name)
        fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)  # an older file may have been readable by others
        with os.fdopen(fd, "w") as out:
            out.write(key + "\n")
        return key

    async def run(
        self,
        host: str,
        port: int,
        stop: asyncio.Event,
        on_ready: Callable[[], None],
        feeds: Feeds | None = None,
        tls: ServerTls | None = None,
    ) -> None:
        """Poll devices, ingest, and serve the API until ``stop`` is set or a part fails;
        the API over HTTPS when ``tls`` names a certificate and key.

        Shutdown goes in data-flow order: producers first (drivers and inbound feeds; their
        last samples still reach the bus), then the ingest and other consumers drain what
        is queued, then the API. A part that ends on its own stops the others and raises
        :class:`PlatformError`, so no driver keeps polling into a bus nobody stores from.
        """
        feeds = feeds or Feeds()
        drivers = build_drivers(self.site, self.tag_ids)
        tokens = None if self.token_secret is None else TokenIssuer(self.token_secret)
        notifier = None if self.notify is None else Notifier(self.notify)
        alarms = self._alarm_processor(notifier)
        oee, app_tasks = self._apps_tasks(notifier)
        maintenance = self.maintenance_app
        if maintenance is not None:
            app_tasks["maintenance"] = maintenance.run
        spc = self._spc_service()
        if spc is not None:
            app_tasks["spc"] = spc.run
        trace = self._trace_processor()
        if trace is not None:
            app_tasks["trace"] = trace.run
        services = Services(
            self.catalog,
            self.store,
            self.bus,
            writer=drivers,
            tokens=tokens,
            alarms=alarms,
            oee=oee,
            maintenance=maintenance,
            spc=spc,
            energy=self._energy_app(oee),
        )
        ingestor = Ingestor(self.store, self.bus)
        retention = RetentionJob(
            self.store, policy_of_site(self.site, self.tag_ids), self.retention_every_s
        )
        sources = MetricSources(
            ingestors=[ingestor],
            store=self.store,
            tag_ids=list(self.tag_ids.values()),
            bus=self.bus,
            drivers=list(drivers.running),
            retention=retention.stats,
            alarms=None if alarms is None else alarms.stats,
            notify=None if notifier is None else notifier.stats,
        )
        app = create_app(services, metrics_registry=build_registry(sources))
        config = uvicorn.Config(
            app,
            host=host,
            port=port,
            log_level="warning",
            ssl_certfile=tls.certfile if tls else None,
            ssl_keyfile=tls.keyfile if tls else None,
        )
        server = uvicorn.Server(config)
        consumers = {
            "ingest": ingestor.run,
            "retention": retention.run,
            **({} if alarms is None else {"alarms": alarms.run}),
            **app_tasks,
            **feeds.consumers(self.bus, self.site, self.tag_ids),
        }
        producers: dict[str, Task] = {
            "drivers": lambda halt: run_all(drivers.running, self.bus.publish, halt),
            **feeds.producers(self.bus, self.tag_ids, ingestor),
        }
        consume_stop, produce_stop = asyncio.Event(), asyncio.Event()
        consuming = [asyncio.create_task(t(consume_stop), name=n) for n, t in consumers.items()]
        # The notifier outlives the consumers that feed it (alarms, reports): it stops last.
        notify_stop = asyncio.Event()
        notifying = (
            []
            if notifier is None
            else [asyncio.create_task(notifier.run(notify_stop), name="notify")]
        )
        producing = [asyncio.create_task(t(produce_stop), name=n) for n, t in producers.items()]
        api = asyncio.create_task(server.serve(), name="api")
        stopped = asyncio.create_task(stop.wait(), name="stop")
        try:
            await _started(server, api)
            on_ready()
            done, _ = await asyncio.wait(
                {stopped, api, *consuming, *producing, *notifying},
                return_when=asyncio.FIRST_COMPLETED,
            )
        finally:
            produce_stop.set()
            failures = await _finish(producing)
            consume_stop.set()
            failures += await _finish(consuming)
            notify_stop.set()
            failures += await _finish(notifying)
            server.should_exit = True
            failures += await _finish([api])
            stopped.cancel()
        ended = sorted(t.get_name() for t in done if t is not stopped)
        if ended or failures:
            raise PlatformError(f"{', '.join(ended) or 'shutdown'} failed: {'; '.join(failures)}")

    def close(self) -> None:
        self.bus.close()
        self.store.close()
