"""Transports that carry SampleBatches from drivers to their consumers."""

from factoryos.bus.errors import BusClosedError, BusError
from factoryos.bus.inprocess import InProcessBus, Overflow, Subscription

__all__ = ["BusClosedError", "BusError", "InProcessBus", "Overflow", "Subscription"]
