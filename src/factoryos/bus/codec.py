"""The columnar batch wire codec: one SampleBatch as one compact, versioned binary message.

Layout (version 1, all integers little-endian)::

    magic  b"FOSB"            4 bytes
    version u8 = 1, flags u8 (bit 0: the message carries a path table), reserved u16 = 0
    first_seq u64, rows u32, n_paths u32, source_len u16
    source     UTF-8, source_len bytes
    path table n_paths x (u16 length + UTF-8 UNS path)
    columns    tag i32[rows] | ts i64[rows] | value f64[rows] | quality u8[rows]
    crc32 u32  of every byte before it

With a path table the tag column holds indexes into it, so a message is self-describing: the
edge needs no catalog and the platform resolves UNS paths to its own tag ids. Without one
the tag column holds tag ids as they are.
"""

import struct
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from factoryos.bus.errors import BusError
from factoryos.model.quality import QUALITY_DTYPE
from factoryos.model.samples import TAG_ID_DTYPE, TS_DTYPE, VALUE_DTYPE, SampleBatch

MAGIC = b"FOSB"
VERSION = 1
FLAG_PATHS = 0x01
_HEAD = struct.Struct("<4sBBHQIIH")
_LEN = struct.Struct("<H")
_CRC = struct.Struct("<I")
_ROW_BYTES = 4 + 8 + 8 + 1
MAX_ROWS = 2**32 - 1
MAX_TEXT = 2**16 - 1


class BatchDecodeError(BusError):
    """Bytes that are not a well-formed batch message (truncated, corrupt, unknown version)."""


class BatchEncodeError(BusError):
    """A batch or header field that cannot be encoded (bad path index, text too long)."""


@dataclass(frozen=True, slots=True)
class BatchHeader:
    """What a message says besides its samples."""

    version: int
    source: str
    """The producer (an edge gateway's name)."""
    first_seq: int
    """The producer's sequence number of the message (its outbox seq); 0 when not sequenced."""
    rows: int
    paths: tuple[str, ...]
    """The path table; empty when the tag column holds tag ids."""


def encode_batch(
    batch: SampleBatch, *, source: str, first_seq: int, paths: Sequence[str] | None = None
) -> bytes:
    """Encode ``batch``. With ``paths``, ``batch.tag_ids`` must be indexes into ``paths``."""
    src = _text(source, "source")
    if not 0 <= first_seq < 2**64:
        raise BatchEncodeError(f"first_seq: {first_seq} is outside 0..2**64-1")
    if len(batch) > MAX_ROWS:
        raise BatchEncodeError(f"batch of {len(batch)} rows, at most {MAX_ROWS} per message")
    table = [_text(p, "path") for p in paths] if paths is not None else []
    if paths is not None and (problem := _index_problem(batch.tag_ids, len(table))):
        raise BatchEncodeError(f"tag_ids: {problem}")
    flags = FLAG_PATHS if paths is not None else 0
    parts = [_HEAD.pack(MAGIC, VERSION, flags, 0, first_seq, len(batch), len(table), len(src))]
    parts.append(src)
    for p in table:
        parts += [_LEN.pack(len(p)), p]
    parts += [
        np.ascontiguousarray(batch.tag_ids, dtype="<i4").tobytes(),
        np.ascontiguousarray(batch.ts, dtype="<i8").tobytes(),
        np.ascontiguousarray(batch.values, dtype="<f8").tobytes(),
        np.ascontiguousarray(batch.quality, dtype=QUALITY_DTYPE).tobytes(),
    ]
    body = b"".join(parts)
    return body + _CRC.pack(zlib.crc32(body))


def decode_batch(data: bytes) -> tuple[BatchHeader, SampleBatch]:
    """Decode a message; raise :class:`BatchDecodeError` (and nothing else) when malformed.

    With a path table every tag index is checked to lie inside it.
    """
    view = memoryview(data)
    if len(view) < _HEAD.size + _CRC.size:
        raise BatchDecodeError(f"message of {len(view)} bytes is shorter than a header")
    body = view[: -_CRC.size]
    (crc,) = _CRC.unpack(view[-_CRC.size :])
    if zlib.crc32(body) != crc:
        raise BatchDecodeError("CRC mismatch: the message is corrupt or truncated")
    magic, version, flags, _, first_seq, rows, n_paths, src_len = _HEAD.unpack_from(body)
    if magic != MAGIC:
        raise BatchDecodeError(f"bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if version != VERSION:
        raise BatchDecodeError(f"unsupported version {version} (this build reads {VERSION})")
    if flags & ~FLAG_PATHS or (n_paths and not flags & FLAG_PATHS):
        raise BatchDecodeError(f"unknown flags 0x{flags:02x} for {n_paths} paths")
    offset = _HEAD.size
    source, offset = _read_text(body, offset, src_len, "source")
    paths: list[str] = []
    for _ in range(n_paths):
        (length,) = _field(_LEN, body, offset, "path length")
        path, offset = _read_text(body, offset + _LEN.size, length, "path")
        paths.append(path)
    if len(body) - offset != rows * _ROW_BYTES:
        raise BatchDecodeError(
            f"{rows} rows need {rows * _ROW_BYTES} column bytes, found {len(body) - offset}"
        )
    batch = _columns(body, offset, rows)
    if flags & FLAG_PATHS and (problem := _index_problem(batch.tag_ids, len(paths))):
        raise BatchDecodeError(problem)
    header = BatchHeader(version, source, first_seq, rows, tuple(paths))
    return header, batch


def index_paths(
    tag_ids: npt.NDArray[np.int32], path_of: Mapping[int, str]
) -> tuple[npt.NDArray[np.int32], list[str]]:
    """Tag ids → (indexes into a path table, the table) holding only the ids present.

    Raises :class:`BatchEncodeError` for an id ``path_of`` does not know.
    """
    unique, inverse = np.unique(tag_ids, return_inverse=True)
    missing = [int(t) for t in unique if int(t) not in path_of]
    if missing:
        raise BatchEncodeError(f"tag id {missing[0]} has no UNS path")
    return inverse.astype(TAG_ID_DTYPE), [path_of[int(t)] for t in unique]


def _text(text: str, what: str) -> bytes:
    raw = text.encode("utf-8")
    if len(raw) > MAX_TEXT:
        raise BatchEncodeError(f"{what}: {len(raw)} bytes, at most {MAX_TEXT}")
    return raw


def _field(fmt: struct.Struct, body: memoryview, offset: int, what: str) -> tuple[int, ...]:
    if offset + fmt.size > len(body):
        raise BatchDecodeError(f"truncated at byte {offset} reading {what}")
    return fmt.unpack_from(body, offset)


def _read_text(body: memoryview, offset: int, length: int, what: str) -> tuple[str, int]:
    end = offset + length
    if end > len(body):
        raise BatchDecodeError(f"truncated at byte {offset} reading {what} of {length} bytes")
    try:
        return str(body[offset:end], "utf-8"), end
    except UnicodeDecodeError as exc:
        raise BatchDecodeError(f"{what} at byte {offset} is not UTF-8") from exc


def _columns(body: memoryview, offset: int, rows: int) -> SampleBatch:
    """Copies, so batches are aligned, writable and independent of the message buffer."""
    out = []
    for dtype, width in (("<i4", 4), ("<i8", 8), ("<f8", 8), ("u1", 1)):
        out.append(np.frombuffer(body, dtype=dtype, count=rows, offset=offset))
        offset += rows * width
    return SampleBatch(
        out[0].astype(TAG_ID_DTYPE),
        out[1].astype(TS_DTYPE),
        out[2].astype(VALUE_DTYPE),
        out[3].astype(QUALITY_DTYPE),
    )


def _index_problem(indexes: npt.NDArray[np.int32], n_paths: int) -> str | None:
    if not len(indexes):
        return None
    low, high = int(indexes.min()), int(indexes.max())
    if low < 0 or high >= n_paths:
        bad = low if low < 0 else high
        return f"tag index {bad} outside the path table of {n_paths} paths"
    return None
