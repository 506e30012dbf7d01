"""Which channels a notification goes to (pure)."""

from collections.abc import Iterable
from fnmatch import fnmatchcase

from factoryos.apps.notify.config import Route, RouteMatch
from factoryos.apps.notify.notification import Notification


def matches(match: RouteMatch, notification: Notification) -> bool:
    """Whether ``match`` accepts ``notification``: source and every named label match their
    globs (case-sensitive) and the priority is at least ``priority_min``."""
    if notification.priority < match.priority_min:
        return False
    if match.source is not None and not fnmatchcase(notification.source, match.source):
        return False
    labels = notification.labels
    return all(
        name in labels and fnmatchcase(labels[name], glob) for name, glob in match.labels.items()
    )


def route(notification: Notification, routes: Iterable[Route]) -> dict[str, float]:
    """The channels of every route that accepts ``notification``, each with its
    de-duplication window in seconds.

    A channel named by several accepting routes gets the longest of their windows: a
    notification one route wants de-duplicated is not repeated because another matched too.
    """
    channels: dict[str, float] = {}
    for r in routes:
        if matches(r.match, notification):
            for channel in r.channels:
                channels[channel] = max(r.dedupe_s, channels.get(channel, 0.0))
    return channels
