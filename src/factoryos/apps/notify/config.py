"""The ``notify:`` section of the apps file, as strict pydantic models.

These models check the shape of the section; :mod:`factoryos.apps.notify.settings` then
resolves what depends on more than one field or on the environment (channel references,
secrets, broker and SMTP addresses).
"""

import string
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    model_validator,
)

from factoryos.apps.notify.notification import PRIORITIES

MAX_CHANNELS = 100
MAX_ROUTES = 1_000
MAX_RECIPIENTS = 100
MAX_DEDUPE_S = 7 * 86_400.0  # a week: longer is a configuration mistake, not a window

ChannelName = Annotated[str, Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]
LabelName = Annotated[str, Field(pattern=r"^[a-z_][a-z0-9_]{0,63}$")]
Glob = Annotated[str, Field(min_length=1, max_length=256)]
Timeout = Annotated[float, Field(gt=0.0, le=120.0, allow_inf_nan=False)]
Address = Annotated[str, Field(pattern=r"^[^\s@<>,;]{1,64}@[^\s@<>,;]{1,190}$")]


def _priority(raw: object) -> object:
    """``low``…``urgent`` or 1…4."""
    if isinstance(raw, str) and raw.lower() in PRIORITIES:
        return PRIORITIES[raw.lower()]
    if isinstance(raw, int) and not isinstance(raw, bool) and 1 <= raw <= 4:
        return raw
    raise ValueError(f"priority must be low, medium, high, urgent or 1..4, not {raw!r}")


def _topic_template(template: str) -> str:
    """Placeholders are bare label names; the fixed parts hold no MQTT wildcard."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as exc:
        raise ValueError(f"topic template {template!r}: {exc}") from exc
    for literal, name, spec, conversion in parts:
        if "+" in literal or "#" in literal:
            raise ValueError("a topic to publish to cannot hold the wildcards + or #")
        if name is not None and (
            spec or conversion or not name.isidentifier() or name != name.lower()
        ):
            raise ValueError(f"placeholder {{{name}}}: use a bare label name such as {{equipment}}")
    return template


PriorityValue = Annotated[int, BeforeValidator(_priority)]
TopicTemplate = Annotated[str, Field(min_length=1, max_length=256), AfterValidator(_topic_template)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


class WebhookChannel(_Strict):
    """POST the notification as JSON, signed with the secret in ``secret_env``."""

    kind: Literal["webhook"]
    url: str = Field(pattern=r"^https?://[^\s]+$", max_length=2048)
    secret_env: EnvName
    timeout_s: Timeout = 5.0


class MqttChannel(_Strict):
    """Publish the notification as JSON to a topic filled from its labels."""

    kind: Literal["mqtt"]
    broker: str = Field(min_length=1, max_length=512)
    topic: TopicTemplate
    qos: Literal[0, 1, 2] = 1
    retain: bool = False
    password_env: EnvName | None = None
    timeout_s: Timeout = 5.0


class EmailChannel(_Strict):
    """Send an e-mail (with the attachments) through an SMTP server."""

    kind: Literal["email"]
    smtp: str = Field(pattern=r"^smtps?://[^\s]+$", max_length=512)
    sender: Address
    to: list[Address] = Field(min_length=1, max_length=MAX_RECIPIENTS)
    starttls: bool = False
    username: str | None = Field(default=None, min_length=1, max_length=256)
    password_env: EnvName | None = None
    timeout_s: Timeout = 10.0

    @model_validator(mode="after")
    def _login_pair(self) -> "EmailChannel":
        if (self.username is None) != (self.password_env is None):
            raise ValueError("give both username and password_env, or neither")
        return self


CHANNEL_KINDS = frozenset({"webhook", "mqtt", "email"})
Channel = Annotated[WebhookChannel | MqttChannel | EmailChannel, Field(discriminator="kind")]


class RouteMatch(_Strict):
    """What a route accepts. ``source`` and every label are shell-style globs (``*``, ``?``,
    ``[…]``; ``*`` also matches ``/``); a label named here must be present. Every key other
    than ``source`` and ``priority_min`` names a label."""

    source: Glob | None = None
    priority_min: PriorityValue = 1
    labels: dict[LabelName, Glob] = Field(default_factory=dict, max_length=32)

    @model_validator(mode="before")
    @classmethod
    def _labels_inline(cls, data: Any) -> Any:
        if not isinstance(data, dict) or "labels" in data:
            return data
        fixed = {k: v for k, v in data.items() if k in ("source", "priority_min")}
        return {**fixed, "labels": {k: v for k, v in data.items() if k not in fixed}}


class Route(_Strict):
    """Notifications the ``match`` accepts go to ``channels``; the same key on the same
    channel within ``dedupe_s`` is sent once (0: every time)."""

    match: RouteMatch = Field(default_factory=RouteMatch)
    channels: list[ChannelName] = Field(min_length=1, max_length=MAX_CHANNELS)
    dedupe_s: Annotated[float, Field(ge=0.0, le=MAX_DEDUPE_S, allow_inf_nan=False)] = 0.0


class RetryConfig(_Strict):
    """Attempts per delivery and the exponential back-off between them."""

    max_attempts: int = Field(default=4, ge=1, le=20)
    backoff_first_s: float = Field(default=1.0, gt=0.0, le=60.0, allow_inf_nan=False)
    backoff_max_s: float = Field(default=30.0, gt=0.0, le=3600.0, allow_inf_nan=False)

    @model_validator(mode="after")
    def _ordered(self) -> "RetryConfig":
        if self.backoff_first_s > self.backoff_max_s:
            raise ValueError("backoff_first_s must not exceed backoff_max_s")
        return self


class NotifyConfig(_Strict):
    """The ``notify:`` section."""

    channels: dict[ChannelName, Channel] = Field(min_length=1, max_length=MAX_CHANNELS)
    routes: list[Route] = Field(default_factory=list, max_length=MAX_ROUTES)
    retry: RetryConfig = Field(default_factory=RetryConfig)
    max_queued: int = Field(default=1_000, ge=1, le=100_000)
    max_queued_per_channel: int = Field(default=1_000, ge=1, le=100_000)
    max_dedupe_keys: int = Field(default=100_000, ge=1, le=10_000_000)
    drain_s: float = Field(default=10.0, ge=0.0, le=600.0, allow_inf_nan=False)
