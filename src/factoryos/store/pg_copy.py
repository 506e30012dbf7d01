"""PostgreSQL binary COPY in numpy: whole batches encoded and decoded without a Python object
per row.

A binary COPY stream is a 19-byte header, then per row an int16 field count and per field an
int32 length and the big-endian value, then an int16 -1 trailer. Our columns are all fixed
width and NOT NULL, so every row has the same layout and is one numpy structured record.
"""

import numpy as np
import numpy.typing as npt

from factoryos.model.samples import SampleBatch
from factoryos.store.errors import StoreError

SIGNATURE = b"PGCOPY\n\xff\r\n\x00"
HEADER = SIGNATURE + b"\x00\x00\x00\x00" + b"\x00\x00\x00\x00"  # flags 0, no extension
TRAILER = b"\xff\xff"

SAMPLE_FIELDS = (("tag_id", ">i4"), ("ts", ">i8"), ("value", ">f8"), ("quality", ">i2"))
"""The samples table's columns as big-endian wire types (int4, int8, float8, int2)."""


def row_dtype(fields: tuple[tuple[str, str], ...]) -> np.dtype[np.void]:
    """The packed record of one binary COPY row of the given fixed-width NOT NULL fields."""
    layout: list[tuple[str, str]] = [("_n", ">i2")]
    for name, kind in fields:
        layout += [(f"_len_{name}", ">i4"), (name, kind)]
    return np.dtype(layout)


SAMPLE_ROW = row_dtype(SAMPLE_FIELDS)


def encode_samples(batch: SampleBatch) -> bytes:
    """``batch`` as one binary COPY stream for (tag_id, ts, value, quality)."""
    rows = np.empty(len(batch), dtype=SAMPLE_ROW)
    rows["_n"] = len(SAMPLE_FIELDS)
    for (name, _), column in zip(
        SAMPLE_FIELDS, (batch.tag_ids, batch.ts, batch.values, batch.quality), strict=True
    ):
        rows[f"_len_{name}"] = SAMPLE_ROW[name].itemsize
        rows[name] = column
    return HEADER + rows.tobytes() + TRAILER


def decode(data: bytes, fields: tuple[tuple[str, str], ...]) -> npt.NDArray[np.void]:
    """The records of a binary COPY stream whose rows are exactly ``fields`` (no NULLs)."""
    if not data.startswith(SIGNATURE) or len(data) < len(HEADER) + len(TRAILER):
        raise StoreError("binary COPY: the stream has no valid header")
    extension = int.from_bytes(data[15:19], "big")
    body = data[19 + extension : len(data) - len(TRAILER)]
    if data[-2:] != TRAILER:
        raise StoreError("binary COPY: the stream has no trailer")
    dtype = row_dtype(fields)
    if len(body) % dtype.itemsize:
        raise StoreError(f"binary COPY: {len(body)} bytes is not a whole number of rows")
    rows = np.frombuffer(body, dtype=dtype)
    if len(rows) and (np.any(rows["_n"] != len(fields)) or _has_null(rows, fields)):
        raise StoreError("binary COPY: a row has NULLs or an unexpected number of fields")
    return rows


def decode_samples(data: bytes) -> SampleBatch:
    """A binary COPY stream of (tag_id, ts, value, quality) rows as a SampleBatch."""
    rows = decode(data, SAMPLE_FIELDS)
    return SampleBatch(
        rows["tag_id"].astype(np.int32),
        rows["ts"].astype(np.int64),
        rows["value"].astype(np.float64),
        rows["quality"].astype(np.uint8),
    )


def _has_null(rows: npt.NDArray[np.void], fields: tuple[tuple[str, str], ...]) -> bool:
    dtype = rows.dtype
    return any(bool(np.any(rows[f"_len_{name}"] != dtype[name].itemsize)) for name, _ in fields)


def split_lanes(batch: SampleBatch, lanes: int) -> list[tuple[int, SampleBatch]]:
    """``batch`` split over ``lanes`` writers by tag id (a tag always goes to one lane)."""
    if lanes == 1:
        return [(0, batch)]
    lane = batch.tag_ids % lanes
    return [(i, batch.take(lane == i)) for i in range(lanes)]


def by_tag(batch: SampleBatch) -> SampleBatch:
    """``batch`` in (tag, ts) order: each tag's rows go into the primary key's index side by
    side (much cheaper than one tag after another in time order) and land clustered by tag
    in the table, so a one-tag query reads few pages."""
    return batch.take(np.lexsort((batch.ts, batch.tag_ids)))
