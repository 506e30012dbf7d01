"""Sparkplug B protobuf payloads to and from FactoryOS columns.

Values become float64: integers (signed ones are two's complement in ``int_value`` /
``long_value``), Float, Double, Boolean (1.0 / 0.0), DateTime (ms since the epoch) and String
holding a number. Anything else (no value, ``is_null``, bytes, DataSet, Template, a string
that is not a number, NaN/inf) reads as NaN with BAD quality.

Quality travels as the metric property ``Quality`` holding an OPC DA quality code (192 good,
64 uncertain, 0 bad, the convention Ignition uses). The edge node writes it only for samples
that are not GOOD; a BAD sample is also sent with ``is_null``. Timestamps are milliseconds;
nanoseconds are cut to whole milliseconds on the way out.
"""

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import IntEnum

import numpy as np
import numpy.typing as npt
from google.protobuf.message import DecodeError

from factoryos.connect.sparkplug_b import sparkplug_b_pb2 as pb
from factoryos.connect.sparkplug_b.errors import SparkplugDecodeError, SparkplugEncodeError
from factoryos.model.quality import QUALITY_DTYPE, Quality

Payload = pb.Payload
Metric = pb.Payload.Metric

BDSEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"
QUALITY = "Quality"
UNIT = "engUnit"
MAX_TS_MS = (2**63 - 1) // 1_000_000  # the latest millisecond time whose ns fit an int64

Key = int | str
"""How a DATA metric names its BIRTH metric: the alias if it has one, else the name."""


class DataType(IntEnum):
    """The scalar Sparkplug B data types (``DataType`` of the schema)."""

    UNKNOWN = 0
    INT8 = 1
    INT16 = 2
    INT32 = 3
    INT64 = 4
    UINT8 = 5
    UINT16 = 6
    UINT32 = 7
    UINT64 = 8
    FLOAT = 9
    DOUBLE = 10
    BOOLEAN = 11
    STRING = 12
    DATETIME = 13
    TEXT = 14


_SIGNED_BITS: dict[int, int] = {
    DataType.INT8: 8,
    DataType.INT16: 16,
    DataType.INT32: 32,
    DataType.INT64: 64,
}
_GOOD, _BAD = int(Quality.GOOD), int(Quality.BAD)  # plain ints: quicker into numpy
_OPC_DA = {Quality.GOOD: 192, Quality.UNCERTAIN: 64, Quality.BAD: 0}


def decode_payload(data: bytes) -> pb.Payload:
    """Parse a Sparkplug B payload; :class:`SparkplugDecodeError` for anything else."""
    payload = pb.Payload()
    try:
        payload.ParseFromString(data)
    except DecodeError as exc:
        raise SparkplugDecodeError(f"not a Sparkplug B payload ({len(data)} bytes): {exc}") from exc
    return payload


# -- reading --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Known:
    """A metric declared in a BIRTH: the point it feeds (-1: none) and its data type."""

    slot: int
    datatype: int


@dataclass(frozen=True, slots=True)
class MetricColumns:
    """The samples of one payload's metrics that feed points, as columns."""

    slots: npt.NDArray[np.intp]
    ts_ms: npt.NDArray[np.int64]
    values: npt.NDArray[np.float64]
    quality: npt.NDArray[np.uint8]
    unknown: int  # metrics whose alias or name no BIRTH declared
    first_unknown: Key | None


def birth_index(payload: pb.Payload, slot_of: Mapping[str, int]) -> dict[Key, Known]:
    """Each metric a BIRTH declares, by name and by alias, with the point slot its name maps
    to in ``slot_of`` (-1 when no point reads it)."""
    index: dict[Key, Known] = {}
    for metric in payload.metrics:
        if not metric.name:
            continue
        known = Known(slot_of.get(metric.name, -1), metric.datatype)
        index[metric.name] = known
        if metric.HasField("alias"):
            index[metric.alias] = known
    return index


def read_metrics(
    payload: pb.Payload, index: Mapping[Key, Known], default_ts_ms: int
) -> MetricColumns:
    """The samples of the metrics that ``index`` maps to a slot. A metric's time is its own
    timestamp, else ``default_ts_ms``; a timestamp too large for int64 ns counts as absent."""
    slots: list[int] = []
    times: list[int] = []
    values: list[float] = []
    quality: list[int] = []
    unknown = 0
    first: Key | None = None
    lookup = index.get
    for metric in payload.metrics:
        has = metric.HasField
        key: Key = metric.alias if has("alias") else metric.name
        known = lookup(key)
        if known is None:
            unknown += 1
            first = key if first is None else first
            continue
        if known.slot < 0:
            continue
        if metric.WhichOneof("value") == "double_value" and not (
            metric.is_null or has("properties")
        ):
            value, q = metric.double_value, _GOOD  # the common case, kept short
            if not math.isfinite(value):
                value, q = math.nan, _BAD
        else:
            value, q = metric_value(metric, known.datatype)
        ts = metric.timestamp
        slots.append(known.slot)
        times.append(ts if metric.HasField("timestamp") and ts <= MAX_TS_MS else default_ts_ms)
        values.append(value)
        quality.append(q)
    return MetricColumns(
        np.array(slots, dtype=np.intp),
        np.array(times, dtype=np.int64),
        np.array(values, dtype=np.float64),
        np.array(quality, dtype=QUALITY_DTYPE),
        unknown,
        first,
    )


def metric_value(metric: pb.Payload.Metric, datatype: int) -> tuple[float, Quality]:
    """The metric's value as a float and its quality; ``datatype`` is the BIRTH's (DATA
    messages may leave it out), used to read signed integers."""
    if metric.is_null:
        return math.nan, Quality.BAD
    value = _number(metric, datatype or metric.datatype)
    if not math.isfinite(value):
        return math.nan, Quality.BAD
    if metric.HasField("properties"):
        return value, _quality_property(metric.properties)
    return value, Quality.GOOD


def _number(metric: pb.Payload.Metric, datatype: int) -> float:
    kind = metric.WhichOneof("value")
    if kind == "double_value":
        return metric.double_value
    if kind == "float_value":
        return metric.float_value
    if kind == "int_value" or kind == "long_value":
        raw: int = getattr(metric, kind)
        bits = _SIGNED_BITS.get(datatype)
        if bits is not None:
            raw &= (1 << bits) - 1
            raw -= (raw >> (bits - 1)) << bits  # two's complement: top bit set → negative
        return float(raw)
    if kind == "boolean_value":
        return 1.0 if metric.boolean_value else 0.0
    if kind == "string_value":
        try:
            return float(metric.string_value)
        except (ValueError, TypeError):  # not a number; TypeError: invalid UTF-8 read as bytes
            return math.nan
    return math.nan


def _quality_property(properties: pb.Payload.PropertySet) -> Quality:
    for key, value in zip(properties.keys, properties.values, strict=False):
        if key != QUALITY:
            continue
        kind = value.WhichOneof("value")
        if kind not in ("int_value", "long_value"):
            return Quality.BAD
        code = int(getattr(value, kind)) & 0xC0
        return Quality.GOOD if code == 0xC0 else Quality.UNCERTAIN if code == 0x40 else Quality.BAD
    return Quality.GOOD


def bdseq_of(payload: pb.Payload) -> int | None:
    """The ``bdSeq`` metric's value, if the payload has one with an integer value."""
    for metric in payload.metrics:
        if metric.name == BDSEQ:
            kind = metric.WhichOneof("value")
            if kind in ("int_value", "long_value"):
                return int(getattr(metric, kind))
            return None
    return None


def asks_rebirth(payload: pb.Payload) -> bool:
    """Whether an NCMD payload asks for a rebirth (``Node Control/Rebirth`` = true)."""
    return any(m.name == REBIRTH and m.boolean_value for m in payload.metrics)


# -- writing --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MetricDef:
    """A metric as an edge node declares it in a BIRTH (always Double)."""

    name: str
    alias: int
    unit: str = ""


def encode_birth(
    *,
    ts_ms: int,
    seq: int,
    defs: Sequence[MetricDef],
    values: npt.NDArray[np.float64],
    ts_ms_col: npt.NDArray[np.int64],
    quality: npt.NDArray[np.uint8],
    bdseq: int | None = None,
) -> bytes:
    """An NBIRTH (give ``bdseq``: adds ``bdSeq`` and ``Node Control/Rebirth``) or DBIRTH
    declaring ``defs`` with their current values."""
    _check_seq(seq)
    payload = pb.Payload()
    payload.timestamp = ts_ms
    payload.seq = seq
    if bdseq is not None:
        _check_seq(bdseq)
        _control(payload.metrics.add(), BDSEQ, ts_ms, DataType.INT64).long_value = bdseq
        _control(payload.metrics.add(), REBIRTH, ts_ms, DataType.BOOLEAN).boolean_value = False
    rows = zip(defs, values.tolist(), ts_ms_col.tolist(), quality.tolist(), strict=True)
    try:
        for d, value, ts, q in rows:
            metric = _control(payload.metrics.add(), d.name, ts, DataType.DOUBLE)
            metric.alias = d.alias
            _set_value(metric, value, q)
            if d.unit:
                _property(metric, UNIT).string_value = d.unit
    except ValueError as exc:  # a negative alias or time: protobuf refuses it
        raise SparkplugEncodeError(f"cannot encode BIRTH metric: {exc}") from exc
    return payload.SerializeToString()


def encode_data(
    *,
    ts_ms: int,
    seq: int,
    aliases: npt.NDArray[np.int64],
    ts_ms_col: npt.NDArray[np.int64],
    values: npt.NDArray[np.float64],
    quality: npt.NDArray[np.uint8],
) -> bytes:
    """An NDATA or DDATA payload: one metric per sample, by alias, each with its own time.
    The hot path of the edge node: good finite samples take the short branch."""
    _check_seq(seq)
    payload = pb.Payload()
    payload.timestamp = ts_ms
    payload.seq = seq
    add = payload.metrics.add
    plain = (quality == Quality.GOOD) & np.isfinite(values)
    rows = zip(aliases.tolist(), ts_ms_col.tolist(), values.tolist(), plain.tolist(), strict=True)
    try:
        for i, (alias, ts, value, ok) in enumerate(rows):
            metric = add()
            metric.alias = alias
            metric.timestamp = ts
            if ok:
                metric.double_value = value
            else:
                _set_value(metric, value, int(quality[i]))
    except ValueError as exc:
        raise SparkplugEncodeError(f"cannot encode DATA metric: {exc}") from exc
    return payload.SerializeToString()


def encode_node_death(*, ts_ms: int, bdseq: int) -> bytes:
    """An NDEATH: only the ``bdSeq`` metric, no seq."""
    _check_seq(bdseq)
    payload = pb.Payload()
    payload.timestamp = ts_ms
    _control(payload.metrics.add(), BDSEQ, ts_ms, DataType.INT64).long_value = bdseq
    return payload.SerializeToString()


def encode_device_death(*, ts_ms: int, seq: int) -> bytes:
    """A DDEATH: a seq and no metrics."""
    _check_seq(seq)
    payload = pb.Payload()
    payload.timestamp = ts_ms
    payload.seq = seq
    return payload.SerializeToString()


def encode_rebirth_request(*, ts_ms: int) -> bytes:
    """The NCMD a host sends to ask an edge node for a new NBIRTH."""
    payload = pb.Payload()
    payload.timestamp = ts_ms
    _control(payload.metrics.add(), REBIRTH, ts_ms, DataType.BOOLEAN).boolean_value = True
    return payload.SerializeToString()


def _check_seq(value: int) -> None:
    if not 0 <= value <= 255:
        raise SparkplugEncodeError(f"seq and bdSeq run 0..255, not {value}")


def _control(metric: pb.Payload.Metric, name: str, ts: int, datatype: int) -> pb.Payload.Metric:
    metric.name = name
    metric.timestamp = ts
    metric.datatype = datatype
    return metric


def _set_value(metric: pb.Payload.Metric, value: float, quality: int) -> None:
    if quality == Quality.BAD or not math.isfinite(value):
        metric.is_null = True
        if quality != Quality.GOOD:
            _property(metric, QUALITY, DataType.INT32).int_value = _OPC_DA[Quality.BAD]
        return
    metric.double_value = value
    if quality != Quality.GOOD:
        _property(metric, QUALITY, DataType.INT32).int_value = _OPC_DA[Quality.UNCERTAIN]


def _property(
    metric: pb.Payload.Metric, key: str, datatype: int = DataType.STRING
) -> pb.Payload.PropertyValue:
    metric.properties.keys.append(key)
    value = metric.properties.values.add()
    value.type = datatype
    return value
