"""Gap-aware resampling of one tag's history: time-weighted average or step, per bucket."""

from typing import Annotated

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from factoryos.api.deps import QueryTag, ServicesDep
from factoryos.api.errors import BadParameterError
from factoryos.api.params import iso_time, iso_times, json_values, parse_duration
from factoryos.api.routes.history import Range, TimeRange
from factoryos.model.samples import SampleBatch
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.querycheck import INT64_MAX, INT64_MIN, check_every
from factoryos.store.resample import GAP_FACTOR, Method, default_max_gap, resample

router = APIRouter(prefix="/api", tags=["history"])

MAX_RESAMPLE_RAW = 1_000_000
"""The most raw samples one request reads (range plus lookback): ~21 MB of columns."""

_DESCRIPTION = f"""\
Samples are steps: a value holds until the next sample. A sample of bad quality starts a gap
that lasts until the next good or uncertain sample, and a value holds at most `max_gap` after
its sample (default: {GAP_FACTOR} × the median interval between the samples in the range, or
the whole range with fewer than two). The value at `start` comes from the last sample within
`max_gap` before it.

Buckets start at multiples of `every` since the epoch; a bucket cut by `start` or `end` is
evaluated over its part inside the range. `twa` weighs each value by how long it held in the
bucket, over the part that holds a value; `step` is the value holding at the bucket's start.
`value` is null where there is none; `gap` is true where the bucket is wholly or partly
without a value (for `step`: at its start).

At most {MAX_RESAMPLE_RAW:,} raw samples are read; for longer ranges use `/api/history/agg`.
"""


class ResampledHistory(BaseModel):
    """One row per bucket as columns: ``bucket[i]``, ``value[i]`` and ``gap[i]``."""

    tag: str
    unit: str
    start: str
    end: str
    every: str
    method: Method
    max_gap_s: float = Field(description="How long a value holds at most after its sample.")
    bucket: list[str] = Field(description="Start of each bucket.")
    value: list[float | None] = Field(description="null where the bucket holds no value.")
    gap: list[bool] = Field(description="True where the bucket is partly or wholly a gap.")


@router.get(
    "/history/resample",
    summary="One tag resampled per time bucket, with its gaps",
    description=_DESCRIPTION,
)
def resample_history(
    services: ServicesDep,
    tag: QueryTag,
    span: Range,
    every: Annotated[str, Query(description="Bucket width: 10s, 1m, 15m, 1h, 1d …")] = "1m",
    method: Annotated[Method, Query(description="twa: time-weighted average; step.")] = "twa",
    max_gap: Annotated[
        str | None, Query(description="How long a value holds at most, e.g. 10m.")
    ] = None,
) -> ResampledHistory:
    every_ns = parse_duration(every, "every")
    check_every(span.start_ns, span.end_ns, every_ns)  # refuse before reading anything
    given_gap = None if max_gap is None else parse_duration(max_gap, "max_gap")
    batch, gap_ns = _read(services.store, tag.id, span, given_gap)
    result = resample(batch, span.start_ns, span.end_ns, every_ns, method, max_gap_ns=gap_ns)
    return ResampledHistory(
        tag=tag.path,
        unit=tag.unit,
        start=iso_time(span.start_ns),
        end=iso_time(span.end_ns),
        every=every,
        method=method,
        max_gap_s=gap_ns / 1e9,
        bucket=iso_times(result.bucket_ns),
        value=json_values(result.value),
        gap=result.gap.tolist(),
    )


def _read(
    store: TimeSeriesStore, tag_id: int, span: TimeRange, given_gap: int | None
) -> tuple[SampleBatch, int]:
    """The samples in the range and within max_gap before it, and that max_gap (ns)."""
    inside = store.raw(tag_id, span.start_ns, span.end_ns, limit=MAX_RESAMPLE_RAW + 1)
    if len(inside) > MAX_RESAMPLE_RAW:
        raise BadParameterError(
            "start/end",
            f"the range holds more than {MAX_RESAMPLE_RAW:,} samples of this tag, too many to "
            "resample; narrow start and end, or use /api/history/agg",
        )
    gap = default_max_gap(inside.ts) if given_gap is None else given_gap
    gap_ns = min(span.end_ns - span.start_ns if gap is None else gap, INT64_MAX)
    lookback_start = max(span.start_ns - gap_ns, INT64_MIN)
    if lookback_start >= span.start_ns:
        return inside, gap_ns
    room = MAX_RESAMPLE_RAW - len(inside) + 1
    before = store.raw(tag_id, lookback_start, span.start_ns, limit=room)
    if len(before) == room:
        raise BadParameterError(
            "max_gap",
            f"the range and max_gap before it hold more than {MAX_RESAMPLE_RAW:,} samples of "
            "this tag; give a smaller max_gap, narrow start and end, or use /api/history/agg",
        )
    return SampleBatch.concat([before, inside]), gap_ns
