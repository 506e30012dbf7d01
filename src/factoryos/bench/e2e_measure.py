"""What ``factoryos bench e2e`` measures: per-sample latency and the store's completeness.

Latency is counted for every sample, from its sample time to the commit of the write that
stored it, in a histogram of 0.1 ms bins (bounded memory for any run length; percentiles are
read as the bin's upper edge, so they err by at most 0.1 ms on the slow side).
"""

from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import numpy.typing as npt
import pyarrow as pa

from factoryos.bench.errors import BenchError
from factoryos.model.samples import SampleBatch

BIN_NS = 100_000
MAX_BINS = 1_000_000
"""100 s of 0.1 ms bins (8 MB); slower samples are counted in the last bin."""


class LatencyRecorder:
    """The Ingestor's ``on_stored`` hook: sample time → commit time of every stored sample."""

    def __init__(self) -> None:
        self._counts: npt.NDArray[np.int64] = np.zeros(0, dtype=np.int64)
        self.samples = 0
        self.last_commit_ns = 0

    def __call__(self, batch: SampleBatch, committed_ns: int) -> None:
        if not len(batch):
            return
        bins = np.clip((committed_ns - batch.ts) // BIN_NS, 0, MAX_BINS - 1)
        counts = np.bincount(bins)
        if len(counts) > len(self._counts):
            self._counts = np.pad(self._counts, (0, len(counts) - len(self._counts)))
        self._counts[: len(counts)] += counts
        self.samples += len(batch)
        self.last_commit_ns = max(self.last_commit_ns, committed_ns)

    def percentile_ms(self, q: float) -> float:
        """The ``q``-th percentile (0..100) of all recorded latencies, in milliseconds."""
        if not self.samples:
            raise BenchError("no sample was stored, so there is no latency to report")
        rank = max(1, int(np.ceil(q / 100 * self.samples)))
        index = int(np.searchsorted(np.cumsum(self._counts), rank))
        return (index + 1) * BIN_NS / 1e6


@dataclass(frozen=True, slots=True)
class StoreCheck:
    """What the store holds against what the edge offered."""

    rows: int
    distinct: int
    """Distinct (tag_id, ts) keys."""
    offered_found: int
    """Distinct offered (tag, ts) keys that are stored."""

    @property
    def duplicated(self) -> int:
        return self.rows - self.distinct

    @property
    def extra(self) -> int:
        """Distinct keys that were never offered (e.g. values a Sparkplug BIRTH carries)."""
        return self.distinct - self.offered_found


def check_store(path: Path, tag_ids: range, polls: list[int]) -> StoreCheck:
    """Count the rows of the closed DuckDB store at ``path``; the offered keys are every tag
    of ``tag_ids`` at every poll time of ``polls``."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        con.register("polls", pa.table({"ts": pa.array(polls, type=pa.int64())}))
        rows, distinct = con.execute(
            "SELECT count(*), (SELECT count(*) FROM (SELECT DISTINCT tag_id, ts FROM samples))"
            " FROM samples"
        ).fetchone() or (0, 0)
        (found,) = con.execute(
            "SELECT count(*) FROM (SELECT DISTINCT s.tag_id, s.ts FROM samples s"
            " JOIN polls p ON s.ts = p.ts WHERE s.tag_id BETWEEN ? AND ?)",
            [tag_ids.start, tag_ids.stop - 1],
        ).fetchone() or (0,)
    except duckdb.Error as exc:
        raise BenchError(f"cannot check the store {path}: {exc}") from exc
    finally:
        con.close()
    return StoreCheck(int(rows), int(distinct), int(found))
