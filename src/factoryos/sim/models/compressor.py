"""Screw air compressor feeding its own receiver, with load/unload control.

RUNNING: the motor turns; it loads (delivers air, full power) when the receiver pressure
falls to ``p_min_bar`` and unloads (no air, ~30 % power) at ``p_max_bar``. After
``idle_after_min`` unloaded it stops the motor (IDLE) until the pressure falls to
``p_min_bar`` again. Air demand follows the shift plan (``night_demand_frac`` of
``demand_m3_min`` outside it; 0 gives no-demand nights) and is what an ``air_leak`` fault
adds to. Wear builds while loaded; a worn-out compressor fails (UNPLANNED_DOWN) and the
pressure decays. It has no planned stops: the station runs around the clock.

Leaks (``leak_m3_min`` free air at ``leak_ref_bar``) flow through the network's holes as
through orifices at choked flow, in proportion to the absolute pressure, so a lower
setpoint leaks less. Loaded power rises with the discharge pressure against the fixed
``p_design_bar``, not against the setpoint, so a lower setpoint costs less per minute
loaded. Both are the ground truth an energy audit of the station is checked against.
"""

import math
from collections.abc import Mapping
from typing import ClassVar

from factoryos.sim.models.base import Machine, ModelContext
from factoryos.sim.rand import measurement_noise
from factoryos.sim.states import FaultKind, MachineState

_RUN, _IDLE, _DOWN = MachineState.RUNNING, MachineState.IDLE, MachineState.UNPLANNED_DOWN
_BAR_PER_M3 = 1.01325  # one free-air m³ into a 1 m³ receiver raises it by 1 atm
ATM_BAR = 1.01325
_NOISE = {  # relative measurement noise, except absolute for pressure and temperature
    "pressure_bar": 0.02,
    "flow_m3_min": 0.02,
    "power_kw": 0.015,
    "discharge_temp_c": 0.3,
    "vibration_mm_s": 0.05,
}


class Compressor(Machine):
    """Signals: ``state``, ``cycle_count`` (load cycles), ``loaded`` (0/1),
    ``pressure_bar``, ``flow_m3_min``, ``power_kw``, ``discharge_temp_c`` (the one
    ``overheat`` raises), ``vibration_mm_s``, ``run_hours`` (motor hours), ``alarm_active``,
    ``health``."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "rated_flow_m3_min": 10.0,
        "rated_power_kw": 55.0,
        "p_min_bar": 6.5,
        "p_max_bar": 7.5,
        "receiver_m3": 3.0,
        "demand_m3_min": 5.5,
        "night_demand_frac": 0.15,
        "idle_after_min": 3.0,
        "life_h": 140.0,  # loaded hours from new to failure by wear
        "repair_mean_h": 4.0,
        "shift_start_h": 6.0,
        "shift_end_h": 22.0,
        "break_start_h": 12.0,
        "break_min": 0.0,
        "health_min_init": 0.3,
        "leak_m3_min": 0.0,
        "leak_ref_bar": 7.0,
        "p_design_bar": 7.5,
    }

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        p = self.p
        self.pressure = (p["p_min_bar"] + p["p_max_bar"]) / 2.0
        self.loaded = True
        self.cycles = 0
        self.run_s = 0.0
        self.unloaded_s = 0.0
        self.leak = 0.0
        self.leak_left_s = math.inf
        self.temp = self._temp_target()
        self._alpha = 1.0 - math.exp(-self.step_s / 300.0)
        self._bar_per_s = _BAR_PER_M3 / p["receiver_m3"] / 60.0
        self.set_state(_RUN, ctx.start_ns)

    @property
    def signal_names(self) -> tuple[str, ...]:
        return (
            "state", "cycle_count", "loaded", "pressure_bar", "flow_m3_min", "power_kw",
            "discharge_temp_c", "vibration_mm_s", "run_hours", "alarm_active", "health",
        )  # fmt: skip

    def _is_loaded(self) -> bool:
        return self.loaded and self.state is _RUN

    def _flow(self) -> float:
        return self.p["rated_flow_m3_min"] * (1.0 - 0.1 * self.wear) if self._is_loaded() else 0.0

    def _temp_target(self) -> float:
        if self.state is _RUN:
            base = 85.0 if self.loaded else 70.0
            return base + 15.0 * self.wear + self.overheat_c
        return 30.0 if self.state is _IDLE else 25.0

    def step(self, t0_ns: int) -> None:
        p = self.p
        shift = 1.0 if self.plan.in_shift(t0_ns) else p["night_demand_frac"]
        demand = max(0.0, p["demand_m3_min"] * shift * (1.0 + 0.05 * self.draws.z()))
        delta = (
            (self._flow() - demand - self.leak - self.leak_flow()) * self._bar_per_s * self.step_s
        )
        self.pressure = min(max(self.pressure + delta, 0.0), p["p_max_bar"] + 1.0)
        if self.state is _RUN:
            self.run_s += self.step_s
            if self.loaded:
                self.degrade()
        self.temp += self._alpha * (self._temp_target() - self.temp)
        self.tick_faults()
        self.leak_left_s -= self.step_s
        if self.leak_left_s <= 0.0:
            self.leak, self.leak_left_s = 0.0, math.inf
        self._decide(t0_ns + self.step_ns)

    def leak_flow(self) -> float:
        """The network's leaks at the present pressure, m³/min of free air."""
        p = self.p
        return p["leak_m3_min"] * (self.pressure + ATM_BAR) / (p["leak_ref_bar"] + ATM_BAR)

    def _decide(self, t1_ns: int) -> None:
        if self.left_s > 0.0:
            self.left_s -= self.step_s
        if self.state is _DOWN:
            if self.left_s > 0.0:
                return
            self.repaired()
            self.loaded = False
            self.set_state(_IDLE, t1_ns)
            if self.pressure <= self.p["p_min_bar"]:
                self.set_state(_RUN, t1_ns)
                self._load()
        elif self.state is _RUN and self.health <= 0.0:
            self.fail(t1_ns, "wear", self.random_repair_s())
        elif self.state is _RUN:
            self._control(t1_ns)
        elif self.pressure <= self.p["p_min_bar"]:
            self.set_state(_RUN, t1_ns)
            self._load()

    def _control(self, t1_ns: int) -> None:
        if self.loaded and self.pressure >= self.p["p_max_bar"]:
            self.loaded = False
            self.unloaded_s = 0.0
        elif not self.loaded and self.pressure <= self.p["p_min_bar"]:
            self._load()
        elif not self.loaded:
            self.unloaded_s += self.step_s
            if self.unloaded_s >= 60.0 * self.p["idle_after_min"]:
                self.set_state(_IDLE, t1_ns)

    def _load(self) -> None:
        self.loaded = True
        self.cycles += 1

    def inject(
        self, kind: FaultKind, now_ns: int, severity: float, duration_s: float | None
    ) -> None:
        if kind != FaultKind.AIR_LEAK:
            super().inject(kind, now_ns, severity, duration_s)
            return
        self.leak = 2.0 * severity
        self.leak_left_s = math.inf if duration_s is None else duration_s

    def power_kw(self) -> float:
        rated = self.p["rated_power_kw"]
        if self._is_loaded():
            load = 0.85 + 0.15 * self.pressure / self.p["p_design_bar"]
            return rated * load * (1.0 + 0.15 * self.wear**2)
        if self.state is _RUN:
            return 0.3 * rated
        return 0.3 if self.state is _IDLE else 0.2

    def _vibration(self) -> float:
        if self.state is not _RUN:
            return 0.05
        return (2.5 if self.loaded else 1.6) * (1.0 + 4.0 * self.wear**2)

    def signals(self, step: int) -> dict[str, float]:
        z = measurement_noise(self.seed, self.equipment, step, len(_NOISE)).tolist()
        n = {name: sd * zi for (name, sd), zi in zip(_NOISE.items(), z, strict=True)}
        return {
            "state": float(self.state),
            "cycle_count": float(self.cycles),
            "loaded": 1.0 if self._is_loaded() else 0.0,
            "pressure_bar": max(0.0, self.pressure + n["pressure_bar"]),
            "flow_m3_min": self._flow() * (1.0 + n["flow_m3_min"]),
            "power_kw": self.power_kw() * (1.0 + n["power_kw"]),
            "discharge_temp_c": self.temp + n["discharge_temp_c"],
            "vibration_mm_s": self._vibration() * (1.0 + n["vibration_mm_s"]),
            "run_hours": self.run_s / 3600.0,
            "alarm_active": 1.0 if self.state is _DOWN else 0.0,
            "health": self.health,
        }
