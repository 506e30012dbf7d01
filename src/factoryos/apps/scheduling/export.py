"""A plan's schedule in the planner's terms: dated slots, per-machine dispatch lists, KPIs,
as JSON-ready dictionaries and CSV."""

import csv
import io
from dataclasses import asdict
from typing import Any

from factoryos.apps.scheduling.kpis import kpis
from factoryos.apps.scheduling.model import Schedule, Slot
from factoryos.apps.scheduling.problem_file import Plan

CSV_FIELDS = (
    "machine",
    "position",
    "order",
    "product",
    "step",
    "operation",
    "lot",
    "quantity",
    "setup_start",
    "start",
    "end",
    "minutes",
    "setup_minutes",
    "due",
    "late",
)


def slot_row(plan: Plan, slot: Slot, position: int = 0) -> dict[str, Any]:
    order = plan.problem.order(slot.order)
    due = None if order.due is None else plan.at(order.due).isoformat()
    return {
        "machine": slot.machine,
        "position": position,
        "order": slot.order,
        "product": order.product,
        "step": slot.index,
        "operation": plan.step_names.get((slot.order, slot.index), f"step {slot.index + 1}"),
        "lot": slot.lot,
        "quantity": slot.quantity,
        "setup_start": plan.at(slot.start - slot.setup).isoformat(),
        "start": plan.at(slot.start).isoformat(),
        "end": plan.at(slot.end).isoformat(),
        "minutes": round((slot.end - slot.start) / 60, 2),
        "setup_minutes": round(slot.setup / 60, 2),
        "due": due,
        "late": order.due is not None
        and slot.index == len(order.operations) - 1
        and slot.end > order.due,
    }


def dispatch_lists(plan: Plan, schedule: Schedule) -> dict[str, list[dict[str, Any]]]:
    """What each machine runs, in order: the shop floor's work list."""
    out: dict[str, list[dict[str, Any]]] = {m: [] for m in plan.problem.machines}
    for slot in sorted(schedule.slots, key=lambda s: (s.machine, s.start)):
        out[slot.machine].append(slot_row(plan, slot, len(out[slot.machine]) + 1))
    return out


def kpi_dict(plan: Plan, schedule: Schedule) -> dict[str, Any]:
    k = kpis(plan.problem, schedule)
    return {
        "makespan_end": plan.at(k.makespan).isoformat() if schedule.slots else None,
        "makespan_hours": round(k.makespan / 3600, 2),
        "weighted_tardiness_hours": round(k.tardiness / 3600, 2),
        "late_orders": k.late,
        "setup_hours": round(k.setup / 3600, 2),
        "utilisation": k.utilisation,
    }


def schedule_json(plan: Plan, schedule: Schedule) -> dict[str, Any]:
    """The whole schedule: status, search trace, KPIs and dispatch lists."""
    return {
        "status": schedule.status.value,
        "method": schedule.method,
        "objective": schedule.objective,
        "bound": schedule.bound,
        "seconds": round(schedule.seconds, 2),
        "trace": [asdict(p) for p in schedule.trace],
        "kpis": kpi_dict(plan, schedule),
        "machines": dispatch_lists(plan, schedule),
    }


def schedule_csv(plan: Plan, schedule: Schedule) -> str:
    """One row per lot, by machine and start (``CSV_FIELDS``)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for rows in dispatch_lists(plan, schedule).values():
        writer.writerows(rows)
    return buffer.getvalue()


__all__ = ["CSV_FIELDS", "dispatch_lists", "kpi_dict", "schedule_csv", "schedule_json", "slot_row"]
