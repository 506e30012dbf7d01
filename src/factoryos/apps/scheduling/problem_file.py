"""A planner's problem file (YAML, or JSON with the same fields) and its CSV variant.

The file speaks in plant terms — dates, minutes, products, shift calendars — and becomes a
:class:`~.model.Problem` in whole **seconds** from ``start``; run times per unit may be
fractions of a minute (rounded up to the second). Every mistake is reported with its field
and line, all at once, and nothing is scheduled. See docs/scheduling.md for the format.
"""

import csv
import io
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from factoryos.apps.oee.calendar import CalendarSpec, calendar_windows
from factoryos.apps.scheduling.explain import find_cycles
from factoryos.apps.scheduling.model import (
    Downtime,
    Fixed,
    Goal,
    Mode,
    Objective,
    Operation,
    Order,
    Problem,
)
from factoryos.model.errors import ConfigFileError, SiteProblem
from factoryos.model.yamlfile import Path_, dotted, line_of, parse_yaml, validation_problems

NS_PER_S = 1_000_000_000
MAX_HORIZON_DAYS = 366
Name = Annotated[str, Field(min_length=1, max_length=80, pattern=r"^[^\s/#]([^/#]*[^\s/#])?$")]


class ProblemFileError(ConfigFileError):
    """A problem file that cannot be scheduled as written; lists every problem with its line."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


Minutes = Annotated[float, Field(ge=0, le=1e6, allow_inf_nan=False)]


class ModeSpec(_Strict):
    run: Minutes = Field(description="minutes per unit")
    setup: Minutes = Field(default=0, description="minutes per lot")


class StepSpec(_Strict):
    name: str = Field(default="", max_length=80)
    machines: dict[Name, ModeSpec] = Field(max_length=200)
    max_lots: int = Field(default=1, ge=1, le=8)
    min_lot: int = Field(default=1, ge=1)


class ProductSpec(_Strict):
    family: str = Field(default="", max_length=80)
    routing: list[StepSpec] = Field(min_length=1, max_length=100)


class OrderSpec(_Strict):
    id: Name
    product: Name
    routing: list[StepSpec] | None = Field(
        default=None, min_length=1, max_length=100, description="this order's own routing"
    )
    family: str | None = Field(default=None, max_length=80)
    quantity: int = Field(default=1, ge=1, le=10_000_000)
    release: datetime | None = None
    due: datetime | None = None
    weight: int = Field(default=1, ge=0, le=1000)
    after: list[Name] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _due_after_release(self) -> Self:
        if self.release is not None and self.due is not None and self.due <= self.release:
            raise ValueError(
                f"order {self.id}: due {self.due.isoformat()} is not after release "
                f"{self.release.isoformat()}, so it cannot be on time"
            )
        return self


class MachineSpec(_Strict):
    name: Name
    calendar: str | None = None
    family: str | None = Field(default=None, description="the family it ran last")
    equipment: str | None = Field(default=None, description="asset path, for work orders")


class WindowSpec(_Strict):
    machine: Name
    start: datetime
    end: datetime
    reason: str = Field(default="maintenance", max_length=200)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class FrozenSpec(_Strict):
    order: Name
    operation: int = Field(ge=0, description="0-based step of the routing")
    lot: int = Field(default=0, ge=0)
    machine: Name
    start: datetime
    end: datetime
    quantity: int | None = Field(default=None, ge=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ValueError("end must be after start")
        return self


class ObjectiveSpec(_Strict):
    terms: dict[Objective, int] = Field(
        default_factory=lambda: {Objective.MAKESPAN: 1}, min_length=1
    )
    lexicographic: bool = False

    @model_validator(mode="after")
    def _no_stability(self) -> Self:
        if Objective.STABILITY in self.terms:
            raise ValueError("stability is for rescheduling a plan, not for a new one")
        return self


class ProblemSpec(_Strict):
    start: datetime
    timezone: str = "UTC"
    now: datetime | None = None
    horizon_days: float = Field(default=28, gt=0, le=MAX_HORIZON_DAYS)
    calendars: dict[str, CalendarSpec] = Field(default_factory=dict, max_length=100)
    machines: list[MachineSpec] = Field(min_length=1, max_length=2000)
    families: dict[str, dict[str, Minutes]] = Field(default_factory=dict)
    products: dict[Name, ProductSpec] = Field(default_factory=dict)
    orders: list[OrderSpec] = Field(min_length=1, max_length=20_000)
    maintenance: list[WindowSpec] = Field(default_factory=list, max_length=10_000)
    frozen: list[FrozenSpec] = Field(default_factory=list, max_length=100_000)
    objective: ObjectiveSpec = ObjectiveSpec()


@dataclass(frozen=True)
class Plan:
    """A problem in solver ticks (seconds from ``origin``) and how to read it back."""

    problem: Problem
    origin: datetime
    tz: ZoneInfo
    step_names: dict[tuple[str, int], str] = field(default_factory=dict)
    equipment: dict[str, str] = field(default_factory=dict)  # machine → asset path

    def at(self, tick: int) -> datetime:
        return (self.origin + timedelta(seconds=tick)).astimezone(self.tz)

    def tick(self, moment: datetime) -> int:
        return math.floor((_aware(moment, self.tz) - self.origin).total_seconds())


def _aware(moment: datetime, tz: ZoneInfo) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=tz)


def _seconds(minutes: float) -> int:
    return math.ceil(round(minutes * 60, 6))


class _Checker:
    """Cross-references the validated spec; collects problems at their file paths."""

    def __init__(self, spec: ProblemSpec) -> None:
        self.spec = spec
        self.found: list[tuple[Path_, str]] = []

    def add(self, path: Path_, message: str) -> None:
        self.found.append((path, message))

    def run(self) -> list[tuple[Path_, str]]:
        s = self.spec
        machines = [m.name for m in s.machines]
        known = set(machines)
        self._unique("machines", machines)
        self._unique("orders", [o.id for o in s.orders])
        for i, m in enumerate(s.machines):
            if m.calendar is not None and m.calendar not in s.calendars:
                self.add(("machines", i, "calendar"), f"unknown calendar {m.calendar!r}")
        for name, product in s.products.items():
            self._routing(("products", name, "routing"), product.routing, known)
        orders = {o.id: o for o in s.orders}
        for i, o in enumerate(s.orders):
            if o.routing is not None:
                self._routing(("orders", i, "routing"), o.routing, known)
            elif o.product not in s.products:
                self.add(("orders", i, "product"), f"unknown product {o.product!r}")
            for j, before in enumerate(o.after):
                if before not in orders:
                    self.add(("orders", i, "after", j), f"unknown order {before!r}")
        self._cycles(orders)
        for i, w in enumerate(s.maintenance):
            if w.machine not in known:
                self.add(("maintenance", i, "machine"), f"unknown machine {w.machine!r}")
        for i, f in enumerate(s.frozen):
            self._frozen(i, f, orders, known)
        return self.found

    def _routing(self, at: Path_, routing: list[StepSpec], known: set[str]) -> None:
        for k, step in enumerate(routing):
            where: Path_ = (*at, k, "machines")
            if not step.machines:
                self.add(where, "no machine can do this step: list at least one")
            for machine in step.machines:
                if machine not in known:
                    self.add((*where, machine), f"unknown machine {machine!r}")

    def _unique(self, section: str, names: list[str]) -> None:
        seen: set[str] = set()
        for i, n in enumerate(names):
            if n in seen:
                self.add((section, i), f"{n!r} appears twice")
            seen.add(n)

    def _cycles(self, orders: dict[str, OrderSpec]) -> None:
        index = {o.id: i for i, o in enumerate(self.spec.orders)}
        for cycle in find_cycles(
            {k: [a for a in o.after if a in orders] for k, o in orders.items()}
        ):
            path = " → ".join([*cycle, cycle[0]])
            self.add(("orders", index[cycle[0]], "after"), f"orders wait for each other: {path}")

    def _frozen(self, i: int, f: FrozenSpec, orders: dict[str, OrderSpec], known: set[str]) -> None:
        order = orders.get(f.order)
        if order is None:
            self.add(("frozen", i, "order"), f"unknown order {f.order!r}")
            return
        routing = routing_of(self.spec, order)
        if routing is None:
            return
        if f.operation >= len(routing):
            self.add(("frozen", i, "operation"), f"{f.order} has {len(routing)} steps")
            return
        step = routing[f.operation]
        if f.machine not in step.machines:
            self.add(("frozen", i, "machine"), f"step {f.operation} cannot run on {f.machine!r}")
        if f.lot >= step.max_lots:
            self.add(("frozen", i, "lot"), f"step {f.operation} has at most {step.max_lots} lots")


def routing_of(spec: ProblemSpec, order: OrderSpec) -> list[StepSpec] | None:
    """The order's own routing, else its product's (None for an unknown product)."""
    if order.routing is not None:
        return order.routing
    product = spec.products.get(order.product)
    return None if product is None else product.routing


def family_of(spec: ProblemSpec, order: OrderSpec) -> str:
    if order.family is not None:
        return order.family
    product = spec.products.get(order.product)
    return product.family if product is not None and product.family else order.product


def _downtime(spec: ProblemSpec, plan: Plan, end: datetime) -> Iterator[Downtime]:
    lo, hi = int(plan.origin.timestamp() * NS_PER_S), int(end.timestamp() * NS_PER_S)
    for m in spec.machines:
        if m.calendar is None:
            continue
        for p in calendar_windows(spec.calendars[m.calendar], plan.tz, lo, hi).planned:
            a, b = (p.start_ns - lo) // NS_PER_S, -((lo - p.end_ns) // NS_PER_S)
            yield Downtime(m.name, a, b, p.category.value)
    for w in spec.maintenance:
        yield Downtime(w.machine, plan.tick(w.start), plan.tick(w.end), w.reason)


def build_plan(spec: ProblemSpec, tz: ZoneInfo) -> Plan:
    """The solver's problem for a checked spec."""
    origin = _aware(spec.start, tz)
    plan = Plan(Problem((), ()), origin, tz)
    horizon = math.floor(spec.horizon_days * 86_400)
    orders, names = [], {}
    for o in spec.orders:
        routing = routing_of(spec, o)
        assert routing is not None  # checked
        ops = []
        for k, step in enumerate(routing):
            modes = tuple(
                Mode(m, _seconds(ms.run), _seconds(ms.setup)) for m, ms in step.machines.items()
            )
            ops.append(Operation(modes, step.max_lots, min(step.min_lot, o.quantity), step.name))
            names[(o.id, k)] = step.name or f"step {k + 1}"
        orders.append(
            Order(
                o.id,
                tuple(ops),
                o.quantity,
                max(0, plan.tick(o.release)) if o.release else 0,
                None if o.due is None else plan.tick(o.due),
                o.weight,
                o.product,
                family_of(spec, o),
                tuple(o.after),
            )
        )
    fixed = tuple(
        Fixed(
            f"{f.order}/{f.operation}",
            f.machine,
            plan.tick(f.start),
            plan.tick(f.end),
            f.lot,
            f.quantity,
        )
        for f in spec.frozen
    )
    down = tuple(d for d in _downtime(spec, plan, origin + timedelta(seconds=horizon)) if d.end > 0)
    problem = Problem(
        tuple(m.name for m in spec.machines),
        tuple(orders),
        changeovers={
            (a, b): _seconds(v) for a, row in spec.families.items() for b, v in row.items()
        },
        initial_family={m.name: m.family for m in spec.machines if m.family},
        downtime=down,
        fixed=fixed,
        now=max(0, plan.tick(spec.now)) if spec.now else 0,
        horizon=horizon,
        goal=Goal(tuple(spec.objective.terms.items()), spec.objective.lexicographic),
    )
    equipment = {m.name: m.equipment for m in spec.machines if m.equipment}
    return Plan(problem, origin, tz, names, equipment)


def plan_from_data(data: Any, source: str, lines: dict[Path_, int] | None = None) -> Plan:
    """Validate parsed YAML/JSON ``data`` and build its plan; every problem raised at once."""
    lines = lines or {}
    if not isinstance(data, dict):
        raise ProblemFileError(source, [SiteProblem("(file)", 1, "expected a mapping of sections")])
    try:
        spec = ProblemSpec.model_validate(data)
    except ValidationError as exc:
        raise ProblemFileError(source, validation_problems(exc, lines)) from exc
    found = _Checker(spec).run()
    try:
        tz = ZoneInfo(spec.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        found.append((("timezone",), f"unknown time zone {spec.timezone!r}"))
    if found:
        raise ProblemFileError(
            source, [SiteProblem(dotted(p), line_of(lines, p), m) for p, m in found]
        )
    try:
        return build_plan(spec, tz)
    except OverflowError as exc:  # dates or durations beyond what datetime can hold
        raise ProblemFileError(
            source, [SiteProblem("(file)", None, f"out of range: {exc}")]
        ) from exc


def parse_problem(text: str, source: str = "<problem>") -> Plan:
    """A YAML (or JSON) problem file's plan."""
    data, lines = parse_yaml(text, source, ProblemFileError)
    return plan_from_data(data, source, lines)


CSV_COLUMNS = ("order", "product", "quantity", "operation", "machine", "run_min")
CSV_OPTIONAL = ("family", "release", "due", "weight", "setup_min", "max_lots")


def _csv_rows(text: str, source: str) -> Iterable[tuple[int, dict[str, str]]]:
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in CSV_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise ProblemFileError(
            source, [SiteProblem("(header)", 1, f"missing columns: {', '.join(missing)}")]
        )
    for row in reader:
        yield reader.line_num, {k: (v or "").strip() for k, v in row.items() if k}


def csv_to_data(text: str, source: str, start: datetime) -> tuple[dict[str, Any], dict[Path_, int]]:
    """A CSV problem (one row per order, operation and machine; always-available machines)
    as the data of a problem file, with the line of each value."""
    orders: dict[str, dict[str, Any]] = {}
    position: dict[str, int] = {}
    lines: dict[Path_, int] = {}
    machines: dict[str, None] = {}
    problems: list[SiteProblem] = []
    for lineno, row in _csv_rows(text, source):
        oid = row["order"]
        try:
            step = int(row["operation"]) - 1
            if step < 0:
                raise ValueError
        except ValueError:
            problems.append(
                SiteProblem(
                    "operation", lineno, f"{row['operation']!r} is not a step number from 1"
                )
            )
            continue
        machines.setdefault(row["machine"])
        if oid not in orders:
            order: dict[str, Any] = {"id": oid, "product": row["product"], "routing": []}
            for key in ("quantity", "family", "release", "due", "weight"):
                if row.get(key):
                    order[key] = row[key]
            position[oid] = len(orders)
            lines.update(
                {("orders", position[oid], *k): lineno for k in [(), *((k,) for k in order)]}
            )
            orders[oid] = order
        n = position[oid]
        routing = orders[oid]["routing"]
        while len(routing) <= step:
            routing.append({"machines": {}})
        mode: dict[str, Any] = {"run": row["run_min"] or 0}
        if row.get("setup_min"):
            mode["setup"] = row["setup_min"]
        if row.get("max_lots"):
            routing[step]["max_lots"] = row["max_lots"]
        routing[step]["machines"][row["machine"]] = mode
        where: Path_ = ("orders", n, "routing", step, "machines", row["machine"])
        lines.update({where: lineno, (*where[:-1],): lineno, **{(*where, k): lineno for k in mode}})
    if problems:
        raise ProblemFileError(source, problems)
    data = {
        "start": start,
        "machines": [{"name": m} for m in machines],
        "orders": list(orders.values()),
    }
    return data, lines


def load_problem(path: Path, start: datetime | None = None) -> Plan:
    """Read a ``.yaml``/``.yml``/``.json`` or ``.csv`` problem file."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ProblemFileError(
            path, [SiteProblem("(file)", None, f"cannot read: {exc.strerror}")]
        ) from exc
    if path.suffix.lower() == ".csv":
        origin = start or datetime.now().astimezone().replace(second=0, microsecond=0)
        data, lines = csv_to_data(text, str(path), origin)
        return plan_from_data(data, str(path), lines)
    return parse_problem(text, str(path))


__all__ = [
    "Plan",
    "ProblemFileError",
    "ProblemSpec",
    "build_plan",
    "load_problem",
    "parse_problem",
    "plan_from_data",
]
