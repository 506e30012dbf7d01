"""What every simulated equipment shares: parameters, the state log, health and faults."""

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from factoryos.sim.errors import FaultError, SimConfigError
from factoryos.sim.rand import Draws
from factoryos.sim.states import NS_PER_S, FaultKind, MachineState, ShiftPlan
from factoryos.sim.truth import FailureEvent, GroundTruth

DEFAULT_OVERHEAT_S = 3600.0


@dataclass(frozen=True, slots=True)
class ModelContext:
    """Everything a model is built from."""

    equipment: str
    seed: int
    start_ns: int
    step_s: float
    truth: GroundTruth
    params: Mapping[str, float]


def merged_params(
    defaults: Mapping[str, float], given: Mapping[str, float], equipment: str
) -> dict[str, float]:
    """``defaults`` overridden by ``given``; an unknown name is a :class:`SimConfigError`."""
    unknown = sorted(set(given) - set(defaults))
    if unknown:
        raise SimConfigError(
            f"{equipment}: unknown simulate param {unknown[0]!r}; "
            f"known: {', '.join(sorted(defaults))}"
        )
    return {**defaults, **given}


class Model(ABC):
    """One simulated piece of equipment, advanced one fixed step at a time."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {}

    def __init__(self, ctx: ModelContext) -> None:
        self.equipment = ctx.equipment
        self.seed = ctx.seed
        self.step_s = ctx.step_s
        self.step_ns = round(ctx.step_s * NS_PER_S)
        self.p = merged_params(self.DEFAULTS, ctx.params, ctx.equipment)
        self.truth = ctx.truth

    @property
    @abstractmethod
    def signal_names(self) -> tuple[str, ...]:
        """Every signal :meth:`signals` returns."""

    @abstractmethod
    def step(self, t0_ns: int) -> None:
        """Advance over ``[t0_ns, t0_ns + step)``; the state at its end is then current."""

    @abstractmethod
    def signals(self, step: int) -> dict[str, float]:
        """Engineering values of every signal now, with this step's measurement noise."""

    @abstractmethod
    def power_kw(self) -> float:
        """Mean electrical power now (no measurement noise), for the energy meter."""

    def inject(
        self, kind: FaultKind, now_ns: int, severity: float, duration_s: float | None
    ) -> None:
        """Apply an injected fault; raises :class:`FaultError` if it does not apply."""
        raise FaultError(f"{self.equipment}: fault {kind.value!r} does not apply here")


class Machine(Model):
    """A model with a state machine, a health that wears toward failure, and faults.

    ``health`` runs from 1 (new) to 0 (failed); wear ``w = 1 - health`` drives vibration,
    temperatures and scrap. Health drops only while the machine works, at a rate of
    ``1 / life_h`` per working hour times ``wear_mult`` (raised by a ``wear`` fault), with
    random jitter. At 0 the machine fails; the repair restores health to 1.
    """

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        self.draws = Draws(ctx.seed, ctx.equipment)
        self.index = ctx.truth.register(ctx.equipment)
        self.plan = ShiftPlan(
            self.p["shift_start_h"], self.p["shift_end_h"], self.p["break_start_h"],
            self.p["break_min"],
        )  # fmt: skip
        self.health = 1.0 - (1.0 - self.p["health_min_init"]) * self.draws.u()
        self.wear_mult = 1.0
        self.state = MachineState.IDLE
        self.left_s = 0.0
        self.overheat_c = 0.0
        self.overheat_left_s = 0.0
        self._repair_restores = False
        self._wear_per_step = self.step_s / (3600.0 * self.p["life_h"])
        self.stops: list[tuple[int, int]] = []  # planned stops beyond the daily plan

    def planned_stop(self, t_ns: int) -> bool:
        """True outside the shift plan, in its break, or in a planned stop."""
        return self.plan.planned_stop(t_ns) or any(a <= t_ns < b for a, b in self.stops)

    @property
    def wear(self) -> float:
        return 1.0 - self.health

    def set_state(self, state: MachineState, ts_ns: int, duration_s: float = 0.0) -> None:
        self.state = state
        self.left_s = duration_s
        self.truth.state(self.index, state, ts_ns)

    def fail(self, ts_ns: int, cause: str, repair_s: float) -> None:
        """Go UNPLANNED_DOWN for ``repair_s`` and log the failure."""
        self.set_state(MachineState.UNPLANNED_DOWN, ts_ns, repair_s)
        self.truth.failures.append(FailureEvent(ts_ns, self.equipment, cause, repair_s))
        self._repair_restores = self._repair_restores or cause == "wear"

    def degrade(self) -> None:
        """One working step of wear."""
        jitter = max(0.0, 1.0 + 0.3 * self.draws.z())
        self.health = max(0.0, self.health - self._wear_per_step * self.wear_mult * jitter)

    def repaired(self) -> None:
        """End of a repair: a worn-out machine is overhauled, other repairs keep its wear."""
        if self._repair_restores:
            self.health = 1.0
            self.wear_mult = 1.0
        self._repair_restores = False

    def tick_faults(self) -> None:
        if self.overheat_left_s > 0.0:
            self.overheat_left_s -= self.step_s
            if self.overheat_left_s <= 0.0:
                self.overheat_c = 0.0

    def inject(
        self, kind: FaultKind, now_ns: int, severity: float, duration_s: float | None
    ) -> None:
        if kind == FaultKind.BREAKDOWN:
            repair = duration_s if duration_s is not None else self.random_repair_s()
            self.fail(now_ns, "breakdown", repair)
        elif kind == FaultKind.WEAR:
            self.wear_mult = 1.0 + 20.0 * severity
        elif kind == FaultKind.OVERHEAT:
            self.overheat_c = 20.0 * severity
            self.overheat_left_s = DEFAULT_OVERHEAT_S if duration_s is None else duration_s
        else:
            super().inject(kind, now_ns, severity, duration_s)

    def random_repair_s(self) -> float:
        return self.draws.around(3600.0 * self.p["repair_mean_h"])
