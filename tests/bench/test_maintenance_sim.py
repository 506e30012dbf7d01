"""The simulator benchmark of anomaly warnings: its accounting on hand-made inputs, and a
short real run (one day after training, one strong accelerated-wear fault)."""

import json

import numpy as np
import pytest
from rich.console import Console

from factoryos.bench.errors import BenchError
from factoryos.bench.maintenance_sim import (
    ACCELERATED,
    BREAKDOWN,
    NATURAL,
    WATCHED,
    Alert,
    Failure,
    PlannedFault,
    alarm_verdicts,
    alerts_from,
    chance_rate,
    distribution,
    fault_plan,
    format_sim_table,
    label_failures,
    lead_times,
    overheat_delays,
    run_sim,
    run_sim_bench,
)
from factoryos.sim import DEFAULT_START_NS, FaultKind
from factoryos.sim.truth import FailureEvent, FaultEvent

S = 1_000_000_000
H = 3600 * S
HORIZON = 24 * H
A, B = "site/a/l/c/m1", "site/a/l/c/m2"


def at(hours: float) -> int:
    return round(hours * H)


# --- warnings from alarm states ---------------------------------------------------------


def test_alerts_are_the_turn_ons_with_their_ends() -> None:
    ts = np.arange(8, dtype=np.int64) * H
    active = np.array([1, 1, 0, 0, 1, 0, 1, 1], dtype=np.bool_)
    assert alerts_from(A, ts, active) == [
        Alert(A, at(0), at(2)),
        Alert(A, at(4), at(5)),
        Alert(A, at(6), None),  # still on when the rows end
    ]
    assert alerts_from(A, ts, np.zeros(8, dtype=np.bool_)) == []
    with pytest.raises(BenchError, match="8 row times for 3 alarm states"):
        alerts_from(A, ts, active[:3])


# --- failures: labels and lead times --------------------------------------------------------


def test_wear_failures_are_labelled_by_what_hastened_them() -> None:
    faults = [FaultEvent(at(10), A, FaultKind.WEAR, 0.5, None)]
    failures = [
        FailureEvent(at(5), A, "wear", 3600.0),  # before the fault: natural
        FailureEvent(at(12), A, "jam", 300.0),  # a minor stop: not a failure to foresee
        FailureEvent(at(20), A, "wear", 3600.0),  # after the fault: accelerated
        FailureEvent(at(60), A, "wear", 3600.0),  # the fault was used up by the last one
        FailureEvent(at(30), B, "wear", 3600.0),  # another machine: the fault is not its own
        FailureEvent(at(40), B, "breakdown", 7200.0),
    ]
    labelled = label_failures(failures, faults, since_ns=at(6))
    assert [(f.equipment, f.ts_ns, f.cause) for f in labelled] == [
        (A, at(20), ACCELERATED),
        (B, at(30), NATURAL),
        (B, at(40), BREAKDOWN),
        (A, at(60), NATURAL),
    ]
    assert labelled[2].end_ns == at(42)


def test_a_warning_before_a_failure_gives_its_lead_time() -> None:
    failures = [Failure(A, at(100), NATURAL, 3600.0)]
    alerts = [Alert(A, at(90), None), Alert(A, at(95), at(96))]  # the first one counts
    [outcome] = lead_times(alerts, failures, HORIZON, since_ns=0)
    assert outcome.lead_ns == at(10)
    # another machine's warning, or one that ended before the window, warns nothing
    other = [Alert(B, at(90), None), Alert(A, at(50), at(70))]
    assert lead_times(other, failures, HORIZON, since_ns=0)[0].lead_ns is None
    # a warning after the failure does not count either
    assert lead_times([Alert(A, at(100), None)], failures, HORIZON, 0)[0].lead_ns is None


def test_lead_time_is_cut_at_the_horizon_and_at_the_previous_repair() -> None:
    early = [Alert(A, at(10), None)]  # on since long before the window: counted from its start
    [outcome] = lead_times(early, [Failure(A, at(100), NATURAL, 0.0)], HORIZON, since_ns=0)
    assert outcome.lead_ns == HORIZON
    failures = [Failure(A, at(90), BREAKDOWN, 2 * 3600.0), Failure(A, at(100), NATURAL, 0.0)]
    first, second = lead_times(early, failures, HORIZON, since_ns=0)
    assert first.lead_ns == HORIZON
    assert second.lead_ns == at(8)  # from the breakdown's repair end at 92 h
    # the end of training bounds the first window
    assert lead_times(early, failures[1:], HORIZON, since_ns=at(95))[0].lead_ns == at(5)


def test_overheat_detection_delay() -> None:
    faults = [
        FaultEvent(at(10), A, FaultKind.OVERHEAT, 1.0, 3600.0),
        FaultEvent(at(50), A, FaultKind.OVERHEAT, 1.0, 3600.0),
        FaultEvent(at(80), B, FaultKind.BREAKDOWN, 1.0, None),
    ]
    alerts = [Alert(A, at(10.5), at(11)), Alert(A, at(55), None)]  # the second too late
    outcomes = overheat_delays(alerts, faults, cool_down_ns=at(3))
    assert [(o.ts_ns, o.lead_ns) for o in outcomes] == [(at(10), at(0.5)), (at(50), None)]


# --- false alarms -----------------------------------------------------------------------


def test_a_warning_with_nothing_after_it_is_a_false_alarm() -> None:
    end = at(500)
    failures = [Failure(A, at(110), NATURAL, 0.0), Failure(B, at(210), BREAKDOWN, 0.0)]
    faults = [FaultEvent(at(300), A, FaultKind.OVERHEAT, 1.0, 3600.0)]
    alerts = [
        Alert(A, at(20), at(21)),  # nothing within 24 h after: false
        Alert(A, at(100), None),  # a wear failure 10 h later: explained
        Alert(B, at(100), None),  # A's failure is not B's: false
        Alert(B, at(200), None),  # a breakdown follows: explained, but not in the strict sense
        Alert(A, at(290), None),  # the overheat injected 10 h later: explained, not strict
        Alert(A, at(302), None),  # during the overheat and its cool-down: explained in both
        Alert(A, at(400), None),  # nothing after it: false
        Alert(A, at(490), None),  # the run ends 10 h later: unresolved
    ]
    verdicts = alarm_verdicts(alerts, failures, faults, HORIZON, end)
    assert verdicts == [
        "false",
        "explained",
        "false",
        "explained",
        "explained",
        "explained",
        "false",
        "unresolved",
    ]
    strict = alarm_verdicts(alerts, failures, faults, HORIZON, end, strict=True)
    assert strict == [
        "false",
        "explained",
        "false",
        "false",
        "false",
        "explained",
        "false",
        "unresolved",
    ]


def test_accelerated_wear_explains_warnings_until_its_repair() -> None:
    faults = [FaultEvent(at(10), A, FaultKind.WEAR, 0.5, None)]
    failures = [Failure(A, at(60), ACCELERATED, 3600.0)]  # 50 h later: beyond the horizon
    alerts = [Alert(A, at(20), at(21)), Alert(A, at(60.5), None), Alert(A, at(70), None)]
    verdicts = alarm_verdicts(alerts, failures, faults, HORIZON, end_ns=at(200), strict=True)
    assert verdicts == ["explained", "explained", "false"]


def test_chance_rate_is_the_share_of_instants_with_a_warning_in_the_horizon_before() -> None:
    alerts = [Alert(A, at(10), at(11))]
    # hourly instants 1..20 h of A: a warning is on in [t - 4 h, t) for t = 11..14 h (4 of 20);
    # B has none
    assert chance_rate(alerts, [A], 0, at(20), at(4)) == pytest.approx(4 / 20)
    assert chance_rate(alerts, [A, B], 0, at(20), at(4)) == pytest.approx(4 / 40)
    assert chance_rate(alerts, [A], 0, 0, at(4)) is None


def test_distribution() -> None:
    d = distribution([4.0, 1.0, 3.0, 2.0, 5.0])
    assert d == {"n": 5, "min": 1.0, "p25": 2.0, "median": 3.0, "p75": 4.0, "max": 5.0}
    assert distribution([])["median"] is None


def test_fault_plan_is_seeded_and_covers_every_machine_week() -> None:
    machines = list(WATCHED)
    plan = fault_plan(machines, start_ns=0, weeks=2, seed=3)
    assert plan == fault_plan(machines, start_ns=0, weeks=2, seed=3)
    assert plan != fault_plan(machines, start_ns=0, weeks=2, seed=4)
    assert len(plan) == 2 * len(machines) * 3
    assert [p.ts_ns for p in plan] == sorted(p.ts_ns for p in plan)
    week = 7 * 24 * H
    for w in range(2):
        in_week = [p for p in plan if w * week <= p.ts_ns < (w + 1) * week]
        for eq in machines:
            kinds = sorted(p.kind.value for p in in_week if p.equipment == eq)
            assert kinds == ["breakdown", "overheat", "wear"]
    assert all(0.1 <= p.severity <= 0.5 for p in plan if p.kind is FaultKind.WEAR)


def test_bad_parameters_are_refused() -> None:
    with pytest.raises(BenchError, match=r"weeks must be 1\.\.52, got 0"):
        run_sim_bench(0)
    with pytest.raises(BenchError, match="horizon_h"):
        run_sim(1.0, horizon_h=0.0)
    with pytest.raises(BenchError, match="seed"):
        run_sim(1.0, seed=-1)


# --- a short real run -------------------------------------------------------------------


def test_short_run_warns_before_an_accelerated_wear_failure() -> None:
    eq = "demo/machining/line1/cell1/cnc-02"  # runs around the clock
    train_end = DEFAULT_START_NS + 24 * H
    injected = train_end + 2 * H
    plan = [PlannedFault(injected, eq, FaultKind.WEAR, 1.0, None)]  # 21× faster wear
    result = run_sim(1.0, seed=0, watched={eq: WATCHED[eq]}, plan=plan)
    json.dumps(result)  # the CLI's --json prints it as is

    assert result["injected"]["wear"] == 1 and result["not_injected"] == 0
    [fault] = result["faults"]
    assert fault["kind"] == "wear" and injected <= fault["ts_ns"] < injected + H
    accelerated = [f for f in result["failures"] if f["cause"] == ACCELERATED]
    assert len(accelerated) == 1, result["failures"]
    failure = accelerated[0]
    # health 1 → 0 at 21× the wear of a 70-h life: the failure comes within a few hours
    assert fault["ts_ns"] < failure["ts_ns"] < fault["ts_ns"] + 8 * H
    # warned, after the fault began to act and before the failure
    assert failure["lead_h"] is not None
    assert 0 < failure["lead_h"] < (failure["ts_ns"] - fault["ts_ns"]) / H
    summary = result["by_cause"][ACCELERATED]
    assert summary["count"] == summary["warned"] == 1
    assert summary["lead_h"]["median"] == pytest.approx(failure["lead_h"])

    [machine] = result["per_machine"]
    assert machine["equipment"] == eq
    assert machine["train_rows"] > 5_000  # ~20 running hours of 10-s rows
    assert machine["warnings"] == result["warnings"] >= 1
    assert machine["false_alarms"] == result["false_alarms"]
    assert result["false_alarms"] + result["unresolved"] <= result["warnings"]
    assert result["machine_weeks"] == pytest.approx(1 / 7)
    assert result["false_alarms_per_machine_week"] == pytest.approx(7 * result["false_alarms"])

    console = Console(width=160, record=True)
    console.print(format_sim_table(result))
    text = console.export_text()
    assert "wear (accelerated)" in text and "cnc-02" in text
