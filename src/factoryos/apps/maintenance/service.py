"""The maintenance application as the platform runs it: training, the registry, the monitor.

Training and registry calls are synchronous (numpy, the catalog): the API runs them in
worker threads. The monitor lives on the event loop; after a promotion or rollback the
caller hands it the promoted versions again (:meth:`MaintenanceApp.reload_models`) on the
loop, so scoring never sees a half-changed set of models.
"""

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from factoryos.apps.maintenance.config import (
    MaintenanceSection,
    model_name,
    signal_paths,
)
from factoryos.apps.maintenance.errors import MaintenanceError
from factoryos.apps.maintenance.monitor import AnomalyEvent, HealthMonitor
from factoryos.apps.maintenance.orders import WorkOrders
from factoryos.apps.maintenance.rul_service import RulTracker
from factoryos.apps.maintenance.training import Trained, history_rows, train_anomaly
from factoryos.bus.inprocess import InProcessBus, Overflow
from factoryos.edge.inference import Gate
from factoryos.model.uns import tag_path
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.catalog import Catalog, CatalogError
from factoryos.store.model_registry import ModelRegistry, ModelVersion
from factoryos.store.work_orders import WorkOrderStore

log = logging.getLogger(__name__)

NS_PER_H = 3_600 * 1_000_000_000
QUEUE_BATCHES = 1_000


class UnknownEquipmentError(MaintenanceError):
    """An equipment the ``maintenance:`` section does not watch."""


@dataclass(frozen=True, slots=True)
class TrainingRequest:
    equipment: str
    start_ns: int | None = None  # None: ``training_hours`` before ``end_ns``
    end_ns: int | None = None  # None: now
    family: str | None = None  # None: the apps file's
    promote: bool = False


class MaintenanceApp:
    def __init__(
        self,
        section: MaintenanceSection,
        catalog: Catalog,
        store: TimeSeriesStore,
        bus: InProcessBus,
        tag_ids: Mapping[str, int],
        tenant: str,
    ) -> None:
        self.section = section
        self.tenant = tenant
        self.tenant_id = catalog.ensure_tenant(tenant)
        self.registry = ModelRegistry(catalog)
        self._store = store
        self._bus = bus
        self._tag_ids = dict(tag_ids)
        self.orders = WorkOrders(WorkOrderStore(catalog), section.work_orders)
        self.monitor = HealthMonitor(section.anomaly, tag_ids, bus.publish, self._anomaly)
        self.rul = RulTracker(
            section.rul, store, tag_ids, self.registry, self.orders, self.tenant_id
        )
        self._sub = bus.subscribe(
            "maintenance", maxsize=QUEUE_BATCHES, overflow=Overflow.DROP_OLDEST
        )
        self.lost_orders = 0

    def promoted(self) -> list[ModelVersion]:
        return self.registry.promoted_all(self.tenant_id)

    def reload_models(self, promoted: list[ModelVersion]) -> None:
        """On the loop: score with ``promoted`` from the next batch (and estimate) on."""
        self.monitor.load(promoted)
        self.rul.load(promoted)

    def train(self, request: TrainingRequest, actor: str, now_ns: int) -> ModelVersion:
        """Fit on stored history and register a candidate (promoted when asked). Thread."""
        spec = self.section.anomaly.get(request.equipment)
        if spec is None:
            raise UnknownEquipmentError(
                f"equipment {request.equipment!r} is not under maintenance.anomaly"
            )
        if request.family is not None:
            spec = spec.model_copy(update={"family": request.family})
        end = now_ns if request.end_ns is None else request.end_ns
        start = (
            end - int(spec.training_hours * NS_PER_H)
            if request.start_ns is None
            else request.start_ns
        )
        if not start < end:
            raise MaintenanceError(f"training window: start {start} is not before end {end}")
        signals = signal_paths(request.equipment, spec)
        gate = None
        ids = [self._tag_ids[s] for s in signals]
        if spec.gate is not None:
            gate_tag = tag_path(request.equipment, spec.gate.tag)
            gate = Gate(gate_tag, tuple(spec.gate.values))
            ids.append(self._tag_ids[gate_tag])
        rows = history_rows(self._store.iter_raw(ids, start, end), signals, self._tag_ids, gate)
        labels = self.orders.training_labels(self.tenant_id, request.equipment)
        failures = [(lb.start_ns, lb.window.end_ns if lb.window else lb.end_ns) for lb in labels]
        trained: Trained = train_anomaly(
            request.equipment, spec, rows, created_by=actor, failures=failures
        )
        created = datetime.fromtimestamp(now_ns / 1e9, UTC)
        version = self.registry.register(self.tenant_id, trained.model, created)
        if request.promote:
            version = self.registry.promote(
                self.tenant_id, version.name, version.version, actor, created
            )
        log.info("trained %s v%d (%s, %d rows)", version.name, version.version,
                 version.family, version.train_rows)  # fmt: skip
        return version

    def train_missing(self, start_ns: int, end_ns: int, actor: str) -> dict[str, str]:
        """Train and promote a model for every watched equipment that has none in use
        (a new installation, the demo). Thread. One equipment's failure does not stop the
        others: the answer says, per equipment, the version trained or why none was."""
        in_use = {v.name for v in self.promoted()}
        outcome: dict[str, str] = {}
        for equipment in self.section.anomaly:
            if model_name(equipment) in in_use:
                continue
            request = TrainingRequest(equipment, start_ns, end_ns, promote=True)
            try:
                version = self.train(request, actor, end_ns)
            except MaintenanceError as exc:
                outcome[equipment] = f"not trained: {exc}"
                continue
            outcome[equipment] = f"v{version.version} {version.family}"
        return outcome

    def _open_order(self, event: AnomalyEvent) -> None:
        shares = ", ".join(f"{s.rsplit('/', 1)[-1]} {v:.0%}" for s, v in event.top)
        self.orders.open_from_anomaly(
            self.tenant_id,
            event.equipment,
            at_ns=event.ts,
            summary=f"anomaly score {event.score:.2f} (threshold 1) from {shares}",
            data={
                "score": event.score,
                "since": event.since,
                "signals": [{"signal": s, "share": v} for s, v in event.top],
                "family": event.family,
            },
            model_version=f"{event.model} v{event.version}",
        )

    async def _anomaly(self, event: AnomalyEvent) -> None:
        try:
            await asyncio.to_thread(self._open_order, event)
        except (MaintenanceError, CatalogError) as exc:
            self.lost_orders += 1
            log.error("%s: anomaly at %d opened no work order: %s", event.equipment, event.ts, exc)

    async def run(self, stop: asyncio.Event) -> None:
        """Score every batch with the promoted models until ``stop``."""
        self.reload_models(await asyncio.to_thread(self.promoted))
        waker = asyncio.create_task(self._interrupt_when_set(stop))
        estimates = asyncio.create_task(self.rul.run(stop), name="rul-estimates")
        try:
            while not stop.is_set() and not self._sub.closed:
                await self._sub.wait()
                for batch in self._sub.take_all():
                    await self.monitor.handle(batch)
        finally:
            waker.cancel()
            self._sub.close()
            if not stop.is_set():  # scoring failed: estimates stop with it
                estimates.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await estimates

    async def _interrupt_when_set(self, stop: asyncio.Event) -> None:
        await stop.wait()
        self._sub.interrupt()
