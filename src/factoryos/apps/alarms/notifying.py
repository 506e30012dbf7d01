"""Alarm events as notifications: what the notify package routes and sends.

Labels for routes: ``alarm``, ``equipment``, ``tag``, ``kind`` (activated, cleared …) and the
priority. The de-duplication key is the alarm and the kind of transition, so a route's
``dedupe_s`` stops a chattering alarm from flooding a channel.
"""

from collections.abc import Awaitable, Callable

from factoryos.apps.alarms.processor import AlarmNotice
from factoryos.apps.notify import Notification, Notifier
from factoryos.apps.notify.notification import iso_ns


def notification(notice: AlarmNotice) -> Notification | None:
    """The notification of one alarm event; None for a rule with ``notify: false``."""
    event, info = notice.event, notice.info
    if not info.notify:
        return None
    kind = event.kind.value.replace("_", " ")
    lines = [
        f"{info.name} {kind} at {iso_ns(event.ts)}",
        f"priority: {event.priority.name.lower()}",
        f"equipment: {info.equipment}",
        f"tag: {info.tag}",
    ]
    if event.value is not None:
        lines.append(f"value: {event.value:g}")
    if notice.actor:
        lines.append(f"by: {notice.actor}" + (f" ({notice.comment})" if notice.comment else ""))
    if info.description:
        lines.append(info.description)
    return Notification(
        key=f"{info.name}/{event.kind.value}",
        source="alarm",
        subject=f"[{event.priority.name}] {info.name} {kind}",
        body="\n".join(lines),
        labels={
            "alarm": info.name,
            "equipment": info.equipment,
            "tag": info.tag,
            "kind": event.kind.value,
        },
        priority=int(event.priority),
        ts_ns=event.ts,
    )


def notify_alarms(notifier: Notifier) -> Callable[[AlarmNotice], Awaitable[None]]:
    """The processor's ``on_event``: every alarm event handed to ``notifier`` (never waits)."""

    async def on_event(notice: AlarmNotice) -> None:
        found = notification(notice)
        if found is not None:
            notifier.submit(found)

    return on_event
