"""Times and durations as people type them on the command line: ISO 8601, ``now``, ``-1h``."""

import re
from datetime import UTC, datetime

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}


def parse_duration_ns(text: str) -> int:
    """``"15m"`` → nanoseconds. Units: ms, s, m, h, d, w."""
    match = _DURATION_RE.match(text.strip())
    if not match:
        raise ValueError(f"{text!r} is not a duration: use a number and ms, s, m, h, d or w (15m)")
    return round(float(match.group(1)) * _UNIT_NS[match.group(2)])


def parse_time_ns(text: str, now_ns: int) -> int:
    """``now``, ``-1h`` (relative to now) or ISO 8601 with a zone → ns since the epoch, UTC."""
    text = text.strip()
    if text == "now":
        return now_ns
    if text.startswith("-"):
        return now_ns - parse_duration_ns(text[1:])
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ValueError(
            f"{text!r} is not a time: use ISO 8601 (2026-11-24T08:00:00Z), now or -1h"
        ) from exc
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no time zone: add Z or an offset such as +08:00")
    return int(moment.timestamp()) * 1_000_000_000 + moment.microsecond * 1_000


def format_ns(ts_ns: int) -> str:
    """ns since the epoch → ISO 8601 with Z (millisecond precision)."""
    moment = datetime.fromtimestamp(ts_ns / 1e9, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")
