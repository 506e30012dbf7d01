"""Write-back of setpoints to writable tags: engineers and above, range-checked, audited."""

import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated

import numpy as np
from fastapi import APIRouter, HTTPException, Query, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.deps import ServicesDep, TenantCaller, scoped_tag
from factoryos.api.services import Services
from factoryos.connect.errors import CodecError, DriverError, WriteError
from factoryos.store.catalog import Principal, TagInfo, WriteRecord

log = logging.getLogger(__name__)

router = APIRouter(prefix="/api", tags=["write-back"])


class WriteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: float = Field(description="Engineering value, in the tag's unit.", allow_inf_nan=False)


class WriteOut(BaseModel):
    tag: str
    requested: float
    written: float = Field(description="What the device holds now (integer types round).")
    old_value: float | None = Field(description="The last value stored before the write.")
    at: datetime


class WriteLogEntry(BaseModel):
    at: datetime
    key_name: str
    tag: str
    old_value: float | None
    requested: float
    written: float | None
    outcome: str = Field(description="ok, refused (nothing sent) or failed (device refused).")
    message: str


def _old_value(services: Services, tag: TagInfo) -> float | None:
    last = services.store.last(np.array([tag.id], dtype=np.int32))
    return float(last.values[0]) if len(last) and np.isfinite(last.values[0]) else None


Audit = Callable[[float | None, str, str], Awaitable[WriteRecord]]


def _audit(
    services: Services, who: Principal, tag: TagInfo, old: float | None, value: float
) -> Audit:
    """Records one outcome of this write attempt (in a worker thread: the catalog is sync)."""

    async def record(written: float | None, outcome: str, message: str) -> WriteRecord:
        entry = WriteRecord(
            datetime.now(UTC), who.key_name, tag.path, old, value, written, outcome, message
        )
        await run_in_threadpool(services.catalog.record_write, who, tag, entry)
        return entry

    return record


@router.post(
    "/tags/{path:path}/write",
    summary="Write a setpoint to a writable tag",
    responses={400: {"description": "refused: not writable, out of range, not representable"},
               503: {"description": "the device did not take the write, or no drivers here"}},
)  # fmt: skip
async def write_tag(
    path: str, body: WriteRequest, services: ServicesDep, who: TenantCaller
) -> WriteOut:
    tag = await run_in_threadpool(scoped_tag, services, who, path)
    if services.writer is None:
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, "no drivers run in this process")
    old = await run_in_threadpool(_old_value, services, tag)
    record = _audit(services, who, tag, old, body.value)
    try:
        written = await services.writer.write(tag.id, body.value)
    except (WriteError, CodecError) as exc:
        await record(None, "refused", str(exc))
        raise HTTPException(status.HTTP_400_BAD_REQUEST, f"value: {exc}") from exc
    except DriverError as exc:
        await record(None, "failed", str(exc))
        raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, f"device: {exc}") from exc
    entry = await record(written, "ok", "")
    log.info("%s wrote %s to %s (was %s)", who.key_name, written, tag.path, old)
    return WriteOut(tag=tag.path, requested=body.value, written=written, old_value=old, at=entry.at)


@router.get("/audit/writes", summary="Write attempts of the tenant, newest first")
def write_log(
    services: ServicesDep,
    who: TenantCaller,
    tag: Annotated[str | None, Query(description="Only this tag's writes.")] = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 100,
) -> list[WriteLogEntry]:
    entries = services.catalog.write_log(who.tenant_id, path=tag, limit=limit)
    return [
        WriteLogEntry(
            at=e.at,
            key_name=e.key_name,
            tag=e.path,
            old_value=e.old_value,
            requested=e.requested,
            written=e.written,
            outcome=e.outcome,
            message=e.message,
        )
        for e in entries
    ]
