"""Times and durations as people type them (ISO 8601, ``now``, ``-1h``), and ns → ISO 8601 Z.

One grammar for every caller: one that takes only absolute times passes ``now_ns=None``, one
that counts whole units (bucket widths) passes ``whole=True``.
"""

import re
from datetime import UTC, datetime
from fractions import Fraction
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import numpy.typing as npt

_DURATION_RE = re.compile(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)$")
_UNIT_NS = {
    "ms": 1_000_000,
    "s": 1_000_000_000,
    "m": 60_000_000_000,
    "h": 3_600_000_000_000,
    "d": 86_400_000_000_000,
    "w": 604_800_000_000_000,
}
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_MIN, _NS_MAX = int(np.iinfo(np.int64).min), int(np.iinfo(np.int64).max)
_EXAMPLE = "2026-11-24T08:00:00Z"

TimeProblem = Literal["form", "zone", "range"]
Precision = Literal["ms", "us", "ns", "exact"]


class TimeTextError(ValueError):
    """Text that is not a time; ``problem`` says which rule it breaks, for callers that word
    the error their own way."""

    def __init__(self, message: str, problem: TimeProblem) -> None:
        super().__init__(message)
        self.problem: TimeProblem = problem


def parse_duration_ns(text: str, *, whole: bool = False) -> int:
    """``"15m"`` → nanoseconds. Units: ms, s, m, h, d, w.

    ``whole=True`` accepts only a whole number above 0 of the unit (not ``1.5m``, not ``0s``).
    """
    match = _DURATION_RE.match(text.strip())
    if not match or (whole and not (match[1].isdigit() and int(match[1]) > 0)):
        number = "a whole number above 0" if whole else "a number"
        raise ValueError(f"{text!r} is not a duration: use {number} and ms, s, m, h, d or w (15m)")
    return round(Fraction(match[1]) * _UNIT_NS[match[2]])  # exact: no float rounding


def parse_time_ns(text: str, now_ns: int | None) -> int:
    """``now``, ``-1h`` (relative to now) or ISO 8601 with a zone → ns since the epoch, UTC.

    With ``now_ns=None`` only ISO 8601 is accepted. Raises :class:`TimeTextError`.
    """
    text = text.strip()
    if now_ns is not None and text == "now":
        return now_ns
    if now_ns is not None and text.startswith("-"):
        return now_ns - parse_duration_ns(text[1:])
    forms = f"ISO 8601 ({_EXAMPLE}), now or -1h" if now_ns is not None else f"ISO 8601 ({_EXAMPLE})"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise TimeTextError(f"{text!r} is not a time: use {forms}", "form") from exc
    if moment.tzinfo is None:
        raise TimeTextError(f"{text!r} has no time zone: add Z or an offset such as +08:00", "zone")
    delta = moment - _EPOCH  # exact integer arithmetic, unlike datetime.timestamp()
    ns = (delta.days * 86_400 + delta.seconds) * 1_000_000_000 + delta.microseconds * 1_000
    if not _NS_MIN <= ns <= _NS_MAX:
        raise TimeTextError(f"{text!r} is outside the years 1678 to 2261", "range")
    return ns


def format_ns(ts_ns: int, precision: Precision = "ms") -> str:
    """ns since the epoch → ISO 8601 with Z (millisecond precision unless told otherwise)."""
    return format_ns_array(np.array([ts_ns], dtype=np.int64), precision)[0]


def format_ns_array(ts_ns: npt.NDArray[np.int64], precision: Precision = "ms") -> list[str]:
    """:func:`format_ns` of a whole column in one numpy call (no Python loop per sample).

    Finer digits are cut, not rounded. ``"exact"`` picks the coarsest of ms, us and ns
    that loses nothing, one for the whole column.
    """
    if len(ts_ns) == 0:
        return []
    unit = precision
    if unit == "exact":
        unit = "ms" if not np.any(ts_ns % 10**6) else "us" if not np.any(ts_ns % 10**3) else "ns"
    out: list[str] = np.datetime_as_string(
        ts_ns.astype("datetime64[ns]"), unit=unit, timezone="UTC"
    ).tolist()
    return out


def iana_zone(name: str) -> str:
    """``name`` when it is an IANA time zone; a ValueError naming it otherwise (a pydantic
    validator for the apps file's ``timezone`` fields)."""
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{name!r} is not an IANA time zone (e.g. Europe/Berlin)") from None
    return name
