"""Webhook channel: POST the notification's JSON, signed (see :mod:`.signing`)."""

import time

import httpx

from factoryos.apps.notify.errors import DeliveryError
from factoryos.apps.notify.notification import Notification, payload
from factoryos.apps.notify.settings import WebhookTarget
from factoryos.apps.notify.signing import EVENT_ID_HEADER, SIGNATURE_HEADER, sign

_RETRYABLE_STATUS = frozenset({408, 425, 429})


def retryable_status(status: int) -> bool:
    """Server errors and "try later" answers are retried; other client errors are not."""
    return status >= 500 or status in _RETRYABLE_STATUS


class WebhookTransport:
    def __init__(self, target: WebhookTarget) -> None:
        self.target = target
        self._client = httpx.AsyncClient(
            timeout=target.timeout_s,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=4),
            trust_env=False,
        )

    async def send(self, notification: Notification, event_id: str) -> None:
        body = payload(notification, event_id)
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self.target.secret, body, int(time.time())),
            EVENT_ID_HEADER: event_id,
        }
        try:
            answer = await self._client.post(self.target.url, content=body, headers=headers)
        except httpx.HTTPError as exc:
            raise DeliveryError(
                self.target.name, f"POST {self.target.url}: {type(exc).__name__}: {exc}"
            ) from exc
        if not answer.is_success:
            raise DeliveryError(
                self.target.name,
                f"POST {self.target.url} answered {answer.status_code}",
                retryable=retryable_status(answer.status_code),
            )

    async def aclose(self) -> None:
        await self._client.aclose()
