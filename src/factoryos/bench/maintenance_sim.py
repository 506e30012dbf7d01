"""``factoryos bench maintenance-sim``: anomaly warnings on the virtual factory (issue 7).

Protocol (fixed before any result was looked at):

1. **Plant.** The demo site (``factoryos.sim``, seven watched machines: three CNCs, the
   injection moulder, the packer, two compressors) stepped at ``STEP_S`` = 10 s, every watched
   tag read each step as its registers hold it (quantised). All machines start new (simulate
   param ``health_min_init: 1`` in a copy of the site) so the training window is healthy.
2. **Rows.** Each machine's rows are built exactly as the platform builds them (``history_rows``
   / ``complete_rows`` over :class:`~factoryos.edge.inference.RowAssembler`: one row per poll,
   sample-and-hold, gate applied). Signals: power, speed / pressure / flow, vibration,
   temperatures, never counters or state (`WATCHED`). Gate: producing machines score while
   ``state`` is 6 (execute); compressors while ``loaded`` is 1, because wear only builds while
   loaded and an unloaded compressor is a different operating mode (30 % power, no flow).
3. **Training.** The first ``training_hours`` (the platform default, 24 h) with no injected
   fault. Each machine's detector is chosen as ``family: auto`` does in the platform
   (``select_detector`` on the training rows only). Scoring uses ``FittedDetector.score`` (the
   numpy scorer, which the ONNX export must match to 1e-5).
4. **Faults.** Then ``weeks`` weeks. For every machine and every week, one fault of each kind is
   drawn at a uniform random time in that week from ``numpy.random.default_rng([seed, 7])``:
   accelerated ``wear`` (severity U(0.1, 0.5): wear 3–11 times faster until it fails by wear),
   ``overheat`` (severity U(0.5, 1.5), +10–30 °C on the main temperature for one hour) and
   ``breakdown`` (a sudden failure, no precursor, repair time drawn by the simulator). A fault
   is injected at the first step at or after its time when the machine is running, so every
   injected fault acts. Machines also wear out naturally (a ``life_h`` of 70–140 working hours).
5. **Alarm rule.** The live one (``monitor.py``): every row is scored, ``Persistence(k)`` with
   the apps file's default ``persistence`` (5 rows); a warning starts when it turns on and ends
   when it turns off. Detector and alarm rule are used unchanged.
6. **Accounting** (pure functions below; ``H`` = ``horizon_h``, 24 h):

   * Failures are the ``wear`` and ``breakdown`` failures of the ground truth after training;
     a wear failure is *accelerated* when an injected wear fault came after the machine's
     previous wear failure, else *natural*. Jams (random minor stops of a few minutes) are
     counted, not scored: no maintenance model predicts them.
   * A failure is *warned* when a warning is on at some time in ``[lb, t_fail)``, where ``lb`` is
     the latest of ``t_fail - H``, the end of the machine's previous failure's repair, and the
     end of training. Its lead time is ``t_fail - max(first such warning's start, lb)``.
   * An overheat is *detected* when a warning is on between its injection and its end plus a
     3-hour cool-down; the delay is from the injection to the warning.
   * A warning is *explained* when it starts while an injected fault acts on its machine (an
     overheat until 3 h after its end; accelerated wear until the wear failure it leads to), or
     when a failure or an injected fault of its machine follows within ``H`` (the rule of the
     requirement). *Strict*: only a following *wear* failure counts (the only failure with a
     precursor), since a breakdown or a fault injected after a warning cannot have caused it.
     A warning neither explained nor followed by ``H`` of simulated time is *unresolved*
     (the run ended); all others are *false alarms*, reported per machine-week.

The horizon is 24 h, not the 7–15 days of the platform's case studies: the simulator
compresses a machine's life to 70–140 working hours (3–7 days on a round-the-clock machine),
and with three injected faults per machine-week a 7-day window after any warning almost always
holds some event, which would make every warning look right. ``horizon_h`` changes it.
"""

import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from rich.table import Table

from factoryos.apps.maintenance.config import AnomalySpec, GateSpec, signal_paths
from factoryos.apps.maintenance.detectors import (
    DetectorError,
    FittedDetector,
    Persistence,
    select_detector,
)
from factoryos.apps.maintenance.training import Rows, complete_rows, history_rows
from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import progress_bar
from factoryos.edge.inference import Gate
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.uns import tag_path
from factoryos.sim import FaultKind, MachineState, VirtualFactory, load_demo_site
from factoryos.sim.truth import FailureEvent, FaultEvent

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

S = 1_000_000_000
H = 3600 * S
DAY = 24 * H
WEEK = 7 * DAY
STEP_S = 10.0
HORIZON_H = 24.0
COOL_DOWN_H = 3.0  # a temperature needs a few time constants to settle after an overheat
CHUNK_STEPS = 8640  # one simulated day of 10-s steps per batch of rows
MAX_WEEKS = 52
FAULT_RNG_KEY = 7  # the fault plan's stream, apart from the simulator's own randomness

WEAR_SEVERITY = (0.1, 0.5)
OVERHEAT_SEVERITY = (0.5, 1.5)
OVERHEAT_S = 3600.0

ACCELERATED, NATURAL, BREAKDOWN = "wear (accelerated)", "wear (natural)", "breakdown"
CAUSES = (ACCELERATED, NATURAL, BREAKDOWN)

_CNC = ("power_kw", "spindle_speed_rpm", "vibration_mm_s", "spindle_temp_c", "coolant_temp_c")
_IMM = (
    "power_kw",
    "injection_pressure_bar",
    "vibration_mm_s",
    "oil_temp_c",
    "barrel_temp_c",
    "mould_temp_c",
)
_PACKER = ("power_kw", "line_speed_ppm", "vibration_mm_s", "motor_temp_c")
_COMP = ("power_kw", "pressure_bar", "flow_m3_min", "vibration_mm_s", "discharge_temp_c")
_RUNNING = GateSpec(tag="state", values=[float(MachineState.RUNNING)])
_LOADED = GateSpec(tag="loaded", values=[1.0])
_M = "demo/machining/line1/cell1"

#: The watched machines of the demo site, as an apps file's ``maintenance: anomaly:`` says them.
WATCHED: dict[str, AnomalySpec] = {
    f"{_M}/cnc-01": AnomalySpec(signals=list(_CNC), gate=_RUNNING),
    f"{_M}/cnc-02": AnomalySpec(signals=list(_CNC), gate=_RUNNING),
    f"{_M}/cnc-03": AnomalySpec(signals=list(_CNC), gate=_RUNNING),
    "demo/moulding/imm/cell1/imm-01": AnomalySpec(signals=list(_IMM), gate=_RUNNING),
    "demo/packaging/pack1/cell1/packer-01": AnomalySpec(signals=list(_PACKER), gate=_RUNNING),
    "demo/utilities/air/station/comp-01": AnomalySpec(signals=list(_COMP), gate=_LOADED),
    "demo/utilities/air/station/comp-02": AnomalySpec(signals=list(_COMP), gate=_LOADED),
}


# --- accounting: pure functions of warnings and ground truth ------------------------------


@dataclass(frozen=True, slots=True)
class Alert:
    """A warning of ``equipment``: on from ``start_ns`` until ``end_ns`` (None: still on)."""

    equipment: str
    start_ns: int
    end_ns: int | None


@dataclass(frozen=True, slots=True)
class Failure:
    """A failure to foresee: ``cause`` is one of `CAUSES`."""

    equipment: str
    ts_ns: int
    cause: str
    repair_s: float

    @property
    def end_ns(self) -> int:
        return self.ts_ns + round(self.repair_s * S)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Whether a failure (or an overheat) was warned, and how long before (after) it."""

    equipment: str
    ts_ns: int
    cause: str
    lead_ns: int | None  # None: not warned; for an overheat, the delay after its injection


def alerts_from(equipment: str, ts: I64, active: npt.NDArray[np.bool_]) -> list[Alert]:
    """Warnings from the alarm state of each scored row (``ts`` ascending): one per turn-on."""
    if len(ts) != len(active):
        raise BenchError(f"{equipment}: {len(ts)} row times for {len(active)} alarm states")
    edges = np.diff(np.concatenate([[0], active.astype(np.int8)]))
    starts = np.flatnonzero(edges == 1).tolist()
    ends = np.flatnonzero(edges == -1).tolist()
    out = []
    for i, start in enumerate(starts):
        end = int(ts[ends[i]]) if i < len(ends) else None
        out.append(Alert(equipment, int(ts[start]), end))
    return out


def label_failures(
    failures: Iterable[FailureEvent], faults: Sequence[FaultEvent], since_ns: int
) -> list[Failure]:
    """Wear and breakdown failures from ``since_ns`` on, wear split by its cause."""
    out: list[Failure] = []
    restored: dict[str, int] = {}  # the last wear failure per machine: health was restored
    for f in sorted(failures, key=lambda f: f.ts_ns):
        if f.cause == "breakdown":
            cause = BREAKDOWN
        elif f.cause == "wear":
            after = restored.get(f.equipment, -1)
            hastened = any(
                x.equipment == f.equipment
                and x.kind == FaultKind.WEAR
                and after < x.ts_ns < f.ts_ns
                for x in faults
            )
            cause = ACCELERATED if hastened else NATURAL
            restored[f.equipment] = f.ts_ns
        else:
            continue  # jams: minor stops, not failures a maintenance model should foresee
        if f.ts_ns >= since_ns:
            out.append(Failure(f.equipment, f.ts_ns, cause, f.repair_s))
    return out


def _on_during(alerts: Iterable[Alert], equipment: str, lo: int, hi: int) -> list[Alert]:
    """The warnings of ``equipment`` that are on at some time in ``[lo, hi)``."""
    return [
        a
        for a in alerts
        if a.equipment == equipment and a.start_ns < hi and (a.end_ns is None or a.end_ns > lo)
    ]


def lead_times(
    alerts: Sequence[Alert], failures: Sequence[Failure], horizon_ns: int, since_ns: int
) -> list[Outcome]:
    """For each failure, the lead of the first warning on in its window (module docstring)."""
    out = []
    previous_end: dict[str, int] = {}
    for f in sorted(failures, key=lambda f: f.ts_ns):
        lo = max(f.ts_ns - horizon_ns, previous_end.get(f.equipment, since_ns), since_ns)
        on = _on_during(alerts, f.equipment, lo, f.ts_ns) if lo < f.ts_ns else []
        lead = f.ts_ns - max(min(a.start_ns for a in on), lo) if on else None
        out.append(Outcome(f.equipment, f.ts_ns, f.cause, lead))
        previous_end[f.equipment] = max(previous_end.get(f.equipment, since_ns), f.end_ns)
    return out


def overheat_delays(
    alerts: Sequence[Alert], faults: Sequence[FaultEvent], cool_down_ns: int
) -> list[Outcome]:
    """For each injected overheat, the delay from its injection to a warning (None: none)."""
    out = []
    for x in faults:
        if x.kind != FaultKind.OVERHEAT:
            continue
        hi = _fault_end(x) + cool_down_ns
        on = _on_during(alerts, x.equipment, x.ts_ns, hi)
        delay = max(min(a.start_ns for a in on) - x.ts_ns, 0) if on else None
        out.append(Outcome(x.equipment, x.ts_ns, "overheat", delay))
    return out


def _fault_end(fault: FaultEvent) -> int:
    seconds = OVERHEAT_S if fault.duration_s is None else fault.duration_s
    return fault.ts_ns + round(seconds * S)


def acting_windows(
    faults: Sequence[FaultEvent], failures: Sequence[Failure], end_ns: int, cool_down_ns: int
) -> list[tuple[str, int, int]]:
    """``(equipment, from, to)`` while an injected fault acts: an overheat until ``cool_down``
    after its end, accelerated wear until the repair of the next wear failure (or ``end_ns``)."""
    out = []
    for x in faults:
        if x.kind == FaultKind.OVERHEAT:
            out.append((x.equipment, x.ts_ns, _fault_end(x) + cool_down_ns))
        elif x.kind == FaultKind.WEAR:
            worn = [
                f.end_ns
                for f in failures
                if f.equipment == x.equipment and f.cause == ACCELERATED and f.ts_ns > x.ts_ns
            ]
            out.append((x.equipment, x.ts_ns, min(worn, default=end_ns)))
    return out


def alarm_verdicts(
    alerts: Sequence[Alert],
    failures: Sequence[Failure],
    faults: Sequence[FaultEvent],
    horizon_ns: int,
    end_ns: int,
    *,
    strict: bool = False,
    cool_down_ns: int = round(COOL_DOWN_H * H),
) -> list[str]:
    """``explained``, ``false`` or ``unresolved`` for each warning (module docstring, step 6).

    ``failures`` are every failure of the run (training included: an accelerated wear window
    ends at its failure's repair)."""
    acting = acting_windows(faults, failures, end_ns, cool_down_ns)
    following = [(f.equipment, f.ts_ns) for f in failures if not strict or f.cause != BREAKDOWN]
    if not strict:
        following += [(x.equipment, x.ts_ns) for x in faults]
    out = []
    for a in alerts:
        during = any(eq == a.equipment and lo <= a.start_ns < hi for eq, lo, hi in acting)
        followed = any(
            eq == a.equipment and a.start_ns <= ts <= a.start_ns + horizon_ns
            for eq, ts in following
        )
        if during or followed:
            out.append("explained")
        elif a.start_ns + horizon_ns > end_ns:
            out.append("unresolved")
        else:
            out.append("false")
    return out


def distribution(values: Sequence[float]) -> dict[str, float | int | None]:
    """Count, min, quartiles, median and max of ``values`` (None when there are none)."""
    if not values:
        return {"n": 0, "min": None, "p25": None, "median": None, "p75": None, "max": None}
    q = np.percentile(np.asarray(values, dtype=np.float64), [0, 25, 50, 75, 100]).tolist()
    return {"n": len(values), "min": q[0], "p25": q[1], "median": q[2], "p75": q[3], "max": q[4]}


def cause_summary(outcomes: Sequence[Outcome]) -> dict[str, Any]:
    """Count, warned, detection rate and the lead-time distribution (hours) of ``outcomes``."""
    leads = [o.lead_ns / H for o in outcomes if o.lead_ns is not None]
    return {
        "count": len(outcomes),
        "warned": len(leads),
        "detection_rate": len(leads) / len(outcomes) if outcomes else None,
        "lead_h": distribution(leads),
    }


def chance_rate(
    alerts: Sequence[Alert],
    machines: Sequence[str],
    since_ns: int,
    end_ns: int,
    horizon_ns: int,
    every_ns: int = H,
) -> float | None:
    """The detection rate of a failure at a random time: the share of the instants ``t`` on an
    ``every_ns`` grid of ``(since, end]`` per machine with a warning on in ``[t - H, t)``
    (``t - H`` not before ``since``). What a precursor-free failure scores by chance."""
    hits = total = 0
    for eq in machines:
        for t in range(since_ns + every_ns, end_ns + 1, every_ns):
            total += 1
            hits += bool(_on_during(alerts, eq, max(t - horizon_ns, since_ns), t))
    return hits / total if total else None


# --- the fault plan and the simulated run ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class PlannedFault:
    ts_ns: int
    equipment: str
    kind: FaultKind
    severity: float
    duration_s: float | None


def fault_plan(machines: Sequence[str], start_ns: int, weeks: int, seed: int) -> list[PlannedFault]:
    """One wear, one overheat and one breakdown per machine and week, at random times."""
    rng = np.random.default_rng([seed, FAULT_RNG_KEY])
    plan = []
    for week in range(weeks):
        for eq in machines:
            for kind in (FaultKind.WEAR, FaultKind.OVERHEAT, FaultKind.BREAKDOWN):
                ts = start_ns + week * WEEK + int(rng.uniform(0, WEEK))
                severity, duration = 1.0, None
                if kind == FaultKind.WEAR:
                    severity = float(rng.uniform(*WEAR_SEVERITY))
                elif kind == FaultKind.OVERHEAT:
                    severity, duration = float(rng.uniform(*OVERHEAT_SEVERITY)), OVERHEAT_S
                plan.append(PlannedFault(ts, eq, kind, severity, duration))
    return sorted(plan, key=lambda p: p.ts_ns)


def new_machines(site: SiteFile) -> SiteFile:
    """A copy of ``site`` whose simulated machines all start new (health 1)."""
    data = site.model_dump()
    for area in data["site"]["areas"]:
        for line in area["lines"]:
            for cell in line["cells"]:
                for eq in cell["equipment"]:
                    sim = eq.get("simulate")
                    if sim is not None and sim["model"] != "energy_meter":
                        sim["params"]["health_min_init"] = 1.0
    return SiteFile.model_validate(data)


class _Recorder:
    """Reads the watched tags each step and turns each chunk of steps into rows per machine."""

    def __init__(self, factory: VirtualFactory, watched: dict[str, AnomalySpec]) -> None:
        self.factory = factory
        self.watched = watched
        self.inputs = {eq: signal_paths(eq, spec) for eq, spec in watched.items()}
        self.gates = {
            eq: None if s.gate is None else Gate(tag_path(eq, s.gate.tag), tuple(s.gate.values))
            for eq, s in watched.items()
        }
        paths = sorted(
            {p for ps in self.inputs.values() for p in ps}
            | {g.tag for g in self.gates.values() if g is not None}
        )
        self.paths = paths
        self.tag_ids = {p: i for i, p in enumerate(paths)}
        self.ts: list[int] = []
        self.values: list[list[float]] = []
        self.rows: dict[str, list[Rows]] = {eq: [] for eq in watched}

    def record(self) -> None:
        f = self.factory
        self.ts.append(f.now_ns)
        self.values.append([f.value(p) for p in self.paths])
        if len(self.ts) >= CHUNK_STEPS:
            self.flush()

    def flush(self) -> None:
        if not self.ts:
            return
        n, k = len(self.ts), len(self.paths)
        batch = SampleBatch.build(
            np.tile(np.arange(k, dtype=np.int32), n),
            np.repeat(np.asarray(self.ts, dtype=np.int64), k),
            np.asarray(self.values, dtype=np.float64).ravel(),
        )
        for eq, signals in self.inputs.items():
            gate = self.gates[eq]
            wanted = [self.tag_ids[p] for p in signals]
            if gate is not None:
                wanted.append(self.tag_ids[gate.tag])
            mine = batch.take(np.flatnonzero(np.isin(batch.tag_ids, wanted)))
            self.rows[eq].append(history_rows([mine], signals, self.tag_ids, gate))
        self.ts, self.values = [], []

    def all_rows(self, equipment: str) -> Rows:
        parts = self.rows[equipment]
        k = len(self.inputs[equipment])
        return Rows(
            np.concatenate([r.ts for r in parts]) if parts else np.empty(0, np.int64),
            np.concatenate([r.values for r in parts]) if parts else np.empty((0, k)),
        )


def _inject_due(factory: VirtualFactory, pending: list[PlannedFault]) -> None:
    """Inject every due fault whose machine is running now; the others wait for it to run."""
    now = factory.now_ns
    for p in [p for p in pending if p.ts_ns <= now]:
        if factory.signals(p.equipment)["state"] == MachineState.RUNNING:
            factory.inject_fault(p.equipment, p.kind, severity=p.severity, duration_s=p.duration_s)
            pending.remove(p)


def simulate(
    factory: VirtualFactory,
    recorder: _Recorder,
    plan: Sequence[PlannedFault],
    steps: int,
    on_day: Callable[[], None] = lambda: None,
) -> list[PlannedFault]:
    """Step ``factory`` ``steps`` times, recording every step and injecting ``plan``; returns
    the planned faults never injected (their machine did not run before the end)."""
    pending = list(plan)
    per_day = round(86_400 / factory.step_s)
    for i in range(1, steps + 1):
        factory.step()
        recorder.record()
        if pending and pending[0].ts_ns <= factory.now_ns:
            _inject_due(factory, pending)
        if i % per_day == 0:
            on_day()
    recorder.flush()
    return pending


# --- the benchmark ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Scored:
    detector: FittedDetector
    selection: dict[str, Any]
    train_rows: int
    ts: I64
    active: npt.NDArray[np.bool_]


def fit_and_score(equipment: str, spec: AnomalySpec, rows: Rows, train_end: int) -> _Scored:
    """Fit on the rows up to ``train_end`` as the platform does, then score every later row
    with the live alarm rule; the last training rows fill the first scored row's window."""
    signals = signal_paths(equipment, spec)
    n_train = int(np.searchsorted(rows.ts, train_end, side="right"))
    train = Rows(rows.ts[:n_train], rows.values[:n_train])
    if n_train == 0:
        raise BenchError(f"{equipment}: no rows in the training window")
    complete, _gaps = complete_rows(train, signals)
    try:
        detector, selection = select_detector(complete, signals)
    except DetectorError as exc:
        raise BenchError(f"{equipment}: {exc}") from exc
    start = max(n_train - detector.window + 1, 0)
    scores = detector.score(rows.values[start:])
    scored_ts = rows.ts[start + detector.window - 1 :]
    # A fresh rule from the first scored row, as the monitor starts one when a model is loaded.
    active = Persistence(spec.persistence).run(scores)
    return _Scored(detector, selection, len(complete), scored_ts, active)


def run_sim_bench(
    weeks: int = 4,
    seed: int = 0,
    *,
    progress: bool = True,
    horizon_h: float = HORIZON_H,
) -> dict[str, Any]:
    """Train on the first day, inject faults for ``weeks`` weeks, account the warnings."""
    if not 1 <= weeks <= MAX_WEEKS:
        raise BenchError(f"weeks must be 1..{MAX_WEEKS}, got {weeks}")
    return run_sim(7.0 * weeks, seed, progress=progress, horizon_h=horizon_h)


def run_sim(
    days: float,
    seed: int = 0,
    *,
    progress: bool = False,
    horizon_h: float = HORIZON_H,
    watched: dict[str, AnomalySpec] | None = None,
    plan: Sequence[PlannedFault] | None = None,
) -> dict[str, Any]:
    """`run_sim_bench` over ``days`` after training; ``watched`` (default `WATCHED`) and
    ``plan`` (default: the random plan of whole weeks, see the module docstring) for tests."""
    if not 0 < days <= 7 * MAX_WEEKS:
        raise BenchError(f"days must be in (0, {7 * MAX_WEEKS}], got {days}")
    if not 0 < horizon_h <= 24 * 60:
        raise BenchError(f"horizon_h must be in (0, 1440], got {horizon_h}")
    if seed < 0:
        raise BenchError(f"seed must be >= 0, got {seed}")
    watched = WATCHED if watched is None else watched
    span_ns = days * DAY
    t_start = time.perf_counter()
    factory = VirtualFactory(new_machines(load_demo_site()), seed=seed, step_s=STEP_S)
    train_h = max(spec.training_hours for spec in watched.values())
    train_end = factory.start_ns + round(train_h * H)
    end = train_end + round(span_ns)
    if plan is None:
        plan = fault_plan(list(watched), train_end, int(span_ns // WEEK), seed)
    recorder = _Recorder(factory, watched)
    steps = (end - factory.start_ns) // factory.step_ns
    with progress_bar(progress) as bar:
        on_day: Callable[[], None] = lambda: None  # noqa: E731
        if bar is not None:
            task = bar.add_task("simulated days", total=steps * STEP_S / 86_400)
            on_day = lambda: bar.advance(task)  # noqa: E731
        not_injected = simulate(factory, recorder, plan, int(steps), on_day)
    t_sim = time.perf_counter()
    scored = {
        eq: fit_and_score(eq, s, recorder.all_rows(eq), train_end) for eq, s in watched.items()
    }
    t_score = time.perf_counter()
    result = account(factory, scored, train_end, end, round(horizon_h * H))
    weeks = span_ns / WEEK
    machine_weeks = len(watched) * weeks
    long = result["horizon_7d"]
    long["false_alarms_per_machine_week"] = long["false_alarms"] / machine_weeks
    long["false_alarms_strict_per_machine_week"] = long["false_alarms_strict"] / machine_weeks
    result.update(
        {
            "weeks": weeks,
            "seed": seed,
            "step_s": STEP_S,
            "training_hours": train_h,
            "horizon_h": horizon_h,
            "persistence": sorted({s.persistence for s in watched.values()}),
            "machines": len(watched),
            "machine_weeks": machine_weeks,
            "false_alarms_per_machine_week": result["false_alarms"] / machine_weeks,
            "false_alarms_strict_per_machine_week": result["false_alarms_strict"] / machine_weeks,
            "not_injected": len(not_injected),
            "sim_s": t_sim - t_start,
            "fit_score_s": t_score - t_sim,
            "elapsed_s": time.perf_counter() - t_start,
        }
    )
    return result


def account(
    factory: VirtualFactory,
    scored: dict[str, _Scored],
    train_end: int,
    end: int,
    horizon_ns: int,
) -> dict[str, Any]:
    """Every figure of the benchmark from the warnings and the simulator's ground truth."""
    truth = factory.truth
    alerts = [a for eq, s in scored.items() for a in alerts_from(eq, s.ts, s.active)]
    all_failures = label_failures(truth.failures, truth.faults, factory.start_ns)
    failures = [f for f in all_failures if f.ts_ns > train_end and f.equipment in scored]
    faults = [x for x in truth.faults if x.equipment in scored]
    outcomes = lead_times(alerts, failures, horizon_ns, train_end)
    overheats = overheat_delays(alerts, faults, round(COOL_DOWN_H * H))
    verdicts = alarm_verdicts(alerts, all_failures, faults, horizon_ns, end)
    strict = alarm_verdicts(alerts, all_failures, faults, horizon_ns, end, strict=True)
    jams = [f for f in truth.failures if f.cause == "jam" and f.ts_ns > train_end]
    by_cause = {c: cause_summary([o for o in outcomes if o.cause == c]) for c in CAUSES}
    by_cause["overheat"] = cause_summary(overheats)
    # Context for the figures above, not part of the rule: how long warnings stay on, what a
    # failure at a random time would score, and the lead times without the horizon's cap.
    uncapped = lead_times(alerts, failures, end - factory.start_ns, train_end)
    week = round(7 * DAY)
    long_verdicts = alarm_verdicts(alerts, all_failures, faults, week, end)
    long_strict = alarm_verdicts(alerts, all_failures, faults, week, end, strict=True)
    long_outcomes = lead_times(alerts, failures, week, train_end)
    active = np.concatenate([s.active for s in scored.values()])
    per_machine = [
        _machine_row(eq, s, alerts, outcomes, verdicts, strict) for eq, s in scored.items()
    ]
    return {
        "by_cause": by_cause,
        "overall": cause_summary(outcomes),
        "overall_wear": cause_summary([o for o in outcomes if o.cause != BREAKDOWN]),
        "warnings": len(alerts),
        "false_alarms": verdicts.count("false"),
        "false_alarms_strict": strict.count("false"),
        "unresolved": verdicts.count("unresolved"),
        "warning_share": float(active.mean()) if active.size else None,
        "chance_detection_rate": chance_rate(alerts, list(scored), train_end, end, horizon_ns),
        "wear_lead_uncapped_h": distribution(
            [o.lead_ns / H for o in uncapped if o.lead_ns is not None and o.cause != BREAKDOWN]
        ),
        "horizon_7d": {
            "detection_rate": {
                c: cause_summary([o for o in long_outcomes if o.cause == c])["detection_rate"]
                for c in CAUSES
            },
            "chance_detection_rate": chance_rate(alerts, list(scored), train_end, end, week),
            "false_alarms": long_verdicts.count("false"),
            "false_alarms_strict": long_strict.count("false"),
            "unresolved": long_verdicts.count("unresolved"),
        },
        "jams": len(jams),
        "injected": {k.value: sum(1 for x in faults if x.kind == k) for k in FaultKind},
        "per_machine": per_machine,
        "faults": [
            {**asdict(x), "kind": x.kind.value}
            for x in sorted(faults, key=lambda x: x.ts_ns)
            if x.ts_ns > train_end
        ],
        "failures": [_outcome_json(o) for o in outcomes],
        "overheats": [_outcome_json(o) for o in overheats],
    }


def _outcome_json(o: Outcome) -> dict[str, Any]:
    lead = None if o.lead_ns is None else o.lead_ns / H
    return {"equipment": o.equipment, "ts_ns": o.ts_ns, "cause": o.cause, "lead_h": lead}


def _machine_row(
    eq: str,
    s: _Scored,
    alerts: Sequence[Alert],
    outcomes: Sequence[Outcome],
    verdicts: Sequence[str],
    strict: Sequence[str],
) -> dict[str, Any]:
    mine = [i for i, a in enumerate(alerts) if a.equipment == eq]
    fails = [o for o in outcomes if o.equipment == eq]
    wear = [o for o in fails if o.cause != BREAKDOWN]
    leads = [o.lead_ns / H for o in wear if o.lead_ns is not None]
    return {
        "equipment": eq,
        "detector": s.detector.family,
        "train_rows": s.train_rows,
        "scored_rows": len(s.ts),
        "warning_share": float(s.active.mean()) if s.active.size else None,
        "warnings": len(mine),
        "false_alarms": sum(1 for i in mine if verdicts[i] == "false"),
        "false_alarms_strict": sum(1 for i in mine if strict[i] == "false"),
        "wear_failures": len(wear),
        "wear_warned": len(leads),
        "breakdowns": len(fails) - len(wear),
        "breakdowns_warned": sum(
            1 for o in fails if o.cause == BREAKDOWN and o.lead_ns is not None
        ),
        "wear_median_lead_h": float(np.median(leads)) if leads else None,
    }


# --- the table --------------------------------------------------------------------------------


def _h(value: float | int | None) -> str:
    return "–" if value is None else f"{value:.1f}"


def _pct(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


def _rate(summary: dict[str, Any]) -> str:
    rate = summary["detection_rate"]
    return "–" if rate is None else f"{summary['warned']}/{summary['count']} ({rate:.0%})"


def format_sim_table(result: dict[str, Any]) -> Table:
    """The result of `run_sim_bench` as Rich tables (every failure is in the JSON output)."""
    causes = Table(
        title=f"factoryos bench maintenance-sim: {result['weeks']:g} weeks, seed {result['seed']},"
        f" horizon {result['horizon_h']:g} h"
    )
    causes.add_column("cause")
    causes.add_column("warned", justify="right")
    for name in ("min", "p25", "median", "p75", "max"):
        causes.add_column(f"lead {name} (h)", justify="right")
    rows = [*((c, result["by_cause"][c]) for c in CAUSES), ("all failures", result["overall"])]
    rows.append(("overheat (delay)", result["by_cause"]["overheat"]))
    for name, summary in rows:
        lead = summary["lead_h"]
        causes.add_row(
            name, _rate(summary), *(_h(lead[q]) for q in ("min", "p25", "median", "p75", "max"))
        )
    alarms = Table(title="warnings and false alarms")
    alarms.add_column("measure")
    alarms.add_column("value", justify="right")
    alarms.add_row("warnings", str(result["warnings"]))
    alarms.add_row(
        "false alarms / machine-week",
        f"{result['false_alarms_per_machine_week']:.2f} ({result['false_alarms']})",
    )
    alarms.add_row(
        "false alarms / machine-week, strict",
        f"{result['false_alarms_strict_per_machine_week']:.2f} ({result['false_alarms_strict']})",
    )
    alarms.add_row("unresolved (run ended)", str(result["unresolved"]))
    alarms.add_row("running time in warning", _pct(result["warning_share"]))
    alarms.add_row(
        "detection rate by chance (random instant)", _pct(result["chance_detection_rate"])
    )
    uncapped = result["wear_lead_uncapped_h"]
    alarms.add_row(
        "wear lead without the horizon cap, median (p25–p75)",
        f"{_h(uncapped['median'])} h ({_h(uncapped['p25'])}–{_h(uncapped['p75'])})",
    )
    long = result["horizon_7d"]
    rates = ", ".join(f"{c} {_pct(r)}" for c, r in long["detection_rate"].items())
    alarms.add_row("7-day horizon: detection", rates)
    alarms.add_row("7-day horizon: by chance", _pct(long["chance_detection_rate"]))
    alarms.add_row(
        "7-day horizon: false alarms / machine-week (strict)",
        f"{long['false_alarms_per_machine_week']:.2f} "
        f"({long['false_alarms_strict_per_machine_week']:.2f})",
    )
    alarms.add_row("machine-weeks", f"{result['machine_weeks']:g}")
    alarms.add_row("jams (not scored)", str(result["jams"]))
    alarms.add_row(
        "simulate / fit+score", f"{result['sim_s']:.0f} s / {result['fit_score_s']:.0f} s"
    )
    machines = Table(title="per machine")
    for col in (
        "machine",
        "detector",
        "train rows",
        "in warning",
        "warnings",
        "false",
        "strict",
        "wear warned",
        "median lead (h)",
        "breakdowns warned",
    ):
        machines.add_column(col, justify="left" if col in ("machine", "detector") else "right")
    for m in result["per_machine"]:
        machines.add_row(
            m["equipment"].rsplit("/", 1)[-1],
            m["detector"],
            str(m["train_rows"]),
            _pct(m["warning_share"]),
            str(m["warnings"]),
            str(m["false_alarms"]),
            str(m["false_alarms_strict"]),
            f"{m['wear_warned']}/{m['wear_failures']}",
            _h(m["wear_median_lead_h"]),
            f"{m['breakdowns_warned']}/{m['breakdowns']}",
        )
    out = Table.grid(padding=(1, 0))
    for part in (causes, alarms, machines):
        out.add_row(part)
    return out
