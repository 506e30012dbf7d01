"""MQTT broker connections shared by the MQTT driver and the UNS publisher.

One place that turns broker settings (host, credentials, TLS) into an aiomqtt client, with a
bounded incoming queue that drops the oldest message (and counts it) rather than growing,
and the capped exponential back-off both use between reconnect attempts.
"""

import asyncio
import contextlib
import logging
import os
import ssl
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import aiomqtt

from factoryos.connect.errors import ConfigError, ConnectError
from factoryos.model.devices import MqttDevice, SparkplugDevice

MQTT_PROTOCOL = aiomqtt.ProtocolVersion.V311
"""3.1.1: every 3.1.1 and 5 broker accepts it, and clients of either version may publish."""

_CONNECT_MARGIN_S = 1.0  # aiomqtt's own CONNACK timeout fires first; ours is the backstop


@dataclass(frozen=True, slots=True)
class BrokerSettings:
    """Where a broker is and how to log in; ``password`` is the secret itself, not its name."""

    host: str = "127.0.0.1"
    port: int = 1883
    username: str | None = None
    password: str | None = None
    tls: bool = False
    ca_file: Path | None = None
    client_id: str | None = None
    keepalive_s: int = 30
    timeout_s: float = 5.0

    @property
    def address(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @classmethod
    def of(
        cls, device: MqttDevice | SparkplugDevice, client_id: str | None = None
    ) -> "BrokerSettings":
        """Settings of a site-file device; reads the password from ``device.password_env``."""
        return cls(
            host=device.host,
            port=device.port,
            username=device.username,
            password=_password(device.name, device.password_env),
            tls=device.tls,
            ca_file=device.ca_file,
            client_id=client_id,
            keepalive_s=device.keepalive_s,
            timeout_s=device.timeout_s,
        )

    @classmethod
    def from_url(cls, url: str, *, password_env: str | None = None) -> "BrokerSettings":
        """``mqtt://[user@]host[:port]`` or ``mqtts://…`` (TLS, default port 8883).

        The password never sits in the URL: name the variable holding it.
        """
        parts = urlsplit(url)
        if parts.scheme not in ("mqtt", "mqtts") or not parts.hostname:
            raise ConfigError(f"broker URL {url!r}: use mqtt://host:port or mqtts://host:port")
        if parts.password is not None:
            raise ConfigError(f"broker URL {url!r}: put the password in an environment variable")
        tls = parts.scheme == "mqtts"
        try:
            port = parts.port or (8883 if tls else 1883)
        except ValueError as exc:
            raise ConfigError(f"broker URL {url!r}: {exc}") from exc
        return cls(
            host=parts.hostname,
            port=port,
            username=parts.username,
            password=_password(url, password_env),
            tls=tls,
        )


def _password(owner: str, variable: str | None) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if value is None:
        raise ConfigError(f"{owner}: environment variable {variable} (password_env) is not set")
    return value


def _tls_context(settings: BrokerSettings) -> ssl.SSLContext | None:
    if not settings.tls:
        return None
    try:
        return ssl.create_default_context(cafile=settings.ca_file)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(
            f"broker {settings.address}: cannot load CA {settings.ca_file}: {exc}"
        ) from exc


def _dropping_queue(on_drop: Callable[[], None]) -> type[asyncio.Queue[aiomqtt.Message]]:
    class DropOldest(asyncio.Queue[aiomqtt.Message]):
        """Full: make room by discarding the oldest message, so the newest data gets in."""

        def put_nowait(self, item: aiomqtt.Message) -> None:
            if self.full():
                self.get_nowait()
                on_drop()
            super().put_nowait(item)

    return DropOldest


@contextlib.asynccontextmanager
async def connected(
    settings: BrokerSettings,
    logger: logging.Logger,
    *,
    max_queued: int = 10_000,
    on_drop: Callable[[], None] = lambda: None,
    will: aiomqtt.Will | None = None,
    clean_session: bool | None = None,
) -> AsyncIterator[aiomqtt.Client]:
    """A client connected to the broker, disconnected on the way out.

    ``will`` is published by the broker if the connection breaks; ``clean_session=False``
    (with a fixed ``client_id``) asks the broker to keep the subscriptions and queue QoS 1
    messages while the client is away.

    Raises :class:`ConnectError` when the broker cannot be reached within ``timeout_s``.
    Errors while connected surface as ``aiomqtt.MqttError`` from the client's calls.
    """
    client = aiomqtt.Client(
        settings.host,
        settings.port,
        username=settings.username,
        password=settings.password,
        identifier=settings.client_id,
        logger=logger,
        will=will,
        clean_session=clean_session,
        protocol=MQTT_PROTOCOL,
        timeout=settings.timeout_s,
        keepalive=settings.keepalive_s,
        tls_context=_tls_context(settings),
        queue_type=_dropping_queue(on_drop),
        max_queued_incoming_messages=max_queued,
    )
    try:
        async with asyncio.timeout(settings.timeout_s + _CONNECT_MARGIN_S):
            await client.__aenter__()
    except (aiomqtt.MqttError, TimeoutError) as exc:
        raise ConnectError(
            f"cannot connect to broker {settings.address}: {exc or 'timeout'}"
        ) from exc
    try:
        yield client
    finally:
        with contextlib.suppress(aiomqtt.MqttError):
            await client.__aexit__(None, None, None)
        _retrieve_disconnect_reason(client)


def _retrieve_disconnect_reason(client: aiomqtt.Client) -> None:
    """Mark aiomqtt's record of why the connection dropped as seen.

    aiomqtt keeps it in a future that only its message iterator reads; a client that only
    publishes never does, and asyncio then logs "Future exception was never retrieved" at
    ERROR for every lost broker. We have already handled the loss through the failed call.
    """
    reason = getattr(client, "_disconnected", None)
    if isinstance(reason, asyncio.Future) and reason.done() and not reason.cancelled():
        reason.exception()


class Backoff:
    """Capped exponential back-off: ``first_s``, doubling per failure up to ``max_s``."""

    def __init__(self, first_s: float, max_s: float) -> None:
        if not 0 < first_s <= max_s:
            raise ConfigError(f"back-off: need 0 < first ({first_s}) <= max ({max_s})")
        self.first_s = first_s
        self.max_s = max_s
        self.delay_s = 0.0

    def failed(self) -> float:
        """The delay before the next attempt, after one more failure."""
        self.delay_s = min(self.max_s, 2 * self.delay_s) if self.delay_s else self.first_s
        return self.delay_s

    def reset(self) -> None:
        self.delay_s = 0.0
