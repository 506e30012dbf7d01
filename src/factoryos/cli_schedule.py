"""``factoryos schedule FILE``: plan a problem file in the terminal."""

import json
import sys
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Group
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from factoryos.apps.scheduling.cpsat import SolveOptions
from factoryos.apps.scheduling.errors import InfeasibleError, SchedulingError
from factoryos.apps.scheduling.export import dispatch_lists, kpi_dict, schedule_csv, schedule_json
from factoryos.apps.scheduling.model import Point, Schedule
from factoryos.apps.scheduling.planner import Result, plan_schedule
from factoryos.apps.scheduling.problem_file import Plan, ProblemFileError, load_problem
from factoryos.cli_console import err, out
from factoryos.model.errors import ConfigFileError


def _solve_with_bar(plan: Plan, options: SolveOptions, show: bool) -> Result:
    """Solve in a worker thread while the bar shows time used and the best objective."""
    latest: list[Point] = []
    box: dict[str, Result] = {}
    failed: list[BaseException] = []

    def work() -> None:
        try:
            box["result"] = plan_schedule(plan.problem, options, latest.append)
        except BaseException as exc:  # handed to the main thread, raised there
            failed.append(exc)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    columns = (
        TextColumn("[bold]CP-SAT"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, disable=not show, transient=False) as bar:
        task = bar.add_task("searching", total=options.time_limit)
        t0 = time.monotonic()
        while worker.is_alive():
            worker.join(0.2)
            if latest:
                p = latest[-1]
                text = f"best {p.objective:,.0f}  bound {p.bound:,.0f}  ({len(latest)} found)"
                bar.update(task, description=text)
            bar.update(task, completed=min(options.time_limit, time.monotonic() - t0))
        bar.update(task, completed=options.time_limit)
    if failed:
        raise failed[0]
    return box["result"]


def _short(iso: str | None) -> str:
    return "–" if iso is None else datetime.fromisoformat(iso).strftime("%a %d %b %H:%M")


def _kpi_table(plan: Plan, result: Result) -> Table:
    table = Table(title="Schedule KPIs (CP-SAT and the dispatching rules)")
    for col in ("method", "status", "makespan end", "h", "weighted tardiness h", "late", "setup h"):
        table.add_column(col, justify="left" if col in ("method", "status") else "right")
    rows: list[tuple[str, Schedule]] = [("cp-sat", result.schedule)]
    rows += [
        (r.value + (" (start)" if r is result.best_rule else ""), s)
        for r, s in result.rules.items()
    ]
    for name, s in rows:
        k = kpi_dict(plan, s)
        table.add_row(
            name,
            s.status.value,
            _short(k["makespan_end"]),
            f"{k['makespan_hours']:.1f}",
            f"{k['weighted_tardiness_hours']:.1f}",
            str(k["late_orders"]),
            f"{k['setup_hours']:.1f}",
        )
    return table


def _dispatch_tables(plan: Plan, schedule: Schedule, limit: int) -> Group:
    tables = []
    util = kpi_dict(plan, schedule)["utilisation"]
    for machine, rows in dispatch_lists(plan, schedule).items():
        t = Table(title=f"{machine}  (utilisation {100 * util.get(machine, 0):.0f} %)")
        for col in ("#", "order", "operation", "lot", "qty", "start", "end", "setup min"):
            t.add_column(col)
        for r in rows[:limit]:
            t.add_row(
                str(r["position"]),
                r["order"],
                r["operation"],
                str(r["lot"]),
                str(r["quantity"]),
                _short(r["start"]),
                _short(r["end"]),
                f"{r['setup_minutes']:g}",
            )
        if len(rows) > limit:
            t.add_row("…", f"{len(rows) - limit} more", "", "", "", "", "", "")
        tables.append(t)
    return Group(*tables)


def schedule(
    file: Annotated[Path, typer.Argument(help="Problem file: .yaml/.yml/.json or .csv.")],
    time_limit: Annotated[float, typer.Option(help="Solver time, s.", min=0.1, max=3600)] = 30.0,
    workers: Annotated[int, typer.Option(help="CP-SAT search workers.", min=1, max=64)] = 2,
    start: Annotated[
        datetime | None, typer.Option(help="Plan start for a CSV file (default: now).")
    ] = None,
    out_file: Annotated[
        Path | None, typer.Option("--out", help="Write the schedule: .csv or .json.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the schedule as JSON.")] = False,
    rows: Annotated[int, typer.Option(help="Dispatch-list rows shown per machine.", min=1)] = 20,
) -> None:
    """Schedule the orders of a problem file: CP-SAT warm-started from the best dispatching
    rule; KPIs side by side and each machine's dispatch list."""
    try:
        plan = load_problem(file, start)
        result = _solve_with_bar(plan, SolveOptions(time_limit, workers), show=not as_json)
    except (ProblemFileError, ConfigFileError) as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    except InfeasibleError as exc:
        err.print("[red]No feasible schedule:[/red]", highlight=False)
        for reason in exc.reasons:
            err.print(f"  - {reason}", highlight=False)
        raise typer.Exit(1) from exc
    except SchedulingError as exc:
        err.print(f"[red]{exc}[/red]", highlight=False)
        raise typer.Exit(2) from exc
    document = schedule_json(plan, result.schedule)
    if out_file is not None:
        text = (
            schedule_csv(plan, result.schedule)
            if out_file.suffix.lower() == ".csv"
            else json.dumps(document, indent=2)
        )
        out_file.write_text(text, encoding="utf-8")
        err.print(f"schedule written to {out_file}")
    if as_json:
        sys.stdout.write(json.dumps(document) + "\n")
        return
    out.print(_kpi_table(plan, result))
    out.print(_dispatch_tables(plan, result.schedule, rows))
