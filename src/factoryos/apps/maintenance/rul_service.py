"""Remaining useful life as the platform runs it: training per type, estimates per equipment.

Every ``every_s`` each equipment of a type with a promoted ``rul/<type>`` model gets a new
estimate from its history since its last repair — the end of the newest closed work order's
repair window, else the start of its stored history. The history is read incrementally
(rows are kept between estimates, so a long run costs only its new samples). An estimate
whose lower bound is under the work-order threshold (``work_orders.rul_threshold_h``) opens
a RUL work order, or adds its evidence to the live one. Estimates are in running hours.
"""

import asyncio
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np

from factoryos.apps.maintenance.config import RulSpec
from factoryos.apps.maintenance.errors import MaintenanceError
from factoryos.apps.maintenance.orders import WorkOrders
from factoryos.apps.maintenance.rul import RulConfig
from factoryos.apps.maintenance.rul_live import (
    F64,
    RulEstimate,
    RulEstimateError,
    RulRunner,
    cycle_means,
    model_name,
    trained_model,
)
from factoryos.apps.maintenance.training import assembled_rows, code_version
from factoryos.edge.inference import Gate, RowAssembler
from factoryos.model.site import SiteFile
from factoryos.model.uns import tag_path
from factoryos.sim.lives import run_to_failure
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.catalog import CatalogError
from factoryos.store.model_registry import ModelRegistry, ModelVersion

log = logging.getLogger(__name__)

LIFE_STEP_S = 120.0  # fine enough for 30-minute cycles, and half the simulation of 60 s
# Simulated lives are many and clean: one seed and three folds validate them well enough,
# and keep the training to seconds.
SIMULATED_FIT = RulConfig(seeds=1, folds=3, rounds=300)
FIRST_LIFE_SEED = 10_000  # simulated lives use seeds of their own, apart from the demo's


def _utc(ns: int) -> datetime:
    return datetime.fromtimestamp(ns / 1e9, UTC)


@dataclass
class _Track:
    """One equipment's rows since its run started."""

    start: int
    assembler: RowAssembler
    ts: list[int] = field(default_factory=list)
    rows: list[F64] = field(default_factory=list)
    read_to: int = 0


def _gate(equipment: str, spec: RulSpec) -> Gate | None:
    if spec.gate is None:
        return None
    return Gate(tag_path(equipment, spec.gate.tag), tuple(spec.gate.values))


def simulate_lives(site: SiteFile, spec: RulSpec) -> tuple[list[F64], tuple[int, int]]:
    """The cycles of ``spec.simulated_lives`` run-to-failure lives of the type's equipment
    (in turn), and the time they span."""
    tags = [*spec.sensors, *([spec.gate.tag] if spec.gate else [])]
    lives: list[F64] = []
    first, last = 2**63 - 1, 0
    for i in range(spec.simulated_lives):
        path = spec.equipment[i % len(spec.equipment)]
        life = run_to_failure(site, path, tags, FIRST_LIFE_SEED + i, step_s=LIFE_STEP_S)
        if not life.failed:
            continue
        running = (
            np.isin(life.values[:, -1], spec.gate.values)
            if spec.gate
            else np.ones(len(life.ts), dtype=bool)
        )
        values = life.values[running][:, : len(spec.sensors)]
        lives.append(cycle_means(life.ts[running], values, spec.cycle_s))
        first, last = min(first, int(life.ts[0])), max(last, int(life.ts[-1]))
    if not lives:
        raise RulEstimateError("no simulated life reached its wear failure")
    return lives, (first, last)


class RulTracker:
    def __init__(
        self,
        specs: Mapping[str, RulSpec],
        store: TimeSeriesStore,
        tag_ids: Mapping[str, int],
        registry: ModelRegistry,
        orders: WorkOrders,
        tenant_id: int,
    ) -> None:
        self._specs = dict(specs)
        self._store = store
        self._tag_ids = dict(tag_ids)
        self._registry = registry
        self._orders = orders
        self._tenant_id = tenant_id
        self._runners: dict[str, tuple[RulRunner, int, float]] = {}
        self._tracks: dict[str, _Track] = {}
        self.estimates: dict[str, RulEstimate | str] = {}

    def load(self, promoted: list[ModelVersion]) -> None:
        """Use the promoted ``rul/<type>`` versions (from the next estimate on)."""
        runners: dict[str, tuple[RulRunner, int, float]] = {}
        for kind, spec in self._specs.items():
            version = next((v for v in promoted if v.name == model_name(kind)), None)
            if version is None:
                continue
            try:
                runner = RulRunner.of(version.artifact, version.metrics, spec.cycle_s)
            except (RulEstimateError, RuntimeError) as exc:  # ORT refuses: say so, go on
                log.error("%s v%d: not used: %s", version.name, version.version, exc)
                continue
            coverage = float(version.hyper_parameters.get("coverage", 0.0))
            runners[kind] = (runner, version.version, coverage)
        self._runners = runners

    def type_of(self, equipment: str) -> str | None:
        return next((k for k, s in self._specs.items() if equipment in s.equipment), None)

    # -- training ----------------------------------------------------------------------

    def train_simulated(self, site: SiteFile, actor: str, now_ns: int) -> dict[str, str]:
        """Train and promote ``rul/<type>`` from simulated lives where the apps file asks for
        them and no version is in use. Thread."""
        outcome: dict[str, str] = {}
        for kind, spec in self._specs.items():
            if spec.simulated_lives == 0 or self._registry.promoted(
                self._tenant_id, model_name(kind)
            ):
                continue
            try:
                lives, window = simulate_lives(site, spec)
                model, record = trained_model(kind, spec, lives, window, actor, code_version())
            except MaintenanceError as exc:
                log.error("rul/%s: no model trained: %s", kind, exc)
                outcome[kind] = f"not trained: {exc}"
                continue
            created = _utc(now_ns)
            version = self._registry.register(self._tenant_id, record, created)
            self._registry.promote(self._tenant_id, version.name, version.version, actor, created)
            rmse = model.metrics.get("cv_rmse_test_like", float("nan"))
            outcome[kind] = f"v{version.version} on {len(lives)} lives, CV RMSE {rmse:.1f} cycles"
        return outcome

    # -- estimates ---------------------------------------------------------------------

    def estimate(self, now_ns: int) -> None:
        """A new estimate for every equipment of a type with a model in use. Thread."""
        for kind, spec in self._specs.items():
            runner = self._runners.get(kind)
            if runner is None:
                continue
            for equipment in spec.equipment:
                try:
                    self._estimate(equipment, spec, runner, now_ns)
                except (MaintenanceError, CatalogError) as exc:
                    self.estimates[equipment] = str(exc)

    def _estimate(
        self, equipment: str, spec: RulSpec, runner: tuple[RulRunner, int, float], now_ns: int
    ) -> None:
        track = self._track(equipment, spec)
        signals = [tag_path(equipment, s) for s in spec.sensors]
        gate = _gate(equipment, spec)
        ids = [self._tag_ids[s] for s in [*signals, *([gate.tag] if gate else [])]]
        start = max(track.start, track.read_to)
        if start < now_ns:
            rows = assembled_rows(
                self._store.iter_raw(ids, start, now_ns), track.assembler, len(signals)
            )
            complete = ~np.isnan(rows.values).any(axis=1)  # a gap is left out, not guessed
            track.ts += rows.ts[complete].tolist()
            track.rows += list(rows.values[complete])
            track.read_to = now_ns
        ts = np.array(track.ts, dtype=np.int64)
        values = np.array(track.rows) if track.rows else np.empty((0, len(signals)))
        cycles = cycle_means(ts, values, spec.cycle_s)
        rul, lower, upper = runner[0].estimate(cycles)
        estimate = RulEstimate(
            equipment, now_ns, len(cycles), rul, lower, upper, runner[2], runner[1]
        )
        self.estimates[equipment] = estimate
        self._maybe_order(estimate)

    def _track(self, equipment: str, spec: RulSpec) -> _Track:
        labels = self._orders.training_labels(self._tenant_id, equipment)
        start = max((lb.window.end_ns if lb.window else lb.end_ns for lb in labels), default=0)
        track = self._tracks.get(equipment)
        if track is None or track.start != start:  # a repair since: a new run
            signals = [tag_path(equipment, s) for s in spec.sensors]
            assembler = RowAssembler(signals, self._tag_ids, _gate(equipment, spec))
            track = self._tracks[equipment] = _Track(start, assembler)
        return track

    def _maybe_order(self, e: RulEstimate) -> None:
        self._orders.open_from_rul(
            self._tenant_id,
            e.equipment,
            at_ns=e.ts,
            rul_h=e.lower_h,
            summary=f"RUL {e.rul_h:.1f} h ({e.coverage:.0%} interval "
            f"{e.lower_h:.1f}–{e.upper_h:.1f} h)",
            data={
                "rul_h": e.rul_h,
                "lower_h": e.lower_h,
                "upper_h": e.upper_h,
                "cycles": e.cycles,
            },
            model_version=f"{model_name(self.type_of(e.equipment) or '?')} v{e.version}",
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Estimate every ``every_s`` (the shortest of the types') until ``stop``."""
        if not self._specs:
            return
        every = min(s.every_s for s in self._specs.values())
        while not stop.is_set():
            await asyncio.to_thread(self.estimate, time.time_ns())
            try:
                async with asyncio.timeout(every):
                    await stop.wait()
            except TimeoutError:
                pass
