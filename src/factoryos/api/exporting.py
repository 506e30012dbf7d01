"""History exports as streamed CSV or Parquet: one store chunk at a time, never a whole range.

Each chunk becomes an Arrow table with vectorised columns (time, tag, value, quality) and is
written out at once; memory stays at one chunk however long the range.
"""

import io
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from factoryos.api.params import iso_times, quality_labels
from factoryos.model.samples import SampleBatch
from factoryos.store.catalog import TagInfo

ExportFormat = Literal["csv", "parquet"]
MEDIA_TYPES: dict[ExportFormat, str] = {
    "csv": "text/csv",
    "parquet": "application/vnd.apache.parquet",
}
SCHEMA = pa.schema(
    [
        ("time", pa.timestamp("ns", tz="UTC")),
        ("tag", pa.string()),
        ("value", pa.float64()),
        ("quality", pa.string()),
    ]
)


class _Paths:
    """Tag id → UNS path for a whole chunk at once."""

    def __init__(self, tags: Sequence[TagInfo]) -> None:
        self.ids = np.array(sorted(t.id for t in tags), dtype=np.int64)
        by_id = {t.id: t.path for t in tags}
        self.paths = np.array([by_id[int(i)] for i in self.ids], dtype=object)

    def of(self, tag_ids: np.ndarray) -> np.ndarray:
        return self.paths[np.searchsorted(self.ids, tag_ids)]


def _table(batch: SampleBatch, paths: _Paths, *, csv: bool) -> pa.Table:
    values = pa.array(batch.values, mask=~np.isfinite(batch.values))  # bad samples: empty
    time = pa.array(iso_times(batch.ts)) if csv else pa.array(batch.ts, pa.timestamp("ns", "UTC"))
    return pa.table(
        {
            "time": time,
            "tag": pa.array(paths.of(batch.tag_ids), pa.string()),
            "value": values,
            "quality": pa.array(quality_labels(batch.quality), pa.string()),
        }
    )


def csv_stream(batches: Iterator[SampleBatch], tags: Sequence[TagInfo]) -> Iterator[bytes]:
    """CSV with a header line ``time,tag,value,quality``; times ISO 8601 with Z."""
    paths = _Paths(tags)
    yield b"time,tag,value,quality\n"
    # Times, UNS paths and quality words never hold a comma or a quote: no quoting needed.
    options = pacsv.WriteOptions(include_header=False, quoting_style="none")
    for batch in batches:
        out = io.BytesIO()
        pacsv.write_csv(_table(batch, paths, csv=True), out, options)
        yield out.getvalue()


class _Drain(io.RawIOBase):
    """A write-only sink handing out what was written since the last drain; ``tell`` keeps
    counting from the start, as the Parquet footer's offsets need."""

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._written = 0

    def writable(self) -> bool:
        return True

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self._parts.append(bytes(data))
        self._written += len(data)
        return len(data)

    def tell(self) -> int:
        return self._written

    def drain(self) -> bytes:
        data, self._parts = b"".join(self._parts), []
        return data


def parquet_stream(batches: Iterator[SampleBatch], tags: Sequence[TagInfo]) -> Iterator[bytes]:
    """A Parquet file, one row group per store chunk."""
    paths = _Paths(tags)
    sink = _Drain()
    with pq.ParquetWriter(sink, SCHEMA, compression="zstd") as writer:
        for batch in batches:
            writer.write_table(_table(batch, paths, csv=False))
            yield sink.drain()
    yield sink.drain()
