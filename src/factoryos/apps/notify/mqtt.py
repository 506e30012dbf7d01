"""MQTT channel: publish the notification's JSON to a topic filled from its labels."""

import contextlib
import logging
import string
from collections.abc import Mapping

import aiomqtt

from factoryos.apps.notify.errors import DeliveryError
from factoryos.apps.notify.notification import Notification, payload
from factoryos.apps.notify.settings import MqttTarget
from factoryos.connect.errors import ConnectError
from factoryos.connect.mqtt_client import connected

_log = logging.getLogger(__name__)
_UNSAFE = str.maketrans({"+": "_", "#": "_", "\0": "_"})


def fill_topic(template: str, labels: Mapping[str, str]) -> str:
    """``factoryos/alarms/{equipment}`` with the label's value; a missing or empty label
    becomes ``_``, and MQTT wildcards in a value become ``_``."""
    out = []
    for literal, name, _, _ in string.Formatter().parse(template):
        out.append(literal)
        if name is not None:
            out.append(labels.get(name, "").translate(_UNSAFE) or "_")
    return "".join(out)


class MqttTransport:
    """Keeps one connection open between notifications and reconnects after a failure."""

    def __init__(self, target: MqttTarget) -> None:
        self.target = target
        self._stack = contextlib.AsyncExitStack()
        self._client: aiomqtt.Client | None = None

    async def _connect(self) -> aiomqtt.Client:
        if self._client is None:
            try:
                self._client = await self._stack.enter_async_context(
                    connected(self.target.broker, _log)
                )
            except ConnectError as exc:
                raise DeliveryError(self.target.name, str(exc)) from exc
        return self._client

    async def send(self, notification: Notification, event_id: str) -> None:
        client = await self._connect()
        topic = fill_topic(self.target.topic, notification.labels)
        try:
            await client.publish(
                topic,
                payload(notification, event_id),
                qos=self.target.qos,
                retain=self.target.retain,
                timeout=self.target.timeout_s,
            )
        except aiomqtt.MqttError as exc:
            await self.aclose()
            raise DeliveryError(
                self.target.name, f"publish to {topic} on {self.target.broker.address}: {exc}"
            ) from exc

    async def aclose(self) -> None:
        self._client = None
        await self._stack.aclose()
