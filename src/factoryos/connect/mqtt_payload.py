"""The MQTT JSON payload format: bytes of one message → raw samples of the tags on its topic.

A payload is a JSON object, or an array of objects (a batch). For each object and each tag on
the topic, the tag's JSON paths pick out:

- value: a number or a bool (true → 1.0); ``null`` means the source has no value (BAD, NaN);
- timestamp (optional): ISO 8601 text with a zone, or epoch milliseconds (a number);
  absent → the time the message arrived;
- quality (optional): ``"good"``, ``"uncertain"``, ``"bad"`` (any case) or an OPC UA
  StatusCode integer; absent → good. A bad quality makes the value NaN whatever it was.

Pure functions: :func:`decode` never raises, it returns the samples it could read and a
:class:`PayloadError` for each problem; one bad tag does not spoil the others.
"""

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NoReturn

from factoryos.connect.errors import PayloadError
from factoryos.connect.jsonpath import Step, compile_path, lookup, render
from factoryos.model.quality import Quality
from factoryos.model.tags import MqttAddress
from factoryos.model.timeparse import TimeTextError, parse_time_ns

_NS_MIN, _NS_MAX = -(2**63), 2**63 - 1
_QUALITY_WORDS = {"good": Quality.GOOD, "uncertain": Quality.UNCERTAIN, "bad": Quality.BAD}
# The top two bits of an OPC UA StatusCode: 00 good, 01 uncertain, 10 bad (11 reserved: bad).
_STATUS_CLASSES = (Quality.GOOD, Quality.UNCERTAIN, Quality.BAD, Quality.BAD)


class Reason(StrEnum):
    """Why a message, or one tag's sample of it, was not used."""

    OVERSIZED = "oversized"  # payload longer than the device's max_payload_bytes
    NOT_JSON = "not_json"  # not UTF-8 JSON (NaN and Infinity are not JSON either)
    NOT_OBJECT = "not_object"  # neither an object nor an array of objects
    MISSING = "missing"  # the value's JSON path is not in the payload
    WRONG_TYPE = "wrong_type"  # value, timestamp or quality of the wrong JSON type
    BAD_TIME = "bad_time"  # timestamp text that is not ISO 8601 with a zone, or out of range
    NOT_FINITE = "not_finite"  # a number too large for a float64 (before or after scaling)
    UNKNOWN_TOPIC = "unknown_topic"  # a message on a topic no tag reads


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Where one point's value, time and quality sit in a payload of its topic."""

    point: int
    value: tuple[Step, ...]
    timestamp: tuple[Step, ...] | None
    quality: tuple[Step, ...] | None

    @classmethod
    def of(cls, point: int, address: MqttAddress) -> "FieldMap":
        """Compile the address's paths; :class:`ConfigError` for a path outside the subset."""
        return cls(
            point,
            compile_path(address.value),
            None if address.timestamp is None else compile_path(address.timestamp),
            None if address.quality is None else compile_path(address.quality),
        )


@dataclass(slots=True)
class Decoded:
    """Raw samples read from one payload (aligned lists) and the problems met."""

    points: list[int] = field(default_factory=list)
    ts: list[int] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    quality: list[int] = field(default_factory=list)
    problems: list[PayloadError] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.points)


def decode(payload: bytes, fields: Sequence[FieldMap], received_ns: int, max_bytes: int) -> Decoded:
    """The samples of every field of every object in ``payload``; never raises."""
    out = Decoded()
    try:
        objects = parse(payload, max_bytes)
    except PayloadError as exc:
        out.problems.append(exc)
        return out
    for i, obj in enumerate(objects):
        if not isinstance(obj, dict):
            out.problems.append(
                PayloadError(
                    Reason.NOT_OBJECT, f"element [{i}] is {_json_type(obj)}, not an object"
                )
            )
            continue
        for f in fields:
            try:
                ts, value, quality = read_sample(obj, f, received_ns)
            except PayloadError as exc:
                out.problems.append(exc)
                continue
            out.points.append(f.point)
            out.ts.append(ts)
            out.values.append(value)
            out.quality.append(quality)
    return out


def parse(payload: bytes, max_bytes: int) -> list[Any]:
    """The objects of a payload (one, or each element of an array)."""
    if len(payload) > max_bytes:
        raise PayloadError(
            Reason.OVERSIZED,
            f"payload of {len(payload)} bytes exceeds max_payload_bytes {max_bytes}",
        )
    try:
        document = json.loads(payload, parse_constant=_no_constant)
    except PayloadError:
        raise
    except (ValueError, RecursionError) as exc:
        # ValueError covers bad UTF-8, bad JSON and integers too long to convert;
        # RecursionError a payload nested deeper than the parser goes.
        raise PayloadError(Reason.NOT_JSON, f"payload is not JSON: {_short(exc)}") from exc
    if isinstance(document, dict):
        return [document]
    if isinstance(document, list):
        return document
    raise PayloadError(
        Reason.NOT_OBJECT, f"payload is {_json_type(document)}, not an object or array"
    )


def read_sample(obj: dict[str, Any], f: FieldMap, received_ns: int) -> tuple[int, float, int]:
    """(time ns, raw value, quality) of one field in one object."""
    quality = _quality(_optional(obj, f.quality))
    ts = (
        received_ns if f.timestamp is None else _timestamp(_optional(obj, f.timestamp), received_ns)
    )
    if quality == Quality.BAD:
        return ts, math.nan, Quality.BAD
    raw = lookup(obj, f.value)
    if raw is None:
        return ts, math.nan, Quality.BAD
    return ts, _number(raw, f.value), int(quality)


def _optional(obj: dict[str, Any], steps: tuple[Step, ...] | None) -> Any:
    if steps is None:
        return None
    try:
        return lookup(obj, steps)
    except PayloadError:
        return None


def _number(raw: Any, steps: tuple[Step, ...]) -> float:
    if isinstance(raw, bool):
        return 1.0 if raw else 0.0
    if not isinstance(raw, int | float):
        _wrong(f"value {render(steps)} is {_json_type(raw)}, not a number or bool")
    try:
        value = float(raw)
    except OverflowError:
        value = math.inf
    if not math.isfinite(value):
        raise PayloadError(Reason.NOT_FINITE, f"value {render(steps)} does not fit a float64")
    return value


def _quality(raw: Any) -> Quality:
    if raw is None:
        return Quality.GOOD
    if isinstance(raw, str) and raw.lower() in _QUALITY_WORDS:
        return _QUALITY_WORDS[raw.lower()]
    if isinstance(raw, int) and not isinstance(raw, bool) and 0 <= raw <= 0xFFFF_FFFF:
        return _STATUS_CLASSES[raw >> 30]
    _wrong(f"quality {_short(raw)} is not good, uncertain, bad or an OPC UA StatusCode (0..2^32-1)")


def _timestamp(raw: Any, received_ns: int) -> int:
    if raw is None:
        return received_ns
    if isinstance(raw, str):
        try:
            return parse_time_ns(raw, None)
        except TimeTextError as exc:
            raise PayloadError(Reason.BAD_TIME, f"timestamp {exc}") from exc
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        _wrong(f"timestamp is {_json_type(raw)}: use ISO 8601 text or epoch milliseconds")
    ns = raw * 1_000_000 if isinstance(raw, int) else raw * 1e6
    if not (isinstance(ns, int) or math.isfinite(ns)) or not _NS_MIN <= ns <= _NS_MAX:
        raise PayloadError(Reason.BAD_TIME, f"timestamp {_short(raw)} ms is out of range")
    return round(ns)


def _no_constant(name: str) -> NoReturn:
    raise PayloadError(Reason.NOT_JSON, f"{name} is not JSON: send null for a missing value")


def _wrong(message: str) -> NoReturn:
    raise PayloadError(Reason.WRONG_TYPE, message)


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a bool"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    return "an object"


def _short(value: object, limit: int = 60) -> str:
    text = repr(value) if not isinstance(value, BaseException) else str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"
