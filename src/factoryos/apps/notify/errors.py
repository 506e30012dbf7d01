"""The notify package's exceptions: one root, each naming the channel, route or field."""

from factoryos.errors import FactoryOSError


class NotifyError(FactoryOSError):
    """Base of every notification error."""


class NotifyConfigError(NotifyError):
    """The ``notify:`` configuration is valid YAML of the right shape but cannot be used
    (an unknown channel, a missing environment variable …).

    ``path`` locates the value in the section (``("routes", 0, "channels", 1)``) so a loader
    can name its line.
    """

    def __init__(self, path: tuple[str | int, ...], message: str) -> None:
        super().__init__(message)
        self.path = path


class DeliveryError(NotifyError):
    """A channel could not deliver a notification; the message names the channel.

    ``retryable`` is False for answers that another attempt cannot change (an HTTP 400, a
    refused recipient): such a delivery fails at once instead of using up the retries.
    """

    def __init__(self, channel: str, message: str, *, retryable: bool = True) -> None:
        super().__init__(f"channel {channel}: {message}")
        self.channel = channel
        self.retryable = retryable


class SignatureError(NotifyError):
    """A webhook request's signature header is malformed, expired or does not match."""
