"""Which tags each device serves: the points every driver is built from.

A point is a tag with the int id it is stored under. A tag belongs to a protocol's driver
when it has that protocol's address block (``modbus``, ``s7``, ``opcua``, ``mqtt``,
``sparkplug``) and its equipment names a device of that protocol.
"""

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TypeVar

from factoryos.connect.errors import ConfigError
from factoryos.model.devices import (
    AnyDevice,
    ModbusTcpDevice,
    MqttDevice,
    OpcUaDevice,
    S7Device,
    SparkplugDevice,
)
from factoryos.model.site import SiteFile
from factoryos.model.tags import Tag

D = TypeVar("D", bound=AnyDevice)

# Device type → the tag field holding its address, and how an error names that address.
_ADDRESS: dict[type[object], tuple[str, str]] = {
    ModbusTcpDevice: ("modbus", "a Modbus address"),
    S7Device: ("s7", "an S7 address"),
    OpcUaDevice: ("opcua", "an OPC UA address"),
    MqttDevice: ("mqtt", "an MQTT address"),
    SparkplugDevice: ("sparkplug", "a Sparkplug address"),
}


@dataclass(frozen=True, slots=True)
class Point:
    """One tag a driver reads (and maybe writes), with the int id it is stored under."""

    tag_id: int
    tag: Tag


def points_by_device(
    site: SiteFile, tag_ids: Mapping[str, int], kind: type[D]
) -> dict[str, list[Point]]:
    """Device name → the points, in file order, of tags with ``kind``'s address block.

    ``tag_ids`` maps each tag's Unified Namespace path to its storage id; a tag with the
    address but no id is a :class:`ConfigError`.
    """
    field, what = _ADDRESS[kind]
    points: dict[str, list[Point]] = {}
    for ref in site.tags():
        device = ref.equipment.device
        if getattr(ref.tag, field) is None or device is None:
            continue
        if ref.path not in tag_ids:
            raise ConfigError(f"tag {ref.path} has {what} but no tag id")
        points.setdefault(device, []).append(Point(tag_ids[ref.path], ref.tag))
    return points


def device_points(
    site: SiteFile, tag_ids: Mapping[str, int], kind: type[D]
) -> list[tuple[D, list[Point]]]:
    """Each device of type ``kind`` that serves at least one tag, with its points: one
    driver's worth each, in the site file's device order."""
    points = points_by_device(site, tag_ids, kind)
    return [(d, points[d.name]) for d in site.devices if isinstance(d, kind) and d.name in points]
