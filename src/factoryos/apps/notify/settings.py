"""The ``notify:`` section resolved for use: secrets read from the environment, addresses
parsed, every route's channels checked. Errors name the channel or route and its line."""

import os
from collections.abc import Mapping
from dataclasses import dataclass, replace
from urllib.parse import urlsplit

from pydantic import ValidationError

from factoryos.apps.notify.config import (
    CHANNEL_KINDS,
    EmailChannel,
    MqttChannel,
    NotifyConfig,
    RetryConfig,
    Route,
    WebhookChannel,
)
from factoryos.apps.notify.errors import NotifyConfigError
from factoryos.connect.errors import ConfigError
from factoryos.connect.mqtt_client import BrokerSettings
from factoryos.model.appsfile import AppsFile
from factoryos.model.errors import AppsFileError
from factoryos.model.yamlfile import Path_, validation_problems

SECTION = "notify"


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    name: str
    url: str
    secret: bytes
    timeout_s: float


@dataclass(frozen=True, slots=True)
class MqttTarget:
    name: str
    broker: BrokerSettings
    topic: str
    qos: int
    retain: bool
    timeout_s: float


@dataclass(frozen=True, slots=True)
class EmailTarget:
    name: str
    host: str
    port: int
    implicit_tls: bool
    starttls: bool
    sender: str
    to: tuple[str, ...]
    username: str | None
    password: str | None
    timeout_s: float


Target = WebhookTarget | MqttTarget | EmailTarget


@dataclass(frozen=True, slots=True)
class NotifySettings:
    """Everything a :class:`~factoryos.apps.notify.notifier.Notifier` needs."""

    targets: Mapping[str, Target]
    routes: tuple[Route, ...]
    retry: RetryConfig
    max_queued: int
    max_queued_per_channel: int
    max_dedupe_keys: int
    drain_s: float


def _secret(env: Mapping[str, str], variable: str, channel: str, field: str) -> str:
    value = env.get(variable)
    if not value:
        raise NotifyConfigError(
            ("channels", channel, field),
            f"channel {channel}: environment variable {variable} ({field}) is not set",
        )
    return value


def _webhook(name: str, c: WebhookChannel, env: Mapping[str, str]) -> WebhookTarget:
    secret = _secret(env, c.secret_env, name, "secret_env").encode()
    return WebhookTarget(name, c.url, secret, c.timeout_s)


def _mqtt(name: str, c: MqttChannel, env: Mapping[str, str]) -> MqttTarget:
    password = None
    if c.password_env is not None:
        password = _secret(env, c.password_env, name, "password_env")
    try:
        broker = BrokerSettings.from_url(c.broker)
    except ConfigError as exc:
        raise NotifyConfigError(("channels", name, "broker"), f"channel {name}: {exc}") from exc
    broker = replace(broker, password=password, timeout_s=c.timeout_s)
    return MqttTarget(name, broker, c.topic, c.qos, c.retain, c.timeout_s)


def _email(name: str, c: EmailChannel, env: Mapping[str, str]) -> EmailTarget:
    where = ("channels", name, "smtp")
    parts = urlsplit(c.smtp)
    implicit_tls = parts.scheme == "smtps"
    try:
        port = parts.port or (465 if implicit_tls else 25)
    except ValueError as exc:
        raise NotifyConfigError(where, f"channel {name}: SMTP URL {c.smtp!r}: {exc}") from exc
    if not parts.hostname or parts.username or parts.path not in ("", "/"):
        raise NotifyConfigError(where, f"channel {name}: use smtp://host:port or smtps://…")
    password = None
    if c.password_env is not None:
        if not (implicit_tls or c.starttls):
            raise NotifyConfigError(
                ("channels", name, "password_env"),
                f"channel {name}: log in only over starttls: true or smtps://",
            )
        password = _secret(env, c.password_env, name, "password_env")
    return EmailTarget(
        name=name,
        host=parts.hostname,
        port=port,
        implicit_tls=implicit_tls,
        starttls=c.starttls,
        sender=c.sender,
        to=tuple(c.to),
        username=c.username,
        password=password,
        timeout_s=c.timeout_s,
    )


def _target(name: str, channel: object, env: Mapping[str, str]) -> Target:
    if isinstance(channel, WebhookChannel):
        return _webhook(name, channel, env)
    if isinstance(channel, MqttChannel):
        return _mqtt(name, channel, env)
    assert isinstance(channel, EmailChannel)
    return _email(name, channel, env)


def _check_routes(config: NotifyConfig) -> None:
    for i, route in enumerate(config.routes):
        for j, channel in enumerate(route.channels):
            if channel not in config.channels:
                raise NotifyConfigError(
                    ("routes", i, "channels", j),
                    f"route {i}: unknown channel {channel!r} (known: {sorted(config.channels)})",
                )


def resolve(config: NotifyConfig, env: Mapping[str, str] | None = None) -> NotifySettings:
    """Settings from a validated section; ``env`` defaults to the process environment.

    Raises :class:`NotifyConfigError` naming the channel or route.
    """
    env = os.environ if env is None else env
    _check_routes(config)
    targets = {name: _target(name, channel, env) for name, channel in config.channels.items()}
    return NotifySettings(
        targets=targets,
        routes=tuple(config.routes),
        retry=config.retry,
        max_queued=config.max_queued,
        max_queued_per_channel=config.max_queued_per_channel,
        max_dedupe_keys=config.max_dedupe_keys,
        drain_s=config.drain_s,
    )


def _without_kind(loc: Path_) -> Path_:
    """Drop the ``kind`` pydantic puts in the location of a channel's fields
    (``channels.hook.webhook.url``), which is not a path in the file."""
    if len(loc) > 2 and loc[0] == "channels" and loc[2] in CHANNEL_KINDS:
        return (*loc[:2], *loc[3:])
    return loc


def load_notify(apps: AppsFile, env: Mapping[str, str] | None = None) -> NotifySettings | None:
    """The apps file's ``notify:`` section resolved; None without one.

    Every problem is raised as :class:`~factoryos.model.errors.AppsFileError` naming the
    file, the line and the field, like the other sections of the file.
    """
    if SECTION not in apps.data:
        return None
    try:
        config = NotifyConfig.model_validate(apps.data[SECTION])
    except ValidationError as exc:
        problems = validation_problems(exc, apps.lines, base=(SECTION,), fix_loc=_without_kind)
        raise AppsFileError(apps.source, problems) from exc
    try:
        return resolve(config, env)
    except NotifyConfigError as exc:
        raise apps.problem((SECTION, *exc.path), str(exc)) from exc
