"""The columnar batch wire codec: round trips, header fields, and malformed input."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from factoryos.bus.codec import (
    BatchDecodeError,
    BatchEncodeError,
    decode_batch,
    encode_batch,
    index_paths,
)
from factoryos.model import Quality, SampleBatch

PATHS = ["plant1/a/l/c/cnc-01/power_kw", "plant1/a/l/c/cnc-01/spindle_rpm"]


def _batch(n: int = 5) -> SampleBatch:
    rng = np.random.default_rng(3)
    return SampleBatch.build(
        rng.integers(0, 2, n),
        np.arange(n, dtype=np.int64) * 10**9 + 1_700_000_000 * 10**9,
        rng.normal(size=n),
        np.where(np.arange(n) % 3 == 0, Quality.BAD, Quality.GOOD),
    )


def _assert_same(a: SampleBatch, b: SampleBatch) -> None:
    np.testing.assert_array_equal(a.tag_ids, b.tag_ids)
    np.testing.assert_array_equal(a.ts, b.ts)
    np.testing.assert_array_equal(a.values, b.values)
    np.testing.assert_array_equal(a.quality, b.quality)


def test_round_trip_with_a_path_table() -> None:
    batch = _batch()
    header, got = decode_batch(encode_batch(batch, source="gw-1", first_seq=42, paths=PATHS))
    assert (header.version, header.source, header.first_seq, header.rows) == (1, "gw-1", 42, 5)
    assert header.paths == tuple(PATHS)
    _assert_same(got, batch)
    assert got.tag_ids.dtype == np.int32 and got.values.flags.writeable


def test_round_trip_without_paths_keeps_tag_ids_and_nan() -> None:
    batch = SampleBatch.build([7, 900_000], [1, 2], [np.nan, -0.0], [Quality.BAD, 0x40])
    header, got = decode_batch(encode_batch(batch, source="", first_seq=0))
    assert header.paths == ()
    _assert_same(got, batch)


def test_empty_batch_round_trips() -> None:
    header, got = decode_batch(encode_batch(SampleBatch.empty(), source="gw", first_seq=1))
    assert header.rows == 0 and len(got) == 0


def test_index_paths_keeps_only_present_ids() -> None:
    ids = np.array([30, 10, 30, 20], dtype=np.int32)
    index, table = index_paths(ids, {10: "p10", 20: "p20", 30: "p30", 40: "p40"})
    assert table == ["p10", "p20", "p30"]
    assert [table[i] for i in index] == ["p30", "p10", "p30", "p20"]
    with pytest.raises(BatchEncodeError, match="tag id 30"):
        index_paths(ids, {10: "p10", 20: "p20"})


def test_encode_refuses_an_index_past_the_path_table() -> None:
    with pytest.raises(BatchEncodeError, match="tag index 1 outside the path table of 1"):
        encode_batch(SampleBatch.build([0, 1], 5, [1, 2]), source="gw", first_seq=1, paths=["a"])


def test_every_truncation_and_bit_flip_is_detected() -> None:
    data = encode_batch(_batch(3), source="gw", first_seq=7, paths=PATHS)
    for cut in range(len(data)):
        with pytest.raises(BatchDecodeError):
            decode_batch(data[:cut])
    for i in range(len(data)):
        flipped = bytearray(data)
        flipped[i] ^= 0x10
        with pytest.raises(BatchDecodeError):
            decode_batch(bytes(flipped))


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_a_well_checksummed_lie_is_still_refused() -> None:
    data = encode_batch(_batch(2), source="gw", first_seq=1, paths=PATHS)
    body = bytearray(data[:-4])
    body[4] = 9  # version
    with pytest.raises(BatchDecodeError, match="unsupported version 9"):
        decode_batch(_with_crc(bytes(body)))
    body[4] = 1
    struct.pack_into("<I", body, 16, 3)  # rows: 3 claimed, 2 present
    with pytest.raises(BatchDecodeError, match="3 rows need"):
        decode_batch(_with_crc(bytes(body)))


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_arbitrary_bytes_raise_only_batch_decode_error(data: bytes) -> None:
    try:
        header, batch = decode_batch(data)
    except BatchDecodeError:
        return
    assert len(batch.tag_ids) == len(batch.ts) == len(batch.values) == len(batch.quality)
    assert header.rows == len(batch)


@settings(max_examples=200, deadline=None)
@given(st.binary(min_size=22, max_size=300))
def test_checksummed_garbage_raises_only_batch_decode_error(body: bytes) -> None:
    """Past the CRC: arbitrary bodies with a valid checksum and the real magic and version."""
    data = _with_crc(b"FOSB\x01" + body[5:])
    try:
        header, batch = decode_batch(data)
    except BatchDecodeError:
        return
    assert len(batch.tag_ids) == len(batch.ts) == len(batch.values) == len(batch.quality)
    if header.paths:
        assert batch.tag_ids.min() >= 0 and batch.tag_ids.max() < len(header.paths)
