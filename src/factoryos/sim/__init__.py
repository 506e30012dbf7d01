"""The virtual factory: simulated machines with ground truth, served over Modbus TCP.

>>> site = load_demo_site()
>>> factory = VirtualFactory(site, seed=1)
>>> factory.advance(3600)  # one simulated hour
>>> factory.value("demo/machining/line1/cell1/cnc-01/power_kw")  # doctest: +SKIP
"""

from factoryos.sim.errors import (
    FaultError,
    SimConfigError,
    SimError,
    SimServerError,
    UnknownPathError,
)
from factoryos.sim.factory import DEFAULT_START_NS, VirtualFactory
from factoryos.sim.host import SimulatorHost
from factoryos.sim.modbus import ModbusDeviceServer
from factoryos.sim.registers import quantize
from factoryos.sim.sites import DEMO_SITE, load_demo_site, with_ports
from factoryos.sim.states import FaultKind, MachineState
from factoryos.sim.truth import FailureEvent, FaultEvent, GroundTruth, Parts, StateInterval

__all__ = [
    "DEFAULT_START_NS",
    "DEMO_SITE",
    "FailureEvent",
    "FaultError",
    "FaultEvent",
    "FaultKind",
    "GroundTruth",
    "MachineState",
    "ModbusDeviceServer",
    "Parts",
    "SimConfigError",
    "SimError",
    "SimServerError",
    "SimulatorHost",
    "StateInterval",
    "UnknownPathError",
    "VirtualFactory",
    "load_demo_site",
    "quantize",
    "with_ports",
]
