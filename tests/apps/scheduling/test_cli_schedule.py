"""``factoryos schedule FILE`` as a planner runs it: the example plan, its exports, and the
exit codes and messages of a broken and an infeasible file."""

import csv
import json
import subprocess
import sys
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[3] / "docs" / "examples" / "plan.yaml"


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    command = [str(Path(sys.executable).with_name("factoryos")), "schedule", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)


def test_the_example_plan_prints_kpis_and_dispatch_lists_and_exports(tmp_path: Path) -> None:
    out_csv = tmp_path / "plan.csv"
    done = _run(str(EXAMPLE), "--time-limit", "5", "--out", str(out_csv))
    assert done.returncode == 0, done.stderr
    assert "Schedule KPIs" in done.stdout and "cp-sat" in done.stdout and "edd" in done.stdout
    for machine in ("saw-1", "cnc-1", "cnc-2", "deburr"):
        assert machine in done.stdout
    rows = list(csv.DictReader(out_csv.read_text().splitlines()))
    assert {r["order"] for r in rows} == {f"SO-100{i}" for i in range(1, 6)}
    assert sum(int(r["quantity"]) for r in rows if r["operation"] == "saw") == 200 + 40 + 80 + 25
    as_json = _run(str(EXAMPLE), "--time-limit", "5", "--json")
    document = json.loads(as_json.stdout)
    assert document["status"] in ("optimal", "feasible")
    assert document["kpis"]["late_orders"] == 0  # the example's due dates can all be met
    assert set(document["machines"]) == {"saw-1", "cnc-1", "cnc-2", "deburr"}


def test_a_broken_file_names_field_and_line(tmp_path: Path) -> None:
    bad = tmp_path / "plan.yaml"
    bad.write_text(
        EXAMPLE.read_text().replace("product: frame, quantity: 40", "product: frme, quantity: 40")
    )
    done = _run(str(bad))
    assert done.returncode == 2
    assert "orders[1].product: unknown product 'frme'" in done.stderr
    assert f"{bad}:46:" in done.stderr


def test_an_infeasible_file_is_explained(tmp_path: Path) -> None:
    text = EXAMPLE.read_text().replace("max_lots: 2, min_lot: 20,", "")
    infeasible = tmp_path / "plan.yaml"
    infeasible.write_text(text)  # 200 brackets need 8 h 40 min on cnc-1, longer than a shift
    done = _run(str(infeasible), "--time-limit", "5")
    assert done.returncode == 1
    assert "No feasible schedule" in done.stderr
    assert "SO-1001 step 2 (mill): 200 units need" in done.stderr
