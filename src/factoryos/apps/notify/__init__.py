"""Notifications: webhook (signed), MQTT topic and e-mail, routed by labels and
de-duplicated per channel. Independent of where notifications come from (alarms, reports)."""

from factoryos.apps.notify.config import NotifyConfig
from factoryos.apps.notify.errors import (
    DeliveryError,
    NotifyConfigError,
    NotifyError,
    SignatureError,
)
from factoryos.apps.notify.notification import PRIORITIES, Attachment, Notification
from factoryos.apps.notify.notifier import ChannelCounters, Notifier, NotifierStats
from factoryos.apps.notify.settings import NotifySettings, load_notify, resolve
from factoryos.apps.notify.signing import (
    EVENT_ID_HEADER,
    SIGNATURE_HEADER,
    sign,
    verify_signature,
)

__all__ = [
    "EVENT_ID_HEADER",
    "PRIORITIES",
    "SIGNATURE_HEADER",
    "Attachment",
    "ChannelCounters",
    "DeliveryError",
    "Notification",
    "Notifier",
    "NotifierStats",
    "NotifyConfig",
    "NotifyConfigError",
    "NotifyError",
    "NotifySettings",
    "SignatureError",
    "load_notify",
    "resolve",
    "sign",
    "verify_signature",
]
