"""History export of many tags as CSV or Parquet, streamed."""

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from factoryos.api.audit import record_now
from factoryos.api.deps import QueryTags, ServicesDep, TenantCaller
from factoryos.api.errors import BadParameterError
from factoryos.api.exporting import MEDIA_TYPES, ExportFormat, csv_stream, parquet_stream
from factoryos.api.routes.history import Range
from factoryos.store.audit import AuditAction

router = APIRouter(prefix="/api", tags=["history"])

MAX_EXPORT_TAGS = 1000
CHUNK_ROWS = 200_000


@router.get(
    "/export",
    summary="Raw history of many tags as CSV or Parquet, streamed",
    response_class=StreamingResponse,
    responses={200: {"content": {m: {} for m in MEDIA_TYPES.values()}}},
)
def export(
    services: ServicesDep,
    caller: TenantCaller,
    tags: QueryTags,
    span: Range,
    format: Annotated[ExportFormat, Query(description="csv or parquet")] = "csv",
) -> StreamingResponse:
    if len(tags) > MAX_EXPORT_TAGS:
        raise BadParameterError("tag", f"{len(tags)} tags; at most {MAX_EXPORT_TAGS} per export")
    batches = services.store.iter_raw(
        [t.id for t in tags], span.start_ns, span.end_ns, chunk_rows=CHUNK_ROWS
    )
    detail = {"tags": len(tags), "start_ns": span.start_ns, "end_ns": span.end_ns, "format": format}
    target = tags[0].path if len(tags) == 1 else f"{len(tags)} tags"
    record_now(services, AuditAction.EXPORT, caller, target, detail)
    stream = csv_stream if format == "csv" else parquet_stream
    name = f"factoryos-export.{format}"
    return StreamingResponse(
        stream(batches, tags),
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )
