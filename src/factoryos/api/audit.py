"""Audit entries from route handlers: who (the caller's key or user, or the name a failed
login tried), what, on what — appended to the catalog's hash-chained audit log off the
event loop."""

from collections.abc import Mapping
from functools import partial

from starlette.concurrency import run_in_threadpool

from factoryos.api.services import Services
from factoryos.store.catalog import Principal
from factoryos.store.users import PlatformOperator


def record_now(
    services: Services,
    action: str,
    caller: Principal | PlatformOperator | None,
    target: str = "",
    detail: Mapping[str, object] | None = None,
    *,
    actor: str | None = None,
    tenant_id: int | None = None,
) -> None:
    """Append one entry (from a synchronous handler, which runs in a worker thread); the
    tenant and actor come from ``caller`` unless given."""
    if isinstance(caller, Principal):
        tenant_id = caller.tenant_id if tenant_id is None else tenant_id
        actor = actor or caller.key_name
    elif isinstance(caller, PlatformOperator):
        actor = actor or f"user {caller.username}"
    services.catalog.audit.append(
        action, tenant_id=tenant_id, actor=actor, target=target, detail=detail
    )


async def record(
    services: Services,
    action: str,
    caller: Principal | PlatformOperator | None,
    target: str = "",
    detail: Mapping[str, object] | None = None,
    *,
    actor: str | None = None,
) -> None:
    """:func:`record_now` off the event loop."""
    entry = partial(record_now, services, action, caller, target, detail, actor=actor)
    await run_in_threadpool(entry)
