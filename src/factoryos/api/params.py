"""Parsing API parameters (ISO 8601 times, durations) and formatting columns for JSON.

Times cross the API as ISO 8601 with a zone (``Z`` out); inside they are int64 ns UTC.
"""

import re
import time
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import numpy.typing as npt

from factoryos.api.errors import BadParameterError

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NS_MIN = np.iinfo(np.int64).min
_NS_MAX = np.iinfo(np.int64).max
_EXAMPLE = "e.g. 2024-05-01T12:00:00Z"

_DURATION_RE = re.compile(r"(?P<n>[1-9][0-9]{0,8})(?P<unit>ms|s|m|h|d)")
_UNIT_NS = {"ms": 10**6, "s": 10**9, "m": 60 * 10**9, "h": 3600 * 10**9, "d": 86400 * 10**9}

QualityName = Literal["good", "uncertain", "bad"]
_QUALITY_LABELS = np.array(["good", "uncertain", "bad", "bad"], dtype=object)


def now_ns() -> int:
    return time.time_ns()


def datetime_to_ns(dt: datetime) -> int:
    """Exact ns since the epoch of an aware datetime (no float rounding)."""
    delta = dt - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1_000


def parse_time(value: str, param: str) -> int:
    """An ISO 8601 time with a zone → ns; :class:`BadParameterError` names ``param`` otherwise."""
    try:
        dt = datetime.fromisoformat(value)
    except ValueError as exc:
        raise BadParameterError(
            param, f"{value!r} is not an ISO 8601 time; use {_EXAMPLE}"
        ) from exc
    if dt.tzinfo is None:
        raise BadParameterError(
            param, f"{value!r} has no time zone; add Z for UTC or an offset, {_EXAMPLE}"
        )
    ns = datetime_to_ns(dt)
    if not _NS_MIN <= ns <= _NS_MAX:
        raise BadParameterError(param, f"{value!r} is outside the years 1678 to 2261")
    return ns


def parse_duration(value: str, param: str = "every") -> int:
    """``10s``, ``1m``, ``15m``, ``1h``, ``1d``, ``500ms`` → ns; nothing else is accepted."""
    m = _DURATION_RE.fullmatch(value)
    if m is None:
        raise BadParameterError(
            param,
            f"{value!r} is not a duration; use a whole number and a unit "
            "(ms, s, m, h, d), e.g. 10s, 1m, 15m, 1h",
        )
    return int(m["n"]) * _UNIT_NS[m["unit"]]


def iso_times(ts: npt.NDArray[np.int64]) -> list[str]:
    """ns → ISO 8601 strings with Z, at the coarsest of ms/us/ns that loses nothing."""
    if len(ts) == 0:
        return []
    unit: Literal["ms", "us", "ns"] = (
        "ms" if not np.any(ts % 10**6) else "us" if not np.any(ts % 10**3) else "ns"
    )
    out: list[str] = np.datetime_as_string(
        ts.astype("datetime64[ns]"), unit=unit, timezone="UTC"
    ).tolist()
    return out


def iso_time(ns: int) -> str:
    return iso_times(np.array([ns], dtype=np.int64))[0]


def json_values(values: npt.NDArray[np.float64]) -> list[float | None]:
    """Floats for JSON: NaN and ±inf (bad samples) become null."""
    out = values.astype(object)
    out[~np.isfinite(values)] = None
    result: list[float | None] = out.tolist()
    return result


def quality_labels(quality: npt.NDArray[np.uint8]) -> list[QualityName]:
    """OPC UA status classes as words: good, uncertain, bad."""
    labels: list[QualityName] = _QUALITY_LABELS[(quality >> 6) & 3].tolist()
    return labels
