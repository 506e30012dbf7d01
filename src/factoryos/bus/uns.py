"""Unified Namespace publisher: every sample to its MQTT topic, as JSON a FactoryOS MQTT
driver reads back (:mod:`factoryos.connect.mqtt_payload`).

Topic: ``<prefix>/<UNS path>``, e.g. ``factoryos/v1/demo/machining/line1/cell1/cnc-01/power_kw``.
Payload: ``{"value": 4.2, "timestamp": "2026-11-24T08:00:00.000Z", "quality": "good",
"unit": "kW"}``; a value that is not a number (a BAD sample's NaN) is ``null``; ``unit`` is left
out when the tag has none. Messages are retained by default, so a client subscribing later
gets every tag's last value at once.

It reads the in-process bus through a DROP_OLDEST subscription: a slow or absent broker never
holds up ingest; the batches it could not keep up with are dropped and counted.
"""

import asyncio
import contextlib
import json
import logging
import math
from collections.abc import Mapping
from dataclasses import dataclass

import aiomqtt

from factoryos.bus.errors import BusError
from factoryos.bus.inprocess import InProcessBus, Overflow
from factoryos.connect.errors import ConnectError
from factoryos.connect.mqtt_client import Backoff, BrokerSettings, connected
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.timeparse import format_ns_array

log = logging.getLogger(__name__)
_client_log = logging.getLogger(f"{__name__}.client")

DEFAULT_PREFIX = "factoryos/v1"
"""Namespace of our topics (``v1``: the payload version), ahead of the UNS path."""

_QUALITY_LABELS = {Quality.GOOD: "good", Quality.UNCERTAIN: "uncertain"}  # anything else: bad


@dataclass
class UnsStats:
    """Counters of one publisher."""

    batches: int = 0
    published: int = 0
    unmapped: int = 0  # samples of tag ids with no UNS path
    failed: int = 0  # samples of batches cut short by a lost broker
    connects: int = 0
    connected: bool = False
    last_error: str | None = None


def check_prefix(prefix: str) -> str:
    """``prefix`` if it can lead an MQTT topic: no wildcards, no empty or ``$`` first level."""
    bad = (
        any(c in prefix for c in "+#\0")
        or prefix.startswith("$")
        or (prefix != "" and "" in prefix.split("/"))
    )
    if bad:
        raise BusError(
            f"UNS prefix {prefix!r}: use '/'-separated levels without + # $, "
            "empty levels or a leading or trailing '/' (e.g. factoryos/v1)"
        )
    return prefix


def uns_topics(paths: Mapping[int, str], prefix: str = DEFAULT_PREFIX) -> dict[int, str]:
    """Tag id → topic ``<prefix>/<UNS path>`` (the path alone for an empty prefix)."""
    lead = f"{check_prefix(prefix)}/" if prefix else ""
    return {tag_id: lead + path for tag_id, path in paths.items()}


def site_paths(site: SiteFile, tag_ids: Mapping[str, int]) -> tuple[dict[int, str], dict[int, str]]:
    """(tag id → UNS path, tag id → unit) of the site's tags that have an id."""
    paths: dict[int, str] = {}
    units: dict[int, str] = {}
    for ref in site.tags():
        if ref.path in tag_ids:
            paths[tag_ids[ref.path]] = ref.path
            units[tag_ids[ref.path]] = ref.tag.unit
    return paths, units


def encode_batch(
    batch: SampleBatch, topics: Mapping[int, str], units: Mapping[int, str]
) -> tuple[list[tuple[str, bytes]], int]:
    """(topic, payload) per sample of ``batch`` whose tag has a topic, in batch order, and how
    many samples had none."""
    stamps = format_ns_array(batch.ts, "exact")
    messages = []
    unmapped = 0
    rows = zip(
        batch.tag_ids.tolist(), batch.values.tolist(), batch.quality.tolist(), stamps, strict=True
    )
    for tag_id, value, quality, stamp in rows:
        topic = topics.get(tag_id)
        if topic is None:
            unmapped += 1
            continue
        number = repr(value) if math.isfinite(value) else "null"
        label = _QUALITY_LABELS.get(quality, "bad")
        unit = units.get(tag_id, "")
        tail = f',"unit":{json.dumps(unit)}' if unit else ""
        text = f'{{"value":{number},"timestamp":"{stamp}","quality":"{label}"{tail}}}'
        messages.append((topic, text.encode()))
    return messages, unmapped


class UnsPublisher:
    """Publishes every batch of ``bus`` to the broker, one retained message per sample.

    It subscribes at construction (DROP_OLDEST, ``maxsize`` batches), so batches published
    before `run` starts are kept. `run` reconnects with capped exponential back-off.
    """

    def __init__(
        self,
        bus: InProcessBus,
        broker: BrokerSettings,
        paths: Mapping[int, str],
        *,
        units: Mapping[int, str] | None = None,
        prefix: str = DEFAULT_PREFIX,
        qos: int = 0,
        retain: bool = True,
        maxsize: int = 64,
        first_backoff_s: float = 0.5,
        max_backoff_s: float = 30.0,
        name: str = "uns",
    ) -> None:
        if qos not in (0, 1, 2):
            raise BusError(f"UNS publisher: qos must be 0, 1 or 2, got {qos}")
        self.broker = broker
        self.prefix = prefix
        self.qos = qos
        self.retain = retain
        self.stats = UnsStats()
        self._topics = uns_topics(paths, prefix)
        self._units = dict(units or {})
        self._backoff = Backoff(first_backoff_s, max_backoff_s)
        self._sub = bus.subscribe(name, maxsize=maxsize, overflow=Overflow.DROP_OLDEST)
        self._down = False
        self._ready = asyncio.Event()

    @property
    def dropped(self) -> int:
        """Batches dropped because the broker could not keep up (or was away)."""
        return self._sub.dropped

    def topic(self, tag_id: int) -> str | None:
        return self._topics.get(tag_id)

    async def wait_ready(self) -> None:
        """Return once connected (bound it with ``asyncio.timeout``)."""
        await self._ready.wait()

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set or the bus closes; then unsubscribe."""
        serve = asyncio.create_task(self._serve(), name="uns-publisher")
        stopped = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({serve, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopped.cancel()
            # Closed first, so forwarding ends (after what is queued) even if the cancel is
            # lost: on Python 3.11 asyncio.wait_for, inside aiomqtt's publish, drops a
            # cancel that races the publish's completion, and the loop would wait for the
            # next batch forever.
            self._sub.close()
            serve.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await serve  # re-raises what ended it, unless that was our cancel
            self._ready.clear()
            self.stats.connected = False

    async def _serve(self) -> None:
        while not self._sub.closed:
            try:
                async with connected(self.broker, _client_log) as client:
                    self._come_up()
                    await self._forward(client)
                    return  # the bus closed
            except (ConnectError, aiomqtt.MqttError) as exc:
                self._go_down(exc)
            await asyncio.sleep(self._backoff.failed())

    async def _forward(self, client: aiomqtt.Client) -> None:
        async for batch in self._sub:
            messages, unmapped = encode_batch(batch, self._topics, self._units)
            self.stats.batches += 1
            self.stats.unmapped += unmapped
            for i, (topic, payload) in enumerate(messages):
                try:
                    await client.publish(topic, payload, qos=self.qos, retain=self.retain)
                except aiomqtt.MqttError:
                    self.stats.failed += len(messages) - i
                    raise
                self.stats.published += 1

    def _come_up(self) -> None:
        self.stats.connects += 1
        self.stats.connected = True
        if self._down:
            log.info("UNS publisher: broker %s back", self.broker.address)
        else:
            log.info("UNS publisher: publishing to %s under %r", self.broker.address, self.prefix)
        self._down = False
        self._backoff.reset()
        self._ready.set()

    def _go_down(self, exc: Exception) -> None:
        self._ready.clear()
        self.stats.connected = False
        self.stats.last_error = f"{self.broker.address}: {exc}"
        if not self._down:
            log.warning(
                "UNS publisher: broker %s lost (%s); dropping the oldest batches until it is back",
                self.broker.address,
                exc,
            )
        self._down = True
