"""The planner's problem file: dates and minutes become seconds from the plan's start, shift
calendars become downtime, and every mistake is named with its field and line."""

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from factoryos.apps.scheduling.model import Objective
from factoryos.apps.scheduling.problem_file import ProblemFileError, load_problem, parse_problem

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "plan.yaml"

MINIMAL = """\
start: 2026-11-30T06:00
timezone: Europe/Berlin
machines:
  - {name: m1}
  - {name: m2}
products:
  p:
    family: a
    routing:
      - {name: cut, machines: {m1: {run: 0.5, setup: 10}, m2: {run: 1}}}
orders:
  - {id: o1, product: p, quantity: 3, due: 2026-11-30T08:00}
"""


def test_minutes_and_dates_become_seconds_from_the_start() -> None:
    plan = parse_problem(MINIMAL)
    (order,) = plan.problem.orders
    m1, m2 = order.operations[0].modes
    assert (m1.machine, m1.run, m1.setup) == ("m1", 30, 600)  # 0.5 min = 30 s, 10 min = 600 s
    assert (m2.run, m2.setup) == (60, 0)
    assert order.due == 2 * 3600  # 08:00 is two hours after the 06:00 start
    assert order.family == "a" and order.quantity == 3
    assert plan.at(order.due) == datetime.fromisoformat("2026-11-30T08:00+01:00")
    assert plan.problem.horizon == 28 * 86_400  # the default horizon, 28 days


def test_fractional_seconds_round_up() -> None:
    plan = parse_problem(MINIMAL.replace("run: 0.5,", "run: 0.0101,"))
    assert plan.problem.orders[0].operations[0].modes[0].run == 1  # 0.606 s → 1 s


def test_the_example_calendar_becomes_downtime() -> None:
    plan = load_problem(EXAMPLE)
    down = [d for d in plan.problem.downtime if d.machine == "cnc-2"]
    # Monday 30 Nov: early shift 06:00-14:00 with a 10:00 break, late 14:00-22:00 with 18:00
    first_break = (4 * 3600, 4 * 3600 + 1800)
    assert first_break in [(d.start, d.end) for d in down]
    night = next(d for d in down if d.start == 16 * 3600)  # 22:00 Monday to 06:00 Tuesday
    assert night.end == 24 * 3600
    maintenance = [d for d in plan.problem.downtime if d.reason.startswith("WO-17")]
    assert [(d.machine, d.start, d.end) for d in maintenance] == [
        ("cnc-1", 28 * 3600 + 1800, 32 * 3600)  # Tue 10:30-14:00
    ]
    saturday = plan.tick(datetime.fromisoformat("2026-12-05T12:00+01:00"))
    assert any(d.start <= saturday < d.end for d in down)  # no weekend shifts
    assert plan.problem.goal.terms == ((Objective.TARDINESS, 10), (Objective.MAKESPAN, 1))
    assert plan.equipment == {
        "cnc-1": "demo/machining/line1/cell1/cnc-01",
        "cnc-2": "demo/machining/line1/cell1/cnc-02",
    }


def _problems(text: str) -> list[str]:
    with pytest.raises(ProblemFileError) as info:
        parse_problem(text, "plan.yaml")
    return [str(p) for p in info.value.problems]


def test_unknown_names_are_reported_at_their_lines() -> None:
    text = MINIMAL.replace("m2: {run: 1}", "m3: {run: 1}").replace("product: p,", "product: q,")
    found = _problems(text)
    assert "line 10: products.p.routing[0].machines.m3: unknown machine 'm3'" in found
    assert "line 12: orders[0].product: unknown product 'q'" in found


def test_a_due_date_before_release_is_refused_with_its_line() -> None:
    text = MINIMAL.replace(
        "due: 2026-11-30T08:00", "release: 2026-12-01T06:00, due: 2026-11-30T08:00"
    )
    (problem,) = _problems(text)
    assert problem.startswith("line 12: orders[0]") and "is not after release" in problem


def test_a_cycle_of_orders_is_explained() -> None:
    text = MINIMAL + (
        "  - {id: o2, product: p, after: [o3]}\n"
        "  - {id: o3, product: p, after: [o4]}\n"
        "  - {id: o4, product: p, after: [o2]}\n"
    )
    (problem,) = _problems(text)
    assert "orders wait for each other: o2 → o3 → o4 → o2" in problem
    assert problem.startswith("line 13:")


def test_a_step_no_machine_can_do_and_unknown_fields() -> None:
    found = _problems(MINIMAL.replace("{m1: {run: 0.5, setup: 10}, m2: {run: 1}}", "{}"))
    assert found == [
        "line 10: products.p.routing[0].machines: no machine can do this step: list at least one"
    ]
    found = _problems(MINIMAL.replace("quantity: 3", "quantity: 3, colour: red"))
    assert found == ["line 12: orders[0].colour: unknown field (check the spelling)"]


def test_unknown_time_zone_and_calendar() -> None:
    text = MINIMAL.replace("Europe/Berlin", "Mars/Olympus").replace(
        "{name: m1}", "{name: m1, calendar: x}"
    )
    found = _problems(text)
    assert any("timezone" in p and "Mars/Olympus" in p for p in found)
    assert any("line 4" in p and "unknown calendar 'x'" in p for p in found)


def test_text_that_is_not_yaml_names_its_line() -> None:
    (problem,) = _problems("start: 2026-11-30\nmachines: [\n")
    assert problem.startswith("line 3") or problem.startswith("line 2")


CSV = """\
order,product,quantity,operation,machine,run_min,setup_min,due
A1,shaft,10,1,lathe,2,15,2026-11-30T12:00
A1,shaft,10,2,grinder,1.5,,2026-11-30T12:00
A1,shaft,10,2,lathe,3,,2026-11-30T12:00
B7,pin,4,1,lathe,1,5,
"""


def test_a_csv_file_has_one_row_per_order_step_and_machine(tmp_path: Path) -> None:
    f = tmp_path / "orders.csv"
    f.write_text(CSV)
    start = datetime.fromisoformat("2026-11-30T06:00+00:00")
    plan = load_problem(f, start)
    a1, b7 = plan.problem.orders
    assert [op.machines() for op in a1.operations] == [["lathe"], ["grinder", "lathe"]]
    assert a1.operations[1].modes[0].run == 90 and a1.due == 6 * 3600
    assert b7.due is None and b7.quantity == 4 and b7.family == "pin"
    assert sorted(plan.problem.machines) == ["grinder", "lathe"]


def test_csv_mistakes_name_the_line(tmp_path: Path) -> None:
    f = tmp_path / "orders.csv"
    f.write_text(CSV.replace("B7,pin,4,1,lathe,1,5,", "B7,pin,-4,x,lathe,1,5,"))
    with pytest.raises(ProblemFileError) as info:
        load_problem(f, datetime.now() - timedelta(days=1))
    assert [(p.field, p.line) for p in info.value.problems] == [("operation", 5)]
    f.write_text(CSV.replace("B7,pin,4,1,lathe,1,5,", "B7,pin,-4,1,lathe,1,5,"))
    with pytest.raises(ProblemFileError) as info:
        load_problem(f)
    assert [(p.field, p.line) for p in info.value.problems] == [("orders[1].quantity", 5)]
    f.write_text("order,machine\nA,lathe\n")
    with pytest.raises(ProblemFileError, match="missing columns: product, quantity"):
        load_problem(f)


def test_stability_and_endless_run_times_are_refused() -> None:
    found = _problems(MINIMAL + "objective: {terms: {stability: 1}}\n")
    assert found == ["line 13: objective: stability is for rescheduling a plan, not for a new one"]
    found = _problems(MINIMAL.replace("run: 0.5,", "run: .inf,"))
    assert len(found) == 1 and found[0].startswith("line 10: products.p.routing[0].machines.m1.run")
