"""The virtual factory: determinism, the state machine, counters, degradation, ground truth."""

import itertools
import json
import time
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pyarrow.parquet as pq
import pytest

from factoryos.model.site import SiteFile
from factoryos.sim import (
    FaultError,
    FaultKind,
    MachineState,
    UnknownPathError,
    VirtualFactory,
    quantize,
)
from factoryos.sim.states import NS_PER_S

CNC = "demo/machining/line1/cell1/cnc-01"
IMM = "demo/moulding/imm/cell1/imm-01"
PACKER = "demo/packaging/pack1/cell1/packer-01"
COMP = "demo/utilities/air/station/comp-01"
METER = "demo/utilities/power/main/meter-01"
PRODUCERS = [
    "demo/machining/line1/cell1/cnc-01",
    "demo/machining/line1/cell1/cnc-02",
    "demo/machining/line1/cell1/cnc-03",
    IMM,
    PACKER,
]
HOUR_NS = 3600 * NS_PER_S


@dataclass
class Run:
    """A factory run with every signal of every equipment recorded after each step."""

    factory: VirtualFactory
    ts: npt.NDArray[np.int64]
    log: dict[str, dict[str, npt.NDArray[np.float64]]]


def record(factory: VirtualFactory, n_steps: int) -> Run:
    rows: dict[str, list[dict[str, float]]] = {p: [] for p in factory.equipment_paths()}
    ts = []
    for _ in range(n_steps):
        factory.step()
        ts.append(factory.now_ns)
        for path, out in rows.items():
            out.append(factory.signals(path))
    log = {
        path: {name: np.array([r[name] for r in out]) for name in out[0]}
        for path, out in rows.items()
    }
    return Run(factory, np.array(ts), log)


@pytest.fixture(scope="module")
def week(demo_site: SiteFile) -> Run:
    """One simulated week of the demo site in one-minute steps, seed 0."""
    return record(VirtualFactory(demo_site, seed=0, step_s=60.0), 7 * 1440)


def _same_run(a: Run, b: Run) -> bool:
    signals_equal = all(np.array_equal(a.log[p][s], b.log[p][s]) for p in a.log for s in a.log[p])
    ta, tb = a.factory.truth, b.factory.truth
    pa, pb = ta.parts(), tb.parts()
    return (
        signals_equal
        and ta.intervals() == tb.intervals()
        and ta.failures == tb.failures
        and np.array_equal(pa.ts_ns, pb.ts_ns)
        and np.array_equal(pa.good, pb.good)
    )


def test_same_seed_gives_the_same_run_and_another_seed_does_not(demo_site: SiteFile) -> None:
    runs = [record(VirtualFactory(demo_site, seed=s, step_s=30.0), 2880) for s in (5, 5, 6)]
    assert _same_run(runs[0], runs[1])
    assert not _same_run(runs[0], runs[2])
    assert runs[0].factory.truth.intervals(CNC) != runs[2].factory.truth.intervals(CNC)


def test_reading_signals_does_not_change_the_run(demo_site: SiteFile) -> None:
    reader, silent = (VirtualFactory(demo_site, seed=2, step_s=10.0) for _ in range(2))
    for _ in range(5000):
        reader.step()
        for path in reader.equipment_paths():
            reader.signals(path)
    silent.advance(5000)
    for path in reader.equipment_paths():
        assert reader.signals(path) == silent.signals(path)
    assert reader.truth.intervals() == silent.truth.intervals()


def test_start_time_and_step_define_the_clock(demo_site: SiteFile) -> None:
    factory = VirtualFactory(demo_site, start_ns=10 * HOUR_NS, step_s=0.5)
    factory.advance(7)
    assert factory.now_ns == 10 * HOUR_NS + 3_500_000_000
    assert factory.steps == 7


def test_producers_visit_all_five_states_in_a_week(week: Run) -> None:
    for path in PRODUCERS:
        states = {iv.state for iv in week.factory.truth.intervals(path)}
        assert states == set(MachineState), path
        assert set(week.log[path]["state"]) == {float(s) for s in MachineState}, path
    for path in (COMP, "demo/utilities/air/station/comp-02"):
        states = {iv.state for iv in week.factory.truth.intervals(path)}
        assert {MachineState.RUNNING, MachineState.IDLE} <= states, path


def test_state_intervals_tile_the_run(week: Run) -> None:
    factory = week.factory
    for path in PRODUCERS:
        intervals = factory.truth.intervals(path)
        assert intervals[0].start_ns == factory.start_ns
        assert intervals[-1].end_ns is None
        for before, after in itertools.pairwise(intervals):
            assert before.end_ns == after.start_ns
            assert before.state != after.state
            assert before.start_ns < before.end_ns


def test_planned_stops_follow_the_shift_plan(week: Run) -> None:
    hours = (week.ts // NS_PER_S % 86400) / 3600
    night = (hours < 6) | (hours >= 22)
    state = week.log[CNC]["state"]
    down = state == MachineState.UNPLANNED_DOWN
    assert np.all(state[night & ~down] == MachineState.PLANNED_STOP)
    planned = state == MachineState.PLANNED_STOP
    in_break = (hours >= 12) & (hours < 12.5)
    assert np.all(night[planned] | in_break[planned])


def test_wear_leads_to_failure_and_repair_restores_health(week: Run) -> None:
    truth = week.factory.truth
    wear = [f for f in truth.failures if f.cause == "wear"]
    assert {f.equipment for f in wear} >= set(PRODUCERS[:3])
    for failure in wear:
        log = week.log[failure.equipment]
        at = int(np.searchsorted(week.ts, failure.ts_ns))
        assert log["health"][at] == 0.0
        assert log["state"][at] == MachineState.UNPLANNED_DOWN
        assert log["alarm_active"][at] == 1.0
        down = next(iv for iv in truth.intervals(failure.equipment) if iv.start_ns == failure.ts_ns)
        assert down.state == MachineState.UNPLANNED_DOWN
        assert down.end_ns is not None
        assert down.end_ns - down.start_ns == pytest.approx(failure.repair_s * NS_PER_S, abs=60e9)
        back = int(np.searchsorted(week.ts, down.end_ns))
        assert log["health"][back] == 1.0
        running = log["state"] == MachineState.RUNNING
        before = running & (week.ts > failure.ts_ns - 12 * HOUR_NS) & (week.ts < failure.ts_ns)
        after = running & (week.ts > down.end_ns) & (week.ts < down.end_ns + 24 * HOUR_NS)
        if before.any() and after.any():
            vib = log["vibration_mm_s"]
            assert vib[before].mean() > 2.0 * vib[after].mean(), failure


def test_health_only_falls_between_repairs(week: Run) -> None:
    for path in PRODUCERS:
        health = week.log[path]["health"]
        rises = np.flatnonzero(np.diff(health) > 0)
        assert np.all(health[rises + 1] == 1.0), path


def test_counters_are_monotonic_and_match_the_parts(week: Run) -> None:
    parts = week.factory.truth.parts()
    for path in PRODUCERS:
        log = week.log[path]
        for name in ("cycle_count", "good_count", "scrap_count"):
            assert np.all(np.diff(log[name]) >= 0), (path, name)
        assert np.array_equal(log["good_count"] + log["scrap_count"], log["cycle_count"])
        mine = parts.of(path)
        assert len(mine.ts_ns) == log["cycle_count"][-1] > 0
        assert int(np.sum(~mine.good)) == log["scrap_count"][-1]
        assert 0.003 < np.mean(~mine.good) < 0.1


def test_every_part_is_made_while_running(week: Run) -> None:
    parts = week.factory.truth.parts()
    for path in PRODUCERS:
        running = [
            (iv.start_ns, iv.end_ns or week.factory.now_ns)
            for iv in week.factory.truth.intervals(path)
            if iv.state == MachineState.RUNNING
        ]
        starts = np.array([s for s, _ in running])
        ends = np.array([e for _, e in running])
        ts = parts.of(path).ts_ns
        assert np.all(np.diff(ts) >= 0)
        i = np.searchsorted(starts, ts, side="right") - 1
        assert np.all(i >= 0)
        assert np.all(ts < ends[i]), path


def test_temperatures_lag_behind_a_state_change(week: Run) -> None:
    state, temp = week.log[CNC]["state"], week.log[CNC]["spindle_temp_c"]
    planned = state == MachineState.PLANNED_STOP
    # Night stops: running, then still stopped two hours later.
    stops = np.flatnonzero((state[:-121] == MachineState.RUNNING) & planned[1:-120] & planned[121:])
    assert len(stops) >= 5
    for i in stops:
        assert temp[i + 1] > temp[i] - 3.0  # no jump at the stop
        assert temp[i + 120] < temp[i] - 5.0  # but cooled two hours later


def test_energy_meter_integrates_site_power(week: Run) -> None:
    meter = week.log[METER]
    energy, power = meter["energy_kwh"], meter["active_power_kw"]
    assert np.all(np.diff(energy) > 0)
    # Each step integrates the power read at its start; the reads carry 0.5 % noise.
    integral = float(np.sum(power[:-1]) * 60.0 / 3600.0)
    assert energy[-1] - energy[0] == pytest.approx(integral, rel=0.002)
    machines = sum(week.log[p]["power_kw"][-1] for p in week.log if p != METER)
    assert power[-1] == pytest.approx(machines + 12.0, rel=0.05)
    tag = week.factory.site.tags()
    energy_tag = next(ref.tag for ref in tag if ref.path == f"{METER}/energy_kwh")
    assert week.factory.value(f"{METER}/energy_kwh") == quantize(energy[-1], energy_tag)


def test_value_is_the_quantised_signal(demo_site: SiteFile) -> None:
    factory = VirtualFactory(demo_site, seed=4)
    factory.advance(7 * 3600)
    for ref in factory.tag_refs():
        eq = ref.path.rsplit("/", 1)[0]
        signal = factory.signals(eq)[ref.tag.sim_signal]
        assert factory.value(ref.path) == quantize(signal, ref.tag)
        assert factory.signal_of(ref.path) == signal
    temp = factory.value(f"{CNC}/spindle_temp_c")
    assert temp * 10 == pytest.approx(round(temp * 10), abs=1e-9)
    assert factory.value(f"{CNC}/power_kw") == float(np.float32(factory.signals(CNC)["power_kw"]))


def _factory_at_work(site: SiteFile, seed: int = 1) -> VirtualFactory:
    factory = VirtualFactory(site, seed=seed, step_s=10.0)
    factory.advance(8 * 360)  # 08:00 on the first day: production is on
    return factory


def test_injected_breakdown_stops_the_machine_for_its_duration(demo_site: SiteFile) -> None:
    factory = _factory_at_work(demo_site)
    event = factory.inject_fault(CNC, "breakdown", duration_s=1800)
    assert event.kind == FaultKind.BREAKDOWN
    assert event.ts_ns == factory.now_ns
    assert factory.signals(CNC)["state"] == MachineState.UNPLANNED_DOWN
    assert factory.value(f"{CNC}/alarm_active") == 1.0
    assert factory.truth.faults == [event]
    assert factory.truth.failures[-1].cause == "breakdown"
    factory.advance(179)
    assert factory.signals(CNC)["state"] == MachineState.UNPLANNED_DOWN
    factory.advance(1)
    assert factory.signals(CNC)["state"] == MachineState.SETUP
    down = factory.truth.intervals(CNC)[-2]
    assert (down.state, down.start_ns, down.end_ns) == (
        MachineState.UNPLANNED_DOWN, event.ts_ns, event.ts_ns + 1800 * NS_PER_S
    )  # fmt: skip


def _first_wear_failure(factory: VirtualFactory, path: str) -> int:
    for _ in range(7 * 8640):
        factory.step()
        wear = [f for f in factory.truth.failures if f.equipment == path and f.cause == "wear"]
        if wear:
            return wear[0].ts_ns
    raise AssertionError("no wear failure within a week")


def test_injected_wear_brings_the_failure_forward(demo_site: SiteFile) -> None:
    baseline = _factory_at_work(demo_site, seed=9)
    worn = _factory_at_work(demo_site, seed=9)
    worn.inject_fault(IMM, FaultKind.WEAR, severity=0.5)
    fail_worn = _first_wear_failure(worn, IMM)
    assert fail_worn - worn.now_ns < 3600 * NS_PER_S  # found promptly
    assert fail_worn < _first_wear_failure(baseline, IMM) - 24 * HOUR_NS


def test_injected_overheat_raises_the_temperature_with_lag(demo_site: SiteFile) -> None:
    baseline = _factory_at_work(demo_site)
    hot = _factory_at_work(demo_site)
    hot.inject_fault(PACKER, "overheat", severity=1.0, duration_s=7200)
    assert hot.signals(PACKER)["motor_temp_c"] == baseline.signals(PACKER)["motor_temp_c"]
    baseline.advance(360)
    hot.advance(360)
    rise = hot.signals(PACKER)["motor_temp_c"] - baseline.signals(PACKER)["motor_temp_c"]
    assert 8.0 < rise < 20.0


def test_injected_air_leak_makes_the_compressor_work_harder(demo_site: SiteFile) -> None:
    baseline = _factory_at_work(demo_site)
    leaky = _factory_at_work(demo_site)
    leaky.inject_fault(COMP, "air_leak", severity=1.0)
    baseline.advance(360)
    leaky.advance(360)
    assert leaky.signals(COMP)["cycle_count"] != baseline.signals(COMP)["cycle_count"]
    assert leaky.signals(METER)["energy_kwh"] > baseline.signals(METER)["energy_kwh"] + 5.0


def test_bad_faults_are_refused_and_change_nothing(demo_site: SiteFile) -> None:
    factory = _factory_at_work(demo_site)
    before = factory.signals(CNC)
    with pytest.raises(FaultError, match="air_leak"):
        factory.inject_fault(CNC, "air_leak")
    with pytest.raises(FaultError, match="unknown fault 'melt'"):
        factory.inject_fault(CNC, "melt")
    with pytest.raises(FaultError, match="severity"):
        factory.inject_fault(CNC, "wear", severity=0.0)
    with pytest.raises(FaultError, match="duration_s"):
        factory.inject_fault(CNC, "breakdown", duration_s=-1.0)
    with pytest.raises(FaultError, match="does not apply"):
        factory.inject_fault(METER, "breakdown")
    with pytest.raises(UnknownPathError, match="demo/nowhere"):
        factory.inject_fault("demo/nowhere", "breakdown")
    with pytest.raises(UnknownPathError, match="no simulated tag"):
        factory.value(f"{CNC}/nope")
    assert factory.signals(CNC) == before
    assert factory.truth.faults == []


def test_ground_truth_exports(week: Run, tmp_path: pytest.TempPathFactory) -> None:
    truth = week.factory.truth
    path = tmp_path / "truth.jsonl"  # type: ignore[operator]
    truth.write_jsonl(path)
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    kinds = [r["type"] for r in rows]
    assert kinds.count("state") == len(truth.intervals())
    assert kinds.count("failure") == len(truth.failures)
    assert kinds.count("part") == len(truth.parts().ts_ns)
    first_state = rows[0]
    assert first_state["equipment"] == CNC
    assert first_state["state"] in MachineState.__members__
    directory = tmp_path / "pq"  # type: ignore[operator]
    truth.write_parquet(directory)
    parts = pq.read_table(directory / "parts.parquet")
    assert parts.num_rows == len(truth.parts().ts_ns)
    assert pq.read_table(directory / "states.parquet").num_rows == len(truth.intervals())
    failures = pq.read_table(directory / "failures.parquet").to_pylist()
    assert failures[0]["cause"] == truth.failures[0].cause


def test_advance_is_far_faster_than_real_time(demo_site: SiteFile) -> None:
    factory = VirtualFactory(demo_site, step_s=1.0)
    n = 20_000
    start = time.perf_counter()
    factory.advance(n)
    speed = n / (time.perf_counter() - start)
    print(f"demo site, 1 s steps: {speed:,.0f} simulated seconds per wall second")
    assert speed > 1000


def test_a_planned_stop_stops_the_machine_and_is_recorded(demo_site: SiteFile) -> None:
    factory = VirtualFactory(demo_site, step_s=60.0)
    start = factory.start_ns + 8 * 3600 * NS_PER_S  # Monday 08:00, inside the shift
    stop = factory.plan_stop(CNC, start, start + 2 * 3600 * NS_PER_S, "preventive maintenance")
    factory.advance(24 * 60)
    inside = [
        iv
        for iv in factory.truth.intervals(CNC)
        if iv.start_ns < stop.end_ns and (iv.end_ns or factory.now_ns) > stop.start_ns
    ]
    planned = [iv for iv in inside if iv.state == MachineState.PLANNED_STOP]
    # A repair running at 08:00 finishes first; then the machine stays stopped to the end.
    assert planned and planned[-1].end_ns == stop.end_ns
    assert factory.truth.planned_stops == [stop]
    with pytest.raises(FaultError, match="after its start"):
        factory.plan_stop(CNC, start, start)
    with pytest.raises(FaultError, match="shift plan"):
        factory.plan_stop(METER, start, start + 1)
