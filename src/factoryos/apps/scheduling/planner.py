"""Scheduling a problem end to end: the dispatching rules, CP-SAT warm-started from the
best of them, and an explanation when there is no schedule."""

from dataclasses import dataclass, replace

from factoryos.apps.scheduling.cpsat import Progress, SolveOptions, solve, upper_horizon
from factoryos.apps.scheduling.errors import InfeasibleError
from factoryos.apps.scheduling.explain import explain, overloaded
from factoryos.apps.scheduling.kpis import objective_value
from factoryos.apps.scheduling.model import Problem, Schedule
from factoryos.apps.scheduling.rules import Rule, dispatch


@dataclass(frozen=True)
class Result:
    schedule: Schedule
    rules: dict[Rule, Schedule]  # every rule's schedule, for comparison
    best_rule: Rule


def rule_schedules(problem: Problem, options: SolveOptions) -> tuple[dict[Rule, Schedule], Rule]:
    """Every rule's schedule and the best by the problem's goal."""
    by_rule = {rule: dispatch(problem, rule) for rule in Rule}
    best = min(
        by_rule, key=lambda r: objective_value(problem, by_rule[r], problem.goal, options.released)
    )
    return by_rule, best


def plan_schedule(
    problem: Problem,
    options: SolveOptions | None = None,
    progress: Progress | None = None,
    *,
    unit: str = "s",
) -> Result:
    """The best schedule within ``options.time_limit``; :class:`InfeasibleError` with the
    reasons when there is none."""
    options = options or SolveOptions()
    horizon = problem.horizon if problem.horizon is not None else upper_horizon(problem)
    reasons = explain(problem, horizon, unit)
    if reasons:
        raise InfeasibleError(reasons)
    by_rule, best = rule_schedules(problem, options)
    hint = options.hint or by_rule[best]
    found = solve(problem, replace(options, hint=hint), progress)
    if found is None:
        raise InfeasibleError(overloaded(problem, horizon, unit))
    return Result(found, by_rule, best)


__all__ = ["Result", "plan_schedule", "rule_schedules"]
