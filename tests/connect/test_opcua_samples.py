"""Data change notifications to columns: timestamps, numbers and status → quality."""

from datetime import UTC, datetime, timedelta

import numpy as np
from asyncua import ua

from factoryos.connect.opcua_samples import datetime_ns, decode, quality_of
from factoryos.model.quality import Quality

T0 = datetime(2025, 1, 6, 9, 0, 0, 123456, tzinfo=UTC)
T0_NS = 1_736_154_000_123_456_000


def _item(handle: int, value: object, **dv: object) -> ua.MonitoredItemNotification:
    return ua.MonitoredItemNotification(
        ClientHandle=handle, Value=ua.DataValue(ua.Variant(value), **dv)
    )


def test_status_classes_are_the_top_two_bits() -> None:
    codes = np.array(
        [0x00000000, 0x00A00000, 0x40000000, 0x408F0000, 0x80000000, 0x80340000, 0xC0000000],
        dtype=np.uint32,
    )
    assert (
        quality_of(codes).tolist()
        == [Quality.GOOD] * 2 + [Quality.UNCERTAIN] * 2 + [Quality.BAD] * 3
    )


def test_timestamps_are_ns_since_the_epoch() -> None:
    assert datetime_ns(T0) == T0_NS
    assert datetime_ns(T0.replace(tzinfo=None)) == T0_NS  # naive means UTC
    assert datetime_ns(None) is None
    assert datetime_ns(datetime(1601, 1, 1, tzinfo=UTC)) is None  # OPC UA "no time"


def test_decode_prefers_source_then_server_then_receive_time() -> None:
    later = T0 + timedelta(seconds=1)
    items = [
        _item(1, 1.5, SourceTimestamp=T0, ServerTimestamp=later),
        _item(2, True, ServerTimestamp=later),
        _item(3, 7),
        _item(4, "text", StatusCode=ua.StatusCode(ua.UInt32(0x40000000))),
    ]
    notes = decode(items, fallback_ns=42)
    assert notes.handles.tolist() == [1, 2, 3, 4]
    assert notes.ts.tolist() == [T0_NS, T0_NS + 1_000_000_000, 42, 42]
    assert notes.values[:3].tolist() == [1.5, 1.0, 7.0] and np.isnan(notes.values[3])
    assert notes.status.tolist() == [0, 0, 0, 0x40000000]
