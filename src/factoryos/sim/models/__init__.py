"""Machine models of the virtual factory, one class per ``simulate.model`` of a site file."""

from factoryos.sim.models.base import Machine, Model, ModelContext
from factoryos.sim.models.compressor import Compressor
from factoryos.sim.models.meter import EnergyMeter
from factoryos.sim.models.production import Cnc, InjectionMoulder, Packer, ProducingMachine

#: The class simulating each ``simulate.model`` value except ``energy_meter``, which needs
#: the other models of the site and is built by the factory.
MACHINE_MODELS: dict[str, type[Machine]] = {
    "cnc": Cnc,
    "injection": InjectionMoulder,
    "packaging": Packer,
    "compressor": Compressor,
}

__all__ = [
    "MACHINE_MODELS",
    "Cnc",
    "Compressor",
    "EnergyMeter",
    "InjectionMoulder",
    "Machine",
    "Model",
    "ModelContext",
    "Packer",
    "ProducingMachine",
]
