"""One simulated week, checked against the simulator's own record.

The demo plant runs for a week (10-second steps) with shifts, breaks, a holiday, a free
Sunday, planned maintenance, injected breakdowns, accelerated wear (scrap climbs) and
overheats. Every tag goes into a DuckDB store as the platform stores it; the OEE service
reads it back with the calendar of ``WEEK_APPS`` and must match, to 0.1 percentage point,
availability, performance, quality and OEE computed here, independently, from the
simulator's record: its state intervals, every part it made, and its shift plan with the
planned stops it was given. The alarm engine reads the same store and must raise exactly
one alarm per injected overheat that crossed a limit, and none anywhere else.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest

from factoryos.apps.alarms.engine import AlarmEngine
from factoryos.apps.alarms.events import AlarmEvent, EventKind
from factoryos.apps.alarms.rules import parse_rules
from factoryos.apps.oee.config import load_section
from factoryos.apps.oee.evaluate import OeeResult
from factoryos.apps.oee.reasons import LossClass
from factoryos.apps.oee.service import OeeService
from factoryos.model.appsfile import parse_apps_file
from factoryos.runtime.history import record_history
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.models.base import Machine
from factoryos.sim.states import MachineState
from factoryos.store.duckdb_store import DuckDBStore

S = 1_000_000_000
H = 3600 * S
DAY = 24 * H
STEP_S = 10.0
MICRO_STOP_S = 60.0
TOLERANCE = 0.001  # 0.1 percentage point
SEED = 11

M = "demo/machining/line1/cell1"
CNC1, CNC2, CNC3 = f"{M}/cnc-01", f"{M}/cnc-02", f"{M}/cnc-03"
IMM = "demo/moulding/imm/cell1/imm-01"
PACKER = "demo/packaging/pack1/cell1/packer-01"
DAY_SHIFT = (CNC1, IMM, PACKER)  # 06:00-22:00 Monday to Saturday; Friday is a holiday

WEEK_APPS = f"""
oee:
  timezone: UTC
  reasons:
    1: {{text: machine fault, loss: breakdowns}}
  calendars:
    two-shift:
      shifts:
        - {{name: early, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri, sat],
           breaks: [{{start: "12:00", minutes: 30}}]}}
        - {{name: late, start: "14:00", end: "22:00", days: [mon, tue, wed, thu, fri, sat]}}
      holidays: [2025-01-10]
    two-shift-no-break:
      shifts:
        - {{name: early, start: "06:00", end: "14:00", days: [mon, tue, wed, thu, fri, sat]}}
        - {{name: late, start: "14:00", end: "22:00", days: [mon, tue, wed, thu, fri, sat]}}
      holidays: [2025-01-10]
    three-shift:
      shifts:
        - {{name: early, start: "06:00", end: "14:00", breaks: [{{start: "12:00", minutes: 30}}]}}
        - {{name: late, start: "14:00", end: "22:00"}}
        - {{name: night, start: "22:00", end: "06:00"}}
  equipment:
    {CNC1}: &cnc
      calendar: two-shift
      state_tag: state
      counters: {{produced: cycle_count, good: good_count, scrap: scrap_count}}
      ideal_cycle_s: 90
      micro_stop_s: {MICRO_STOP_S}
      reason_tag: alarm_active
      planned_stops:
        - {{start: 2025-01-08T08:00:00, end: 2025-01-08T11:00:00, reason: preventive maintenance}}
    {CNC2}: {{<<: *cnc, calendar: three-shift, ideal_cycle_s: 75, planned_stops: []}}
    {CNC3}: {{<<: *cnc, calendar: three-shift, ideal_cycle_s: 120, planned_stops: []}}
    {IMM}: {{<<: *cnc, calendar: two-shift-no-break, ideal_cycle_s: 35, planned_stops: []}}
    {PACKER}:
      <<: *cnc
      ideal_cycle_s: 2.5
      counters: {{produced: cycle_count, scrap: scrap_count}}
      planned_stops: []
"""

# (hours after Monday 00:00, equipment, fault kind, severity, duration_s)
FAULTS = [
    (9.0, CNC1, "overheat", 1.5, 3600.0),
    (10.0 + 24, IMM, "overheat", 1.5, 3600.0),
    (15.0 + 24, CNC2, "breakdown", 1.0, 5400.0),
    (16.0 + 48, PACKER, "wear", 1.0, None),
    (2.0 + 72, CNC3, "overheat", 1.5, 3600.0),
    (9.5 + 72, PACKER, "overheat", 2.0, 3600.0),
    (14.0 + 120, IMM, "breakdown", 1.0, 7200.0),
    (20.0 + 120, CNC2, "overheat", 1.5, 3600.0),
]
# (equipment, start hour, end hour, reason): the holiday, Sunday, the maintenance
PLANNED = [
    *((eq, 96 + 6.0, 96 + 22.0, "holiday") for eq in DAY_SHIFT),
    *((eq, 144 + 6.0, 144 + 22.0, "Sunday") for eq in DAY_SHIFT),
    (CNC1, 48 + 8.0, 48 + 11.0, "preventive maintenance"),
]
# Limits above anything normal operation reaches (worn out included), below an overheat.
TEMPS = {CNC1: "spindle_temp_c", CNC2: "spindle_temp_c", CNC3: "spindle_temp_c"}
TEMPS |= {IMM: "oil_temp_c", PACKER: "motor_temp_c"}
LIMITS = {"spindle_temp_c": 76.0, "oil_temp_c": 64.0, "motor_temp_c": 86.0}
DEADBAND = 2.0
COOL_DOWN_S = 3 * 3600  # how long a temperature may stay high after an overheat ends


@dataclass
class Week:
    factory: VirtualFactory
    store: DuckDBStore
    tag_ids: dict[str, int]
    start: int  # the range checked: the week after the first 10 minutes
    end: int


def _run(tmp_path: Path) -> Week:
    site = load_demo_site()
    factory = VirtualFactory(site, seed=SEED, step_s=STEP_S)
    t0 = factory.start_ns
    for eq, a, b, reason in PLANNED:
        factory.plan_stop(eq, t0 + round(a * H), t0 + round(b * H), reason)
    tag_ids = {ref.path: i for i, ref in enumerate(site.tags())}
    store = DuckDBStore(tmp_path / "week.duckdb")
    end = t0 + 7 * DAY + 20 * 60 * S
    for hour, eq, kind, severity, duration in [*FAULTS, (None, None, None, None, None)]:
        until = end if hour is None else t0 + round(hour * H)
        steps = (until - factory.now_ns) // factory.step_ns
        record_history(factory, store, tag_ids, int(steps))
        if eq is not None and kind is not None and severity is not None:
            factory.inject_fault(eq, kind, severity=severity, duration_s=duration)
    return Week(factory, store, tag_ids, t0 + 10 * 60 * S, t0 + 7 * DAY + 10 * 60 * S)


@pytest.fixture(scope="module")
def week(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Week]:
    run = _run(tmp_path_factory.mktemp("week"))
    yield run
    run.store.close()


# --- OEE from the simulator's own record, step by step ----------------------------------


def _truth_states(week: Week, eq: str, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.int64]:
    intervals = week.factory.truth.intervals(eq)
    starts = np.array([iv.start_ns for iv in intervals])
    states = np.array([int(iv.state) for iv in intervals])
    return states[np.searchsorted(starts, ts, side="right") - 1]


def _sim_planned(week: Week, eq: str, ts: npt.NDArray[np.int64]) -> npt.NDArray[np.bool_]:
    machine = week.factory._models[eq]  # the machine's own plan is the record of what was planned
    assert isinstance(machine, Machine)
    hour = (ts / S % 86_400) / 3600.0
    p = machine.plan
    planned = (hour < p.start_h) | (hour >= p.end_h)
    planned |= (p.break_start_h <= hour) & (hour < p.break_start_h + p.break_min / 60.0)
    for stop in week.factory.truth.planned_stops:
        if stop.equipment == eq:
            planned |= (stop.start_ns <= ts) & (ts < stop.end_ns)
    return planned


def _runs(mask: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    return list(zip(edges[::2].tolist(), edges[1::2].tolist(), strict=True))


def truth_oee(week: Week, eq: str, ideal_cycle_s: float, a: int, b: int) -> dict[str, float]:
    """A, P, Q and OEE over ``[a, b)`` from the record, one simulator step at a time."""
    step = week.factory.step_ns
    ts = np.arange(a, b, step)
    state = _truth_states(week, eq, ts)
    planned = _sim_planned(week, eq, ts)
    running = state == MachineState.RUNNING
    stopped = ((state == MachineState.IDLE) | (state == MachineState.UNPLANNED_DOWN)) & ~planned
    micro = np.zeros_like(running)
    for i, j in _runs(stopped):  # a short stop between two running steps is a micro-stop
        flanked = i > 0 and j < len(ts) and running[i - 1] and running[j]
        if flanked and (j - i) * STEP_S < MICRO_STOP_S:
            micro[i:j] = True
    pbt = np.count_nonzero(~planned | running) * STEP_S
    apt = np.count_nonzero(running | micro) * STEP_S
    parts = week.factory.truth.parts().of(eq)
    made = (parts.ts_ns >= a) & (parts.ts_ns < b)
    produced, good = int(np.count_nonzero(made)), int(np.count_nonzero(parts.good[made]))
    a_, p_, q_ = apt / pbt, produced * ideal_cycle_s / apt, good / produced
    down = (state == MachineState.UNPLANNED_DOWN) & ~planned & ~micro
    return {
        "availability": a_,
        "effectiveness": p_,
        "quality_ratio": q_,
        "oee_index": a_ * p_ * q_,
        "breakdown_s": np.count_nonzero(down) * STEP_S,
    }


def measured(result: OeeResult) -> dict[str, float]:
    out = {}
    for name in ("availability", "effectiveness", "quality_ratio", "oee_index"):
        value = result.kpis.values[name].value
        assert value is not None, f"{result.name}: {name} undefined"
        out[name] = value
    return out


def service(week: Week) -> OeeService:
    apps = parse_apps_file(WEEK_APPS, "week-apps.yaml")
    section = load_section(apps, week.factory.site)
    assert section is not None
    return OeeService(section, week.store, week.tag_ids)


@pytest.mark.parametrize("eq", [CNC1, CNC2, CNC3, IMM, PACKER])
def test_week_oee_matches_the_simulators_record(week: Week, eq: str) -> None:
    oee = service(week)
    ideal = oee.section.equipment[eq].ideal_cycle_s
    assert ideal is not None
    result = oee.equipment(eq, week.start, week.end)
    truth = truth_oee(week, eq, ideal, week.start, week.end)
    got = measured(result)
    print(eq, {k: f"{got[k]:.4f}/{truth[k]:.4f}" for k in got})
    assert result.notes == ()
    for name, value in got.items():
        assert abs(value - truth[name]) <= TOLERANCE, (eq, name, value, truth[name])
    # the scenario really has losses of every kind the week was built to show
    assert 0.3 < got["oee_index"] < 0.95
    assert got["quality_ratio"] < 1.0


def test_every_day_matches_too(week: Week) -> None:
    oee = service(week)
    checked = 0
    for eq in (CNC1, PACKER, CNC3):
        ideal = oee.section.equipment[eq].ideal_cycle_s
        assert ideal is not None
        for day, result in oee.by_day(eq, week.start, week.end):
            if result.kpis.times.pbt == 0:  # the holiday, Sunday: nothing planned
                assert result.kpis.values["availability"].value is None
                continue
            truth = truth_oee(week, eq, ideal, result.start_ns, result.end_ns)
            got = measured(result)
            for name, value in got.items():
                assert abs(value - truth[name]) <= TOLERANCE, (eq, day, name)
            checked += 1
    assert checked == 5 + 5 + 8  # Mon-Thu + Sat for the day-shift machines; 8 days for cnc-03


def test_planned_time_follows_the_calendar(week: Week) -> None:
    result = service(week).equipment(CNC1, week.start, week.end)
    # Mon, Tue, Thu, Sat: 16 h - 0.5 h break; Wed: also 3 h maintenance; Fri, Sun: nothing
    assert result.kpis.times.pbt == pytest.approx((4 * 15.5 + 12.5) * 3600)


def test_shifts_and_line(week: Week) -> None:
    oee = service(week)
    shifts = oee.by_shift(CNC1, week.start, week.end)
    assert [s.name for s, _ in shifts[:2]] == ["early", "late"]
    assert len(shifts) == 2 * 5  # Mon-Thu and Sat
    line = oee.line("demo/machining/line1", week.start, week.end)
    assert line.bottleneck == CNC3  # the longest ideal cycle time on the line
    assert line.oee is next(r for r in line.equipment if r.name == CNC3)
    site = oee.site(week.start, week.end)
    assert site.kpis.times.pbt == pytest.approx(
        sum(r.kpis.times.pbt for r in line.equipment)
        + sum(oee.equipment(eq, week.start, week.end).kpis.times.pbt for eq in (IMM, PACKER))
    )


def test_losses_balance_and_breakdowns_match_the_record(week: Week) -> None:
    oee = service(week)
    machines = [CNC1, CNC2, CNC3, IMM, PACKER]
    report = oee.losses(machines, week.start, week.end)
    for eq in machines:
        six = report.six_big_losses[eq]
        total = six.value_adding_s + sum(six.losses_s.values())
        assert total == pytest.approx(six.pbt_s, abs=1e-6), eq
        ideal = oee.section.equipment[eq].ideal_cycle_s
        assert ideal is not None
        truth = truth_oee(week, eq, ideal, week.start, week.end)
        # A breakdown injected between two polls shows from the next poll: one step late.
        injected = sum(1 for f in FAULTS if f[1] == eq and f[2] == "breakdown")
        late = truth["breakdown_s"] - six.losses_s[LossClass.BREAKDOWNS]
        assert 0 <= late <= injected * STEP_S, eq
    by_reason = {row.key: row for row in report.by_reason}
    # every unplanned stop with the fault signal on carries the PLC's code; idle ones none
    assert by_reason["1 machine fault"].count >= 2  # at least the injected breakdowns
    assert "unassigned" in by_reason
    assert sum(r.share for r in report.by_reason) == pytest.approx(1.0)
    assert {r.key for r in report.by_equipment} <= set(machines)
    assert len(report.by_day) == 8  # the range touches eight plant days


# --- alarms over the same week ----------------------------------------------------------


def _alarm_events(week: Week) -> list[AlarmEvent]:
    rules = parse_rules(
        [
            {
                "name": f"{eq}/{tag} H",
                "tag_id": week.tag_ids[f"{eq}/{tag}"],
                "kind": "limit",
                "level": "H",
                "setpoint": LIMITS[tag],
                "deadband": DEADBAND,
                "on_delay_s": 30.0,
                "priority": "high",
            }
            for eq, tag in TEMPS.items()
        ]
    )
    engine = AlarmEngine(rules)
    ids = [r.tag_id for r in rules]
    events: list[AlarmEvent] = []
    for batch in week.store.iter_raw(ids, week.factory.start_ns, week.factory.now_ns + 1):
        events += engine.process(batch)
        events += engine.tick(int(batch.ts.max()))
    return events


def _violations(week: Week) -> tuple[list[tuple[str, int]], list[str]]:
    """Overheats whose temperature clearly crossed its limit (by more than one noise-free
    degree), and the ones that came close without clearly crossing (there must be none)."""
    clear, unclear = [], []
    t0 = week.factory.start_ns
    for hour, eq, kind, _, duration in FAULTS:
        if kind != "overheat" or duration is None:
            continue
        tag = TEMPS[eq]
        start = t0 + round(hour * H)
        batch = week.store.raw(week.tag_ids[f"{eq}/{tag}"], start, start + COOL_DOWN_S * S)
        peak = float(batch.values.max())
        if peak > LIMITS[tag] + 1.0:
            clear.append((f"{eq}/{tag} H", start))
        elif peak > LIMITS[tag] - 1.0:
            unclear.append(f"{eq} at {hour} h: peak {peak:.2f}")
    return clear, unclear


def test_each_injected_violation_raises_exactly_one_alarm(week: Week) -> None:
    events = _alarm_events(week)
    activations = [e for e in events if e.kind is EventKind.ACTIVATED]
    clear, unclear = _violations(week)
    assert unclear == [], "the scenario must make each overheat clearly cross or stay clear"
    assert len(clear) >= 4
    matched = []
    for alarm, start in clear:
        mine = [
            e for e in activations if e.alarm == alarm and start <= e.ts < start + COOL_DOWN_S * S
        ]
        assert len(mine) == 1, (alarm, start, mine)
        matched += mine
    stray = [e for e in activations if e not in matched]
    assert stray == [], "alarms where no limit violation was injected"
    cleared = [e for e in events if e.kind is EventKind.CLEARED]
    assert len(cleared) == len(matched)  # every overheat ended and its alarm cleared
