"""Parsing API parameters (ISO 8601 times, durations) and formatting columns for JSON.

Times cross the API as ISO 8601 with a zone (``Z`` out); inside they are int64 ns UTC.
"""

import time
from typing import Annotated, Literal

import numpy as np
import numpy.typing as npt
from pydantic import AfterValidator, Field

from factoryos.api.errors import BadParameterError
from factoryos.model.timeparse import (
    TimeProblem,
    TimeTextError,
    format_ns,
    format_ns_array,
    parse_duration_ns,
    parse_time_ns,
)

_EXAMPLE = "e.g. 2024-05-01T12:00:00Z"
# The API words the shared parser's problems its own way (its documented messages).
_TIME_PROBLEMS: dict[TimeProblem, str] = {
    "form": f"is not an ISO 8601 time; use {_EXAMPLE}",
    "zone": f"has no time zone; add Z for UTC or an offset, {_EXAMPLE}",
    "range": "is outside the years 1678 to 2261",
}

TIME_TEXT = "ISO 8601 with a zone, e.g. 2025-01-06T06:00:00Z."


def _body_time(value: str) -> str:
    """A time in a request body: checked there, so a bad one is an ordinary 422 naming its
    field."""
    try:
        parse_time_ns(value, now_ns=None)
    except TimeTextError as exc:
        raise ValueError(
            f"not an ISO 8601 time with a zone, e.g. 2025-01-06T06:00:00Z ({exc.problem})"
        ) from exc
    return value


IsoTime = Annotated[str, Field(max_length=64, description=TIME_TEXT), AfterValidator(_body_time)]
"""A request body's time field, kept as its text once checked."""

QualityName = Literal["good", "uncertain", "bad"]
_QUALITY_LABELS = np.array(["good", "uncertain", "bad", "bad"], dtype=object)


def now_ns() -> int:
    return time.time_ns()


def parse_time(value: str, param: str) -> int:
    """An ISO 8601 time with a zone → ns; :class:`BadParameterError` names ``param`` otherwise."""
    try:
        return parse_time_ns(value, now_ns=None)
    except TimeTextError as exc:
        raise BadParameterError(param, f"{value!r} {_TIME_PROBLEMS[exc.problem]}") from exc


def parse_duration(value: str, param: str = "every") -> int:
    """``10s``, ``1m``, ``15m``, ``1h``, ``1d``, ``500ms`` → ns: a whole number above 0."""
    try:
        return parse_duration_ns(value, whole=True)
    except ValueError as exc:
        raise BadParameterError(
            param,
            f"{value!r} is not a duration; use a whole number and a unit "
            "(ms, s, m, h, d), e.g. 10s, 1m, 15m, 1h",
        ) from exc


def iso_times(ts: npt.NDArray[np.int64]) -> list[str]:
    """ns → ISO 8601 strings with Z, at the coarsest of ms/us/ns that loses nothing."""
    return format_ns_array(ts, "exact")


def iso_time(ns: int) -> str:
    return format_ns(ns, "exact")


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
