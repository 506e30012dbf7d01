"""History queries: raw samples, aggregates per time bucket, last values."""

from dataclasses import dataclass
from typing import Annotated, Literal

import numpy as np
from fastapi import APIRouter, Depends, Query

from factoryos.api.deps import QueryTag, QueryTags, ServicesDep
from factoryos.api.errors import BadParameterError
from factoryos.api.params import (
    iso_time,
    iso_times,
    json_values,
    now_ns,
    parse_duration,
    parse_time,
    quality_labels,
)
from factoryos.api.schemas import AggHistory, LastValue, RawHistory

router = APIRouter(prefix="/api", tags=["history"])

HOUR_NS = 3600 * 10**9
MAX_RAW = 100_000
_TIME_HELP = "ISO 8601 with a zone, e.g. 2024-05-01T12:00:00Z."


AggName = Literal["min", "max", "avg", "sum", "first", "last", "count"]


@dataclass(frozen=True)
class TimeRange:
    start_ns: int
    end_ns: int


def time_range(
    start: Annotated[str | None, Query(description=f"{_TIME_HELP} Default: end - 1 h.")] = None,
    end: Annotated[str | None, Query(description=f"{_TIME_HELP} Default: now.")] = None,
) -> TimeRange:
    end_ns = parse_time(end, "end") if end is not None else now_ns()
    start_ns = parse_time(start, "start") if start is not None else end_ns - HOUR_NS
    if start_ns >= end_ns:
        raise BadParameterError(
            "start", f"{iso_time(start_ns)} must be before end {iso_time(end_ns)}"
        )
    return TimeRange(start_ns, end_ns)


Range = Annotated[TimeRange, Depends(time_range)]


@router.get("/history/raw", summary="Raw samples of one tag in [start, end)")
def raw(
    services: ServicesDep,
    tag: QueryTag,
    span: Range,
    limit: Annotated[int, Query(ge=1, le=MAX_RAW)] = 10_000,
) -> RawHistory:
    batch = services.store.raw(tag.id, span.start_ns, span.end_ns, limit=limit)
    return RawHistory(
        tag=tag.path,
        unit=tag.unit,
        start=iso_time(span.start_ns),
        end=iso_time(span.end_ns),
        count=len(batch),
        truncated=len(batch) >= limit,
        ts=iso_times(batch.ts),
        value=json_values(batch.values),
        quality=quality_labels(batch.quality),
    )


@router.get(
    "/history/agg",
    summary="Aggregates of one tag per time bucket",
    description="Buckets start at multiples of `every` since the epoch; only buckets holding "
    "samples are returned; samples of bad quality are left out.",
)
def aggregates(
    services: ServicesDep,
    tag: QueryTag,
    span: Range,
    every: Annotated[str, Query(description="Bucket width: 10s, 1m, 15m, 1h, 1d …")] = "1m",
    agg: Annotated[list[AggName] | None, Query(description="Repeat for many; default avg.")] = None,
) -> AggHistory:
    every_ns = parse_duration(every, "every")  # the store refuses too many buckets
    names: list[str] = list(dict.fromkeys(agg or ["avg"]))
    result = services.store.aggregate(tag.id, span.start_ns, span.end_ns, every_ns, names)
    columns = {
        name: (
            np.asarray(col).astype(np.int64).tolist()
            if name == "count"
            else json_values(np.asarray(col, dtype=np.float64))
        )
        for name, col in result.columns.items()
    }
    return AggHistory(
        tag=tag.path,
        unit=tag.unit,
        start=iso_time(span.start_ns),
        end=iso_time(span.end_ns),
        every=every,
        bucket=iso_times(np.asarray(result.bucket_ns, dtype=np.int64)),
        columns=columns,
    )


@router.get("/last", summary="The newest sample of each of many tags")
def last(services: ServicesDep, tags: QueryTags) -> list[LastValue]:
    ids = np.array([t.id for t in tags], dtype=np.int32)
    batch = services.store.last(ids)
    ts, values, quality = (
        iso_times(batch.ts),
        json_values(batch.values),
        quality_labels(batch.quality),
    )
    row = {int(tag_id): i for i, tag_id in enumerate(batch.tag_ids)}
    out = []
    for t in tags:
        i = row.get(t.id)
        out.append(
            LastValue(
                tag=t.path,
                unit=t.unit,
                ts=None if i is None else ts[i],
                value=None if i is None else values[i],
                quality=None if i is None else quality[i],
            )
        )
    return out
