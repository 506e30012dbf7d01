"""Every driver a site needs, built by protocol, and the way to write to writable tags."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from factoryos.connect.errors import WriteError
from factoryos.connect.modbus import ModbusPoller, build_pollers
from factoryos.connect.mqtt import build_mqtt_drivers
from factoryos.connect.opcua import OpcUaDriver, build_opcua_drivers
from factoryos.connect.polling import Runnable
from factoryos.connect.s7 import S7Poller, build_s7_drivers
from factoryos.connect.sparkplug import build_sparkplug_drivers
from factoryos.model.site import SiteFile


class Writer(Protocol):
    """A driver that can write setpoints to some of its tags."""

    @property
    def name(self) -> str: ...

    async def write(self, tag_id: int, value: float) -> float: ...


@dataclass
class Drivers:
    """The drivers of a site, and which driver writes each writable tag."""

    running: list[Runnable] = field(default_factory=list)
    writers: dict[int, Writer] = field(default_factory=dict)

    async def write(self, tag_id: int, value: float) -> float:
        """Write through the tag's driver; :class:`WriteError` when no driver can."""
        writer = self.writers.get(tag_id)
        if writer is None:
            raise WriteError(f"tag id {tag_id}: not writable (mark it writable: true)")
        return await writer.write(tag_id, value)


def build_drivers(site: SiteFile, tag_ids: Mapping[str, int]) -> Drivers:
    """One driver per device connection of ``site``, whatever its protocol."""
    modbus = build_pollers(site, tag_ids)
    s7 = build_s7_drivers(site, tag_ids)
    opcua = build_opcua_drivers(site, tag_ids)
    running: list[Runnable] = [*modbus, *s7, *opcua]
    running += build_mqtt_drivers(site, tag_ids)
    running += build_sparkplug_drivers(site, tag_ids)
    drivers = Drivers(running=running)
    writing: list[ModbusPoller | S7Poller | OpcUaDriver] = [*modbus, *s7, *opcua]
    for driver in writing:
        for point in driver.points:
            if point.tag.writable:
                drivers.writers[point.tag_id] = driver
    return drivers
