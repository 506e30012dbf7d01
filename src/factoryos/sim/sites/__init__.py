"""Site files shipped with the simulator, and rewriting a site's device ports."""

from collections.abc import Mapping
from pathlib import Path

from factoryos.model.devices import AnyDevice, ModbusTcpDevice
from factoryos.model.site import SiteFile, load_site
from factoryos.sim.errors import SimConfigError

#: The demo site: a machining line, a moulding cell, a packer, compressors, an energy meter.
DEMO_SITE = Path(__file__).with_name("demo.yaml")


def load_demo_site() -> SiteFile:
    """The validated demo site."""
    return load_site(DEMO_SITE)


def with_ports(site: SiteFile, ports: Mapping[str, int], host: str | None = None) -> SiteFile:
    """A copy of ``site`` whose devices listen on ``ports[device name]`` (and ``host``).

    Devices not in ``ports`` keep their port; a name that is no device is an error.
    Tests use it to serve the demo site on free ports.
    """
    names = {d.name for d in site.devices}
    unknown = sorted(set(ports) - names)
    if unknown:
        raise SimConfigError(f"no device named {unknown[0]!r}; devices: {', '.join(sorted(names))}")
    devices: list[AnyDevice] = []
    for device in site.devices:
        if isinstance(device, ModbusTcpDevice):
            update: dict[str, object] = {"port": ports.get(device.name, device.port)}
            if host is not None:
                update["host"] = host
            device = device.model_copy(update=update)
        devices.append(device)
    return site.model_copy(update={"devices": devices})
