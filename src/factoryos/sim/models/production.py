"""Producing machines: CNC machining centres, injection moulders and packers.

One state machine drives all three; a :class:`Family` of signal tables gives each its
character. Every step a machine that is RUNNING advances its cycle (several parts per step
when the step is longer than the cycle), wears, and its temperatures follow their targets
with first-order lag. At the end of the step the next state is decided, in this order: a
repair still running; health exhausted → failure; the shift plan says stop →
PLANNED_STOP; back from a stop or a repair → SETUP (warm-up); a timed IDLE or SETUP still
running; batch complete → SETUP (changeover); else a random starvation (IDLE) or jam
(UNPLANNED_DOWN), else RUNNING.
"""

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from factoryos.sim.models.base import Machine, ModelContext
from factoryos.sim.rand import measurement_noise
from factoryos.sim.states import ROW_OF, MachineState

PerState = tuple[float, float, float, float, float]
"""Values for RUNNING, IDLE, SETUP, PLANNED_STOP, UNPLANNED_DOWN (``STATE_ROWS`` order)."""

_RUN, _DOWN = MachineState.RUNNING, MachineState.UNPLANNED_DOWN


@dataclass(frozen=True, slots=True)
class Level:
    """A signal that follows the state at once: ``by_state * (1 + wear_gain * w**2)``.

    ``noise`` is the relative standard deviation of the measurement.
    """

    name: str
    by_state: PerState
    wear_gain: float = 0.0
    noise: float = 0.01


@dataclass(frozen=True, slots=True)
class Thermal:
    """A temperature approaching ``by_state + wear_gain * w`` with time constant ``tau_s``.

    ``noise`` is the absolute standard deviation of the measurement in °C.
    """

    name: str
    by_state: PerState
    tau_s: float
    wear_gain: float = 0.0
    noise: float = 0.1


_PRODUCTION_DEFAULTS: Mapping[str, float] = {
    "cycle_s": 90.0,  # seconds per part
    "batch_parts": 200.0,  # parts between changeovers
    "changeover_min": 25.0,
    "startup_min": 10.0,  # warm-up SETUP after a planned stop or a repair
    "idle_mtb_h": 3.0,  # mean running hours between starvations
    "idle_mean_min": 8.0,
    "jam_mtb_h": 10.0,  # mean running hours between jams (short unplanned stops)
    "jam_mean_min": 6.0,
    "life_h": 70.0,  # running hours from new to failure by wear
    "repair_mean_h": 3.0,
    "scrap_base": 0.01,  # scrap probability when new
    "scrap_wear": 0.2,  # added scrap probability at full wear (grows with w**3)
    "shift_start_h": 6.0,
    "shift_end_h": 22.0,
    "break_start_h": 12.0,
    "break_min": 30.0,
    "health_min_init": 0.3,  # initial health is uniform on [health_min_init, 1]
    "power_scale": 1.0,
}


def _p_per_step(step_s: float, mean_between_s: float) -> float:
    return 1.0 - math.exp(-step_s / mean_between_s)


class ProducingMachine(Machine):
    """A machine making parts: signals ``state``, ``cycle_count``, ``good_count``,
    ``scrap_count``, ``alarm_active`` (1 while UNPLANNED_DOWN), ``health`` (hidden truth,
    1 new … 0 failed), and its family's levels (``power_kw`` always) and temperatures.
    """

    LEVELS: ClassVar[tuple[Level, ...]]
    THERMALS: ClassVar[tuple[Thermal, ...]]

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        p = self.p
        self._lv_names = [lv.name for lv in self.LEVELS]
        self._lv = np.array([lv.by_state for lv in self.LEVELS], dtype=np.float64).T.copy()
        self._lv[:, self._lv_names.index("power_kw")] *= p["power_scale"]
        self._lv_gain = np.array([lv.wear_gain for lv in self.LEVELS])
        self._lv_noise = np.array([lv.noise for lv in self.LEVELS])
        self._th_names = [th.name for th in self.THERMALS]
        self._th = np.array([th.by_state for th in self.THERMALS], dtype=np.float64).T.copy()
        self._th_gain = np.array([th.wear_gain for th in self.THERMALS])
        self._th_noise = np.array([th.noise for th in self.THERMALS])
        self._alpha = 1.0 - np.exp(-self.step_s / np.array([th.tau_s for th in self.THERMALS]))
        self._rate = self.step_s / p["cycle_s"]
        self._p_idle = _p_per_step(self.step_s, 3600.0 * p["idle_mtb_h"])
        self._p_jam = _p_per_step(self.step_s, 3600.0 * p["jam_mtb_h"])
        self.progress = 0.0
        self.cycles = self.good = self.scrap = 0
        self.since_setup = 0
        start = ctx.start_ns
        first = MachineState.PLANNED_STOP if self.planned_stop(start) else _RUN
        self.set_state(first, start)
        self.temps = self._th[ROW_OF[first]] + self._th_gain * self.wear

    @property
    def signal_names(self) -> tuple[str, ...]:
        fixed = ("state", "cycle_count", "good_count", "scrap_count", "alarm_active", "health")
        return (*fixed, *self._lv_names, *self._th_names)

    def step(self, t0_ns: int) -> None:
        if self.state is _RUN:
            self._produce(t0_ns)
            self.degrade()
        target = self._th[ROW_OF[self.state]] + self._th_gain * self.wear
        target[0] += self.overheat_c
        self.temps += self._alpha * (target - self.temps)
        self.tick_faults()
        self._decide(t0_ns + self.step_ns)

    def _produce(self, t0_ns: int) -> None:
        before = self.progress
        after = before + self._rate
        n = int(after)
        self.progress = after - n
        if n == 0:
            return
        last_ns = t0_ns + self.step_ns - 1
        p_scrap = self.p["scrap_base"] + self.p["scrap_wear"] * self.wear**3
        for k in range(n):
            ts = min(t0_ns + int((k + 1 - before) / self._rate * self.step_ns), last_ns)
            good = self.draws.u() >= p_scrap
            self.truth.part(self.index, ts, good)
            if good:
                self.good += 1
            else:
                self.scrap += 1
        self.cycles += n
        self.since_setup += n

    def _decide(self, t1_ns: int) -> None:
        s = self.state
        if self.left_s > 0.0:
            self.left_s -= self.step_s
        if s is _DOWN:
            if self.left_s > 0.0:
                return
            self.repaired()
        elif s is _RUN and self.health <= 0.0:
            self.fail(t1_ns, "wear", self.random_repair_s())
            return
        if self.planned_stop(t1_ns):
            self.set_state(MachineState.PLANNED_STOP, t1_ns)
        elif s is MachineState.PLANNED_STOP or s is _DOWN:
            self.set_state(MachineState.SETUP, t1_ns, self._minutes("startup_min"))
        elif s is not _RUN and self.left_s > 0.0:
            return
        elif self.since_setup >= self.p["batch_parts"]:
            self.since_setup = 0
            self.set_state(MachineState.SETUP, t1_ns, self._minutes("changeover_min"))
        else:
            self._maybe_interrupt(t1_ns)

    def _maybe_interrupt(self, t1_ns: int) -> None:
        u = self.draws.u()
        if u < self._p_idle:
            idle_s = self.draws.exponential(60.0 * self.p["idle_mean_min"])
            self.set_state(MachineState.IDLE, t1_ns, idle_s)
        elif u < self._p_idle + self._p_jam:
            self.fail(t1_ns, "jam", self.draws.exponential(60.0 * self.p["jam_mean_min"]))
        else:
            self.set_state(_RUN, t1_ns)

    def _minutes(self, name: str) -> float:
        return self.draws.around(60.0 * self.p[name], 0.3)

    def signals(self, step: int) -> dict[str, float]:
        row = ROW_OF[self.state]
        w = self.wear
        z = measurement_noise(
            self.seed, self.equipment, step, len(self._lv_names) + len(self.temps)
        )
        n = len(self._lv_names)
        levels = self._lv[row] * (1.0 + self._lv_gain * w * w) * (1.0 + self._lv_noise * z[:n])
        temps = self.temps + self._th_noise * z[n:]
        out = {
            "state": float(self.state),
            "cycle_count": float(self.cycles),
            "good_count": float(self.good),
            "scrap_count": float(self.scrap),
            "alarm_active": 1.0 if self.state is _DOWN else 0.0,
            "health": self.health,
        }
        out.update(zip(self._lv_names, np.maximum(levels, 0.0).tolist(), strict=True))
        out.update(zip(self._th_names, temps.tolist(), strict=True))
        return out

    def power_kw(self) -> float:
        i = self._lv_names.index("power_kw")
        w = self.wear
        return float(self._lv[ROW_OF[self.state], i] * (1.0 + self._lv_gain[i] * w * w))


class Cnc(ProducingMachine):
    """CNC machining centre: ``spindle_speed_rpm``, ``vibration_mm_s``, ``spindle_temp_c``
    (the one ``overheat`` raises), ``coolant_temp_c``."""

    DEFAULTS: ClassVar[Mapping[str, float]] = _PRODUCTION_DEFAULTS
    LEVELS = (
        Level("power_kw", (18.0, 4.5, 6.0, 0.8, 1.2), wear_gain=0.3, noise=0.02),
        Level("spindle_speed_rpm", (8000.0, 0.0, 1200.0, 0.0, 0.0), noise=0.005),
        Level("vibration_mm_s", (1.8, 0.25, 0.6, 0.05, 0.05), wear_gain=4.0, noise=0.05),
    )
    THERMALS = (
        Thermal("spindle_temp_c", (52.0, 34.0, 38.0, 22.0, 24.0), 1200.0, 18.0, 0.15),
        Thermal("coolant_temp_c", (27.0, 24.0, 24.0, 21.0, 22.0), 2400.0, 3.0, 0.1),
    )


class InjectionMoulder(ProducingMachine):
    """Injection-moulding machine: ``injection_pressure_bar``, ``vibration_mm_s``,
    ``oil_temp_c`` (hydraulics; the one ``overheat`` raises), ``barrel_temp_c``,
    ``mould_temp_c``. Barrel heaters stay on except in a planned stop."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {
        **_PRODUCTION_DEFAULTS,
        "cycle_s": 35.0,
        "batch_parts": 600.0,
        "changeover_min": 45.0,
        "startup_min": 30.0,
        "idle_mtb_h": 4.0,
        "idle_mean_min": 10.0,
        "jam_mtb_h": 6.0,
        "jam_mean_min": 4.0,
        "life_h": 90.0,
        "repair_mean_h": 4.0,
        "scrap_base": 0.02,
        "scrap_wear": 0.25,
        "break_min": 0.0,
    }
    LEVELS = (
        Level("power_kw", (45.0, 22.0, 28.0, 3.0, 15.0), wear_gain=0.2, noise=0.03),
        Level("injection_pressure_bar", (1100.0, 0.0, 150.0, 0.0, 0.0), 0.05, 0.03),
        Level("vibration_mm_s", (2.2, 0.6, 0.8, 0.05, 0.3), wear_gain=3.5, noise=0.05),
    )
    THERMALS = (
        Thermal("oil_temp_c", (46.0, 40.0, 40.0, 23.0, 35.0), 2400.0, 12.0, 0.15),
        Thermal("barrel_temp_c", (230.0, 228.0, 225.0, 35.0, 200.0), 1800.0, 6.0, 0.4),
        Thermal("mould_temp_c", (60.0, 52.0, 50.0, 24.0, 40.0), 1200.0, 4.0, 0.2),
    )


class Packer(ProducingMachine):
    """Packaging line: ``line_speed_ppm`` (packs per minute, 60 / cycle_s when running),
    ``vibration_mm_s``, ``motor_temp_c`` (the one ``overheat`` raises)."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {
        **_PRODUCTION_DEFAULTS,
        "cycle_s": 2.5,
        "batch_parts": 8000.0,
        "changeover_min": 20.0,
        "startup_min": 5.0,
        "idle_mtb_h": 1.5,
        "idle_mean_min": 4.0,
        "jam_mtb_h": 2.0,
        "jam_mean_min": 3.0,
        "life_h": 80.0,
        "repair_mean_h": 2.0,
        "scrap_base": 0.005,
        "scrap_wear": 0.1,
    }
    LEVELS = (
        Level("power_kw", (11.0, 3.0, 4.0, 0.5, 1.0), wear_gain=0.25, noise=0.02),
        Level("line_speed_ppm", (1.0, 0.0, 0.1, 0.0, 0.0), noise=0.01),
        Level("vibration_mm_s", (2.8, 0.3, 0.9, 0.05, 0.1), wear_gain=4.0, noise=0.05),
    )
    THERMALS = (Thermal("motor_temp_c", (58.0, 36.0, 40.0, 22.0, 26.0), 1500.0, 20.0, 0.15),)

    def __init__(self, ctx: ModelContext) -> None:
        super().__init__(ctx)
        # The speed table holds fractions of the nominal rate, which follows cycle_s.
        self._lv[:, self._lv_names.index("line_speed_ppm")] *= 60.0 / self.p["cycle_s"]
