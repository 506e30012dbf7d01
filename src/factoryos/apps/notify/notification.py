"""What is notified: one immutable :class:`Notification`, independent of its source."""

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from factoryos.apps.notify.errors import NotifyError

PRIORITIES = {"low": 1, "medium": 2, "high": 3, "urgent": 4}
"""Priority names and their numbers, as in ISA-18.2 (1 low … 4 urgent)."""


@dataclass(frozen=True, slots=True)
class Attachment:
    """A file sent with an e-mail (other channels leave attachments out)."""

    filename: str
    content: bytes
    mime_type: str = "application/octet-stream"

    def __post_init__(self) -> None:
        if not self.filename or any(c in self.filename for c in "\r\n/\\"):
            raise NotifyError(f"attachment filename {self.filename!r}: empty or not a bare name")
        if self.mime_type.count("/") != 1:
            raise NotifyError(f"attachment {self.filename}: MIME type {self.mime_type!r}")


@dataclass(frozen=True, slots=True)
class Notification:
    """One thing to tell people about.

    ``key`` identifies it for de-duplication (e.g. alarm name and transition): the same key
    on the same channel within a route's ``dedupe_s`` is sent once. ``labels`` are what
    routes match on (``equipment``, ``alarm``, ``kind`` …). ``ts_ns`` is ns since the epoch.
    """

    key: str
    source: str
    subject: str
    body: str
    labels: Mapping[str, str] = field(default_factory=dict)
    priority: int = PRIORITIES["medium"]
    ts_ns: int = 0
    attachments: tuple[Attachment, ...] = ()

    def __post_init__(self) -> None:
        if not 1 <= self.priority <= 4:
            raise NotifyError(f"notification {self.key!r}: priority {self.priority} not in 1..4")
        if not self.key or not self.source:
            raise NotifyError(f"notification {self.key!r}: key and source must not be empty")


def iso_ns(ts_ns: int) -> str:
    """``1795507200250000000`` → ``2026-11-24T08:00:00.250000000Z`` (full ns precision)."""
    seconds, nanos = divmod(ts_ns, 1_000_000_000)
    stamp = datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{stamp}.{nanos:09d}Z"


def payload(notification: Notification, event_id: str) -> bytes:
    """The JSON document webhooks and MQTT channels send (attachments are left out)."""
    n = notification
    document = {
        "event_id": event_id,
        "key": n.key,
        "source": n.source,
        "subject": n.subject,
        "body": n.body,
        "labels": dict(n.labels),
        "priority": n.priority,
        "ts": iso_ns(n.ts_ns),
        "ts_ns": n.ts_ns,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=False).encode()
