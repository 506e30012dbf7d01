"""What the notifier needs of a channel, and the transport for each kind of target."""

from typing import Protocol

from factoryos.apps.notify.mqtt import MqttTransport
from factoryos.apps.notify.notification import Notification
from factoryos.apps.notify.settings import MqttTarget, Target, WebhookTarget
from factoryos.apps.notify.smtp import EmailTransport
from factoryos.apps.notify.webhook import WebhookTransport


class Transport(Protocol):
    """Sends to one channel. ``send`` raises
    :class:`~factoryos.apps.notify.errors.DeliveryError` naming the channel; ``aclose`` is
    called once, from the task that called ``send``."""

    async def send(self, notification: Notification, event_id: str) -> None: ...

    async def aclose(self) -> None: ...


def transport_for(target: Target) -> Transport:
    """The transport of ``target``'s kind."""
    if isinstance(target, WebhookTarget):
        return WebhookTransport(target)
    if isinstance(target, MqttTarget):
        return MqttTransport(target)
    return EmailTransport(target)
