"""Three-phase energy meter on the site's main incomer.

It measures every other simulated equipment of the site plus a constant ``base_load_kw``
(lighting, HVAC, offices). ``energy_kwh`` integrates the noise-free active power step by
step, so it is exactly the sum of ``power_kw() * step`` of its sources: the ground truth
an energy app can check its own integration against.
"""

import math
from collections.abc import Mapping, Sequence
from typing import ClassVar

from factoryos.sim.models.base import Model, ModelContext
from factoryos.sim.rand import measurement_noise

_SQRT3 = math.sqrt(3.0)


class EnergyMeter(Model):
    """Signals: ``active_power_kw``, ``energy_kwh``, ``voltage_v`` (line-to-line),
    ``current_a``, ``power_factor``, ``frequency_hz``."""

    DEFAULTS: ClassVar[Mapping[str, float]] = {
        "base_load_kw": 12.0,
        "voltage_v": 400.0,
        "power_factor": 0.92,
        "frequency_hz": 50.0,
    }

    def __init__(self, ctx: ModelContext, sources: Sequence[Model]) -> None:
        super().__init__(ctx)
        self.sources = tuple(sources)
        self.energy_kwh = 0.0

    @property
    def signal_names(self) -> tuple[str, ...]:
        names = ("active_power_kw", "energy_kwh", "voltage_v", "current_a", "power_factor")
        return (*names, "frequency_hz")

    def power_kw(self) -> float:
        return self.p["base_load_kw"] + sum(m.power_kw() for m in self.sources)

    def step(self, t0_ns: int) -> None:
        """Integrate over the step the power its sources drew during it.

        The factory steps the meter before its sources, so ``power_kw`` is still the
        power of the states they held over ``[t0_ns, t0_ns + step)``.
        """
        self.energy_kwh += self.power_kw() * self.step_s / 3600.0

    def signals(self, step: int) -> dict[str, float]:
        z = measurement_noise(self.seed, self.equipment, step, 4).tolist()
        p = self.p
        power = self.power_kw() * (1.0 + 0.005 * z[0])
        volts = p["voltage_v"] * (1.0 + 0.004 * z[1])
        pf = min(1.0, p["power_factor"] + 0.005 * z[2])
        return {
            "active_power_kw": power,
            "energy_kwh": self.energy_kwh,
            "voltage_v": volts,
            "current_a": 1000.0 * power / (_SQRT3 * volts * pf),
            "power_factor": pf,
            "frequency_hz": p["frequency_hz"] + 0.01 * z[3],
        }
