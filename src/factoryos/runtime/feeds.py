"""Optional feeds of a running platform beyond its site's drivers.

Inbound: edge gateways forwarding over NATS JetStream or Sparkplug B. Outbound: every
stored tag published to its Unified Namespace topic on an MQTT broker. Each is off unless
configured. Gateways name their tags by UNS path; the platform's site file must hold them.
"""

import asyncio
import dataclasses
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.nats import NatsIngestSource
from factoryos.bus.sparkplug_ingest import SparkplugIngestSource
from factoryos.bus.uns import DEFAULT_PREFIX, UnsPublisher, site_paths
from factoryos.connect.mqtt_client import BrokerSettings
from factoryos.model import SiteFile
from factoryos.store.ingest import Ingestor

Task = Callable[[asyncio.Event], Coroutine[Any, Any, Any]]


@dataclass(frozen=True)
class Feeds:
    """Which optional feeds run; ``None`` leaves one off."""

    nats_url: str | None = None
    nats_stream: str = "FACTORYOS_INGEST"
    sparkplug_broker: str | None = None
    sparkplug_group: str | None = None
    uns_broker: str | None = None
    uns_prefix: str = DEFAULT_PREFIX
    mqtt_password: str | None = dataclasses.field(default=None, repr=False)
    """Password of the user named in the broker URLs (``mqtts://factoryos@host:8883``)."""
    mqtt_ca_file: Path | None = None
    """CA to check an ``mqtts://`` broker's certificate with; the system's when None."""

    def _broker(self, url: str) -> BrokerSettings:
        broker = BrokerSettings.from_url(url)
        return dataclasses.replace(broker, password=self.mqtt_password, ca_file=self.mqtt_ca_file)

    def producers(
        self, bus: InProcessBus, tag_ids: dict[str, int], ingestor: Ingestor
    ) -> dict[str, Task]:
        """Sources that publish onto the bus: stopped with the drivers, before the ingest."""
        found: dict[str, Task] = {}
        if self.nats_url is not None:
            # Ack a JetStream batch only once it is stored: a crash then redelivers it.
            nats = NatsIngestSource(
                self.nats_url,
                self.nats_stream,
                "platform",
                bus=bus,
                tag_ids=tag_ids,
                after_publish=ingestor.flush,
            )
            found["nats-ingest"] = nats.run
        if self.sparkplug_broker is not None and self.sparkplug_group is not None:
            broker = self._broker(self.sparkplug_broker)
            sparkplug = SparkplugIngestSource(
                broker, self.sparkplug_group, bus=bus, tag_ids=tag_ids
            )
            found["sparkplug-ingest"] = sparkplug.run
        return found

    def consumers(
        self, bus: InProcessBus, site: SiteFile, tag_ids: dict[str, int]
    ) -> dict[str, Task]:
        """Subscribers of the bus; built before the drivers start so they miss nothing."""
        if self.uns_broker is None:
            return {}
        paths, units = site_paths(site, tag_ids)
        broker = self._broker(self.uns_broker)
        publisher = UnsPublisher(bus, broker, paths, units=units, prefix=self.uns_prefix)
        return {"uns-publish": publisher.run}
