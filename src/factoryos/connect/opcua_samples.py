"""OPC UA values ↔ numbers: data change notifications to columns, and a raw value to the
variant a write sends.

asyncua hands over one object per notification; :func:`decode` turns a whole publish
response into numpy columns (client handle, time, value, status) in one pass, and
everything after that (quality, scaling) is vectorised. :func:`to_variant` is the other
direction, one value at a time: a setpoint in the node's own type.
"""

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np
import numpy.typing as npt
from asyncua import ua
from asyncua.ua.status_codes import StatusCodes

from factoryos.connect.errors import CodecError
from factoryos.model.quality import QUALITY_DTYPE, Quality

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)
_NO_TIME = datetime(1601, 1, 1, tzinfo=UTC)  # OPC UA DateTime 0: "no timestamp"
_INTEGERS: dict[ua.VariantType, type[np.integer]] = {
    ua.VariantType.SByte: np.int8,
    ua.VariantType.Byte: np.uint8,
    ua.VariantType.Int16: np.int16,
    ua.VariantType.UInt16: np.uint16,
    ua.VariantType.Int32: np.int32,
    ua.VariantType.UInt32: np.uint32,
    ua.VariantType.Int64: np.int64,
    ua.VariantType.UInt64: np.uint64,
}
_FLOAT32_MAX = float(np.finfo(np.float32).max)


@dataclass(frozen=True, slots=True)
class Notifications:
    """Aligned columns of the data changes of one publish response."""

    handles: npt.NDArray[np.int64]
    ts: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]  # NaN where the value is not a number
    status: npt.NDArray[np.uint32]

    def __len__(self) -> int:
        return len(self.handles)


def datetime_ns(dt: datetime | None) -> int | None:
    """ns since the epoch of an OPC UA timestamp; None when absent (or DateTime 0)."""
    if dt is None:
        return None
    if dt.tzinfo is None:  # asyncua gives aware datetimes; a naive one is UTC too
        dt = dt.replace(tzinfo=UTC)
    if dt <= _NO_TIME:
        return None
    return (dt - _EPOCH) // _MICROSECOND * 1000


def _number(value: object) -> float:
    # bool is an int: True → 1.0. Strings, arrays and structures are not numbers.
    if isinstance(value, int | float):
        return float(value)
    return float("nan")


def decode(items: Sequence[ua.MonitoredItemNotification], fallback_ns: int) -> Notifications:
    """Columns of ``items``; the time of a value is its source timestamp, else its server
    timestamp, else ``fallback_ns`` (the receive time)."""
    n = len(items)
    handles = np.empty(n, dtype=np.int64)
    ts = np.empty(n, dtype=np.int64)
    values = np.empty(n, dtype=np.float64)
    status = np.empty(n, dtype=np.uint32)
    for i, item in enumerate(items):
        dv = item.Value
        handles[i] = item.ClientHandle
        if dv is None:
            ts[i], values[i], status[i] = fallback_ns, np.nan, StatusCodes.BadNoData
            continue
        stamp = datetime_ns(dv.SourceTimestamp) or datetime_ns(dv.ServerTimestamp)
        ts[i] = fallback_ns if stamp is None else stamp
        values[i] = _number(dv.Value.Value if dv.Value is not None else None)
        status[i] = dv.StatusCode.value if dv.StatusCode is not None else 0
    return Notifications(handles, ts, values, status)


def quality_of(status: npt.NDArray[np.uint32]) -> npt.NDArray[np.uint8]:
    """The quality class of OPC UA status codes: the top two bits (00 good, 01 uncertain,
    10 bad; 11 is reserved and counts as bad)."""
    severity = ((status >> np.uint32(24)) & np.uint32(0xC0)).astype(QUALITY_DTYPE)
    return np.minimum(severity, QUALITY_DTYPE(Quality.BAD))


def to_variant(raw: float, vtype: ua.VariantType) -> tuple[ua.Variant, float]:
    """The variant that writes ``raw`` to a node of built-in type ``vtype``, and the raw
    value the node then holds (integers round to nearest, Float to float32).

    ``Variant`` (a node typed BaseDataType or Number) takes a Double. Raises
    :class:`CodecError` for a value the type cannot hold, or a type that holds no number.
    """
    if not math.isfinite(raw):
        raise CodecError(f"{raw} is not a number a node can hold")
    if vtype == ua.VariantType.Boolean:
        if raw not in (0.0, 1.0):
            raise CodecError(f"a Boolean node takes 0 or 1, not {raw}")
        return ua.Variant(raw == 1.0, vtype), raw
    integer = _INTEGERS.get(vtype)
    if integer is not None:
        low, high = np.iinfo(integer).min, np.iinfo(integer).max
        held = float(np.rint(raw))
        if not low <= held <= high:
            raise CodecError(f"{raw} does not fit the node's type {vtype.name} ({low}..{high})")
        return ua.Variant(int(held), vtype), held
    if vtype == ua.VariantType.Float:
        if abs(raw) > _FLOAT32_MAX:
            raise CodecError(f"{raw} does not fit the node's type Float (float32)")
        held = float(np.float32(raw))
        return ua.Variant(held, vtype), held
    if vtype in (ua.VariantType.Double, ua.VariantType.Variant):
        return ua.Variant(raw, ua.VariantType.Double), raw
    raise CodecError(f"the node's type {vtype.name} holds no number")
