"""SPC as the platform runs it: charts and capability of the configured characteristics
from the time-series store or stored inspection results, and SPC alarms.

An out-of-control point raises one SPC alarm per rule it fails, linked to the point's lot
and machine. Alarms are found by evaluating a characteristic's latest history (tag sources
every ``evaluate_every_s``; inspection results as each is posted) and recorded
idempotently: the store keys them by point and rule, and the grouping into subgroups sits
on a fixed time grid (:mod:`.subgroups`), so evaluating the same data again finds the same
points and records nothing new. Every new alarm also appears in the alarm console's history
(one activation per point, naming the rules, the lot and the machine).

Reading charts is free of side effects: only evaluation records alarms. Everything here is
synchronous (the store, the catalog, numpy): the API calls it in worker threads, and
:meth:`SpcService.run` evaluates in one.
"""

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from factoryos.apps.trace.errors import TraceError
from factoryos.apps.trace.spc.config import (
    CharacteristicSpec,
    LimitsSpec,
    SpcSection,
    TagSource,
    characteristic_problems,
    ns,
)
from factoryos.apps.trace.spc.errors import SpcError
from factoryos.apps.trace.spc.evaluate import (
    TRIAL,
    CapabilityView,
    Limits,
    SpcChart,
    Violation,
    baseline_limits,
    capability_of,
    entered_limits,
    spc_chart,
    spec_limits,
)
from factoryos.apps.trace.spc.inspection import (
    InspectionInput,
    InspectionInputError,
    check_input,
    count_of,
)
from factoryos.apps.trace.spc.subgroups import (
    Subgroups,
    consecutive,
    gate_mask,
    grid_start,
    lots_at,
    periodic,
)
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.timeparse import format_ns
from factoryos.store.alarm_log import AlarmRecord
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.catalog import Catalog, CatalogError
from factoryos.store.errors import StoreError
from factoryos.store.inspections import (
    AlarmFilter,
    AlarmPage,
    InspectionRecord,
    InspectionStore,
    SpcAlarmRecord,
)

log = logging.getLogger(__name__)

NS_PER_S = 1_000_000_000
HOUR_NS = 3_600 * NS_PER_S
MAX_SAMPLES = 200_000  # tag samples one chart reads at most
MAX_POINTS = 20_000  # points one chart shows at most
MAX_NEW_ALARMS = 1_000  # alarms one evaluation records at most (the oldest first)
CONTEXT_NS = HOUR_NS  # how far before a range the gate and lot tags are looked up
FUTURE_NS = 300 * NS_PER_S  # a result may be this far ahead of the server's clock
PRIORITY = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
LABEL = {"xbar": "X̄", "r": "R", "s": "S", "i": "x", "mr": "MR"}


class UnknownCharacteristicError(TraceError, LookupError):
    def __init__(self, name: str) -> None:
        super().__init__(f"no SPC characteristic {name!r} (apps file: spc.characteristics)")


@dataclass(frozen=True, slots=True, eq=False)
class ChartAnswer:
    """A characteristic's chart over [start, end): ``chart`` is None with the ``problem``
    when the data cannot give one (none in the range, no spread …)."""

    name: str
    spec: CharacteristicSpec
    start: int
    end: int
    groups: Subgroups
    chart: SpcChart | None
    problem: str | None
    truncated_at: int | None = None  # more data than one chart shows: charted until here


@dataclass(frozen=True, slots=True, eq=False)
class CapabilityAnswer:
    name: str
    spec: CharacteristicSpec
    start: int
    end: int
    view: CapabilityView
    out_of_control: int | None  # points the chart flags; None when it could not be drawn
    truncated_at: int | None = None


@dataclass
class EvaluationStats:
    evaluations: int = 0
    alarms: int = 0
    errors: dict[str, str] = field(default_factory=dict)  # characteristic → last error


def alarm_name(characteristic: str) -> str:
    """The characteristic's name in the alarm history (the console's alarm column)."""
    return f"spc:{characteristic}"


def _empty(spec: CharacteristicSpec) -> Subgroups:
    ts = np.empty(0, dtype=np.int64)
    if spec.variables:
        return Subgroups(ts, (), (), values=np.empty((0, spec.subgroup.size)))
    return Subgroups(ts, (), (), counts=np.empty(0), sizes=np.empty(0))


def _good(batch: SampleBatch) -> SampleBatch:
    keep = (batch.quality == Quality.GOOD) & np.isfinite(batch.values)
    return SampleBatch(batch.tag_ids[keep], batch.ts[keep], batch.values[keep], batch.quality[keep])


class SpcService:
    """The ``spc:`` section's characteristics of one tenant's site."""

    def __init__(
        self,
        section: SpcSection,
        catalog: Catalog,
        store: TimeSeriesStore,
        tag_ids: Mapping[str, int],
        tenant: str,
    ) -> None:
        for name, spec in section.characteristics.items():
            problems = characteristic_problems(spec)
            if problems:
                loc, message = problems[0]
                raise SpcError(f"spc.characteristics.{name}.{'.'.join(map(str, loc))}: {message}")
        self.section = section
        self.tenant = tenant
        self.tenant_id = catalog.ensure_tenant(tenant)
        self.inspections = InspectionStore(catalog)
        self.stats = EvaluationStats()
        self._store = store
        self._tag_ids = dict(tag_ids)
        self._baselines: dict[str, Limits] = {}
        self._recording = threading.Lock()  # the periodic job and a posted result race

    def spec(self, name: str) -> CharacteristicSpec:
        found = self.section.characteristics.get(name)
        if found is None:
            raise UnknownCharacteristicError(name)
        return found

    # -- reading data --------------------------------------------------------------------

    def _raw(self, path: str, start: int, end: int) -> tuple[SampleBatch, int | None]:
        """Good samples of ``path``, and where the read stopped when it hit MAX_SAMPLES."""
        batch = self._store.raw(self._tag_ids[path], start, end, limit=MAX_SAMPLES + 1)
        cut = None
        if len(batch) > MAX_SAMPLES:
            cut = int(batch.ts[MAX_SAMPLES])
            batch = SampleBatch(*(c[:MAX_SAMPLES] for c in _columns(batch)))
        return _good(batch), cut

    def _tag_groups(
        self, spec: CharacteristicSpec, start: int, end: int
    ) -> tuple[Subgroups, int | None]:
        assert spec.tag is not None
        read_from = grid_start(start, spec.subgroup.every_s)
        batch, cut = self._raw(spec.tag, read_from, end)
        ts, values = batch.ts, batch.values
        gate = spec.source.gate if isinstance(spec.source, TagSource) else None
        if gate is not None and spec.gate_tag is not None:
            states, gate_cut = self._raw(spec.gate_tag, read_from - CONTEXT_NS, end)
            cut = _earliest(cut, gate_cut)
            keep = gate_mask(ts, states.ts, states.values, gate.values)
            ts, values = ts[keep], values[keep]
        if cut is not None:  # past a cut the gate is unknown, or the read stopped
            keep = ts < cut
            ts, values = ts[keep], values[keep]
        size, every = spec.subgroup.size, spec.subgroup.every_s
        point_ts, rows = (
            consecutive(ts, values, size) if every is None else periodic(ts, values, size, every)
        )
        lots = self._tag_lots(spec, point_ts, read_from, end)
        groups = Subgroups(point_ts, lots, (spec.equipment,) * point_ts.size, values=rows)
        return groups.since(start), cut

    def _tag_lots(
        self, spec: CharacteristicSpec, ts: np.ndarray, start: int, end: int
    ) -> tuple[str | None, ...]:
        if spec.lot_tag is None:
            return (None,) * ts.size
        lots, _ = self._raw(spec.lot_tag, start - CONTEXT_NS, end)
        return lots_at(ts, lots.ts, lots.values)

    def _inspection_groups(
        self, name: str, spec: CharacteristicSpec, start: int, end: int
    ) -> tuple[Subgroups, int | None]:
        rows = self.inspections.results(self.tenant_id, name, start, end, limit=MAX_POINTS + 1)
        cut = rows[MAX_POINTS].ts if len(rows) > MAX_POINTS else None
        rows = [r for r in rows[:MAX_POINTS] if _fits(spec, r)]  # the spec may have changed
        ts = np.array([r.ts for r in rows], dtype=np.int64)
        lots = tuple(r.lot for r in rows)
        if spec.lot_tag is not None and any(lot is None for lot in lots):
            tagged = self._tag_lots(spec, ts, start, end)
            lots = tuple(lot or other for lot, other in zip(lots, tagged, strict=True))
        equipment = tuple(r.equipment for r in rows)
        if not rows:
            return _empty(spec), cut
        if spec.variables:
            values = np.array([r.values for r in rows], dtype=np.float64)
            return Subgroups(ts, lots, equipment, values=values), cut
        counts = np.array([r.count for r in rows], dtype=np.float64)
        sizes = np.array([r.sample_size or 1.0 for r in rows], dtype=np.float64)
        return Subgroups(ts, lots, equipment, counts=counts, sizes=sizes), cut

    def _groups(
        self, name: str, spec: CharacteristicSpec, start: int, end: int
    ) -> tuple[Subgroups, int | None]:
        if spec.tag is not None:
            groups, cut = self._tag_groups(spec, start, end)
        else:
            groups, cut = self._inspection_groups(name, spec, start, end)
        if len(groups) > MAX_POINTS:
            cut = _earliest(cut, int(groups.ts[MAX_POINTS]))
            groups = groups.slice(0, MAX_POINTS)
        return groups, cut

    # -- charts and capability ------------------------------------------------------------

    def limits(self, name: str, now: int) -> Limits:
        """The characteristic's limits: trial, entered, or from its baseline (cached once
        the baseline window has passed: its data no longer change)."""
        spec = self.spec(name)
        if not isinstance(spec.limits, LimitsSpec):
            return TRIAL
        baseline = spec.limits.baseline
        if baseline is None:
            return entered_limits(spec.limits)
        cached = self._baselines.get(name)
        if cached is not None:
            return cached
        start, end = ns(baseline.start), ns(baseline.end)
        groups, _ = self._groups(name, spec, start, end)
        try:
            found = baseline_limits(spec.chart, groups)
        except SpcError as exc:
            raise SpcError(f"baseline {format_ns(start)} – {format_ns(end)}: {exc}") from exc
        if end <= now:
            self._baselines[name] = found
        return found

    def chart(self, name: str, start: int, end: int, *, now: int | None = None) -> ChartAnswer:
        """The chart over [start, end): points whose subgroup completed in the range."""
        spec = self.spec(name)
        groups, cut = self._groups(name, spec, start, end)
        try:
            chart = spc_chart(spec, groups, self.limits(name, now or time.time_ns()))
        except SpcError as exc:
            return ChartAnswer(name, spec, start, end, groups, None, str(exc), cut)
        return ChartAnswer(name, spec, start, end, groups, chart, None, cut)

    def capability(
        self, name: str, start: int, end: int, confidence: float = 0.95
    ) -> CapabilityAnswer:
        """Cp, Cpk, Pp, Ppk of the range's measurements (SpcError when they cannot be had)."""
        spec = self.spec(name)
        spec_limits(spec)  # before reading data that could not be judged anyway
        answer = self.chart(name, start, end)
        if len(answer.groups) == 0:
            raise SpcError("no data in the range")
        view = capability_of(spec, answer.groups, confidence)
        flagged = None
        if answer.chart is not None:
            flagged = len({(v.ts, v.role) for v in answer.chart.violations})
        return CapabilityAnswer(name, spec, start, end, view, flagged, answer.truncated_at)

    # -- inspection results ----------------------------------------------------------------

    def add_result(
        self, name: str, given: InspectionInput, inspector: str, now: int
    ) -> tuple[InspectionRecord, list[SpcAlarmRecord]]:
        """Store a posted result and evaluate its characteristic: the result, and the
        alarms it raised (InspectionInputError names a field that does not fit)."""
        spec = self.spec(name)
        if spec.tag is not None:
            raise InspectionInputError(
                "characteristic", f"{name!r} is measured by a tag, not by inspection"
            )
        check_input(spec, given)
        if given.ts > now + FUTURE_NS:
            raise InspectionInputError("time", "is in the future")
        equipment = given.equipment or spec.equipment
        if given.equipment is not None and not self.inspections.equipment_exists(
            self.tenant_id, equipment
        ):
            raise InspectionInputError("equipment", f"no equipment {equipment!r} in the site")
        record = InspectionRecord(
            characteristic=name,
            ts=given.ts,
            equipment=equipment,
            inspector=inspector,
            lot=given.lot,
            values=given.values,
            count=count_of(given),
            sample_size=given.sample_size,
            comment=given.comment,
            created=now,
        )
        stored = self.inspections.add(self.tenant_id, record)
        lookback = round(self.section.lookback_h * HOUR_NS)
        raised = self.evaluate(name, max(now, stored.ts), start=stored.ts - lookback)
        return stored, raised

    # -- alarms ------------------------------------------------------------------------------

    def evaluate(self, name: str, now: int, *, start: int | None = None) -> list[SpcAlarmRecord]:
        """Record the alarms of the characteristic's points since ``start`` (default: the
        lookback before ``now``) not recorded yet; the new ones."""
        spec = self.spec(name)
        lookback = round(self.section.lookback_h * HOUR_NS)
        answer = self.chart(name, now - lookback if start is None else start, now + 1, now=now)
        self.stats.evaluations += 1
        if answer.chart is None:
            return []
        violations = answer.chart.violations[-MAX_NEW_ALARMS:]
        candidates = [_alarm(name, spec, answer.groups, v, now) for v in violations]
        with self._recording:
            new = self.inspections.record_alarms(
                self.tenant_id, candidates, lambda stored: history_rows(name, spec, stored)
            )
        self.stats.alarms += len(new)
        return new

    def evaluate_all(self, now: int) -> int:
        """Evaluate every tag characteristic; one failing does not stop the others (its
        error is logged once and kept in ``stats.errors``). The number of new alarms."""
        raised = 0
        for name, spec in self.section.characteristics.items():
            if spec.tag is None:
                continue  # results are evaluated as they are posted
            try:
                raised += len(self.evaluate(name, now))
            except (SpcError, CatalogError, StoreError) as exc:
                if self.stats.errors.get(name) != str(exc):
                    log.error("spc %s: evaluation failed: %s", name, exc)
                self.stats.errors[name] = str(exc)
                continue
            if self.stats.errors.pop(name, None) is not None:
                log.info("spc %s: evaluating again", name)
        return raised

    async def run(self, stop: asyncio.Event) -> None:
        """Evaluate the tag characteristics every ``evaluate_every_s`` until ``stop``."""
        while not stop.is_set():
            await asyncio.to_thread(self.evaluate_all, time.time_ns())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.section.evaluate_every_s)

    def alarms(
        self, where: AlarmFilter, *, before: int | None = None, limit: int = 100
    ) -> AlarmPage:
        return self.inspections.alarms(self.tenant_id, where, before=before, limit=limit)

    def acknowledge(
        self, alarm_id: int, actor: str, comment: str | None, now: int
    ) -> SpcAlarmRecord:
        """Acknowledge one alarm; the console's history gets the acknowledgement too."""
        found = self.inspections.get(self.tenant_id, alarm_id)
        spec = self.section.characteristics.get(found.characteristic)
        priority = PRIORITY[spec.priority if spec else "medium"]
        return self.inspections.acknowledge(
            self.tenant_id,
            alarm_id,
            actor,
            now,
            comment,
            lambda acked, active: [ack_row(acked, priority, actor, comment, active)],
        )


def _columns(batch: SampleBatch) -> tuple[np.ndarray, ...]:
    return (batch.tag_ids, batch.ts, batch.values, batch.quality)


def _earliest(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _fits(spec: CharacteristicSpec, r: InspectionRecord) -> bool:
    if spec.variables:
        return r.values is not None and len(r.values) == spec.subgroup.size
    return r.count is not None and (spec.chart == "c" or r.sample_size is not None)


def _alarm(
    name: str, spec: CharacteristicSpec, groups: Subgroups, v: Violation, now: int
) -> SpcAlarmRecord:
    index = v.point
    return SpcAlarmRecord(
        characteristic=name,
        ts=v.ts,
        chart=v.chart,
        rule=v.code,
        description=v.description,
        equipment=groups.equipment[index],
        raised=now,
        value=v.value,
        lot=groups.lots[index],
    )


def _point_text(alarm: SpcAlarmRecord) -> str:
    lot = alarm.lot or "unknown"
    value = (
        "" if alarm.value is None else f"{LABEL.get(alarm.chart, alarm.chart)} = {alarm.value:.6g} "
    )
    return f"{value}at {format_ns(alarm.ts)}; lot {lot}; machine {alarm.equipment}"


def history_rows(
    name: str, spec: CharacteristicSpec, new: Sequence[SpcAlarmRecord]
) -> list[AlarmRecord]:
    """The alarm-history rows of newly recorded alarms: per point an activation naming its
    rules, lot and machine, and at once a clearing, since an out-of-control point is a
    moment, not a standing condition (it waits for its acknowledgement, cleared)."""
    priority = PRIORITY[spec.priority]
    by_point: dict[int, list[SpcAlarmRecord]] = {}
    for alarm in new:
        by_point.setdefault(alarm.ts, []).append(alarm)
    rows: list[AlarmRecord] = []
    for ts, alarms in sorted(by_point.items()):
        rules = "; ".join(f"{a.rule} {a.description}" for a in alarms)
        comment = f"SPC {rules} — {_point_text(alarms[0])}"
        value = alarms[0].value
        rows.append(
            AlarmRecord(ts, alarm_name(name), "activated", priority, "active_unacked", value,
                        comment=comment)
        )  # fmt: skip
        rows.append(AlarmRecord(ts, alarm_name(name), "cleared", priority, "cleared_unacked"))
    return rows


def ack_row(
    acked: SpcAlarmRecord, priority: int, actor: str, comment: str | None, active: int
) -> AlarmRecord:
    """The acknowledgement in the alarm history; the characteristic is back to normal once
    none of its alarms waits any more."""
    text = f"SPC alarm {acked.id} ({acked.rule}, {_point_text(acked)})"
    if comment:
        text = f"{text}: {comment}"
    state = "normal" if active == 0 else "cleared_unacked"
    return AlarmRecord(
        acked.acked_at or 0,
        alarm_name(acked.characteristic),
        "acknowledged",
        priority,
        state,
        actor=actor,
        comment=text,
    )
