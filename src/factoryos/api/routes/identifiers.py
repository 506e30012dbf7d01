"""The identifier registry and resolver (docs/identifiers.md).

- Platform operators allocate prefixes to tenants; a tenant's engineers claim prefixes below
  their own and register identifiers under them (register again: the record is replaced).
- ``GET /api/resolve/{handle}`` answers any valid credential, whichever tenant: resolution
  is how a customer reads a supplier's published record. It stays behind a credential (not
  PUBLIC) so that every caller is known, rate-limited on bad keys and revocable; a child
  node holds a key of its parent for forwarding.

Registration goes through the catalog in the thread pool; resolution reads the node's cache
on the event loop and goes to a worker thread (or the parent) only on a miss.
"""

import os
from collections.abc import Callable
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, HTTPException, Path, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from factoryos.api.audit import record
from factoryos.api.deps import PlatformCaller, ServicesDep, TenantCaller
from factoryos.store.identifier_registry import StoredIdentifier, StoredPrefix
from factoryos.twin.answers import Resolution, iso_ns
from factoryos.twin.config import ResolverConfig
from factoryos.twin.errors import (
    HandleError,
    NotFoundError,
    ParentError,
    ParentTimeoutError,
    PrefixNotOwnedError,
    PrefixTakenError,
    RecordError,
    ResolutionLoopError,
    ResolverConfigError,
    TwinError,
)
from factoryos.twin.handles import MAX_HANDLE, MAX_PREFIX
from factoryos.twin.node import IdentifierNode
from factoryos.twin.parent import HOPS_HEADER, MissingOut
from factoryos.twin.records import Record, load_record

router = APIRouter(prefix="/api", tags=["identifiers"])

T = TypeVar("T")
MAX_BATCH = 100  # handles per batch resolution: an answer of at most ~2 MB
NODE_HEADER = "X-FactoryOS-Resolver-Node"
"""Names the node that answered a resolution (found or not)."""
_HANDLE = Path(
    description="prefix/suffix, e.g. 88.123.4567/SN-000042 (docs/identifiers.md).",
    max_length=4 * MAX_HANDLE,  # a bound on the raw text; the grammar's limits come after
)
# Most specific first: the first class the error is an instance of decides the status.
_STATUS: tuple[tuple[type[TwinError], int], ...] = (
    (HandleError, status.HTTP_400_BAD_REQUEST),
    (RecordError, status.HTTP_400_BAD_REQUEST),
    (PrefixNotOwnedError, status.HTTP_403_FORBIDDEN),
    (NotFoundError, status.HTTP_404_NOT_FOUND),
    (PrefixTakenError, status.HTTP_409_CONFLICT),
    (ParentTimeoutError, status.HTTP_504_GATEWAY_TIMEOUT),
    (ResolutionLoopError, status.HTTP_508_LOOP_DETECTED),
    (ParentError, status.HTTP_502_BAD_GATEWAY),
    (ResolverConfigError, status.HTTP_503_SERVICE_UNAVAILABLE),
)


_UNCONFIGURED: dict[int | str, dict[str, object]] = {
    503: {"description": "a FACTORYOS_RESOLVER_* setting cannot be used (the message names it)"}
}
_REGISTER_ERRORS: dict[int | str, dict[str, object]] = {
    200: {"description": "registered already, by the same tenant: nothing changed"},
    400: {"description": "not a prefix or handle (the message names the part)"},
    403: {"description": "the prefix belongs to another tenant, or to nobody here"},
    409: {"description": "the prefix (or one above or below it) is another tenant's"},
    **_UNCONFIGURED,
}


class NotFoundOut(BaseModel):
    """A 404 of the resolve route (twin/parent.py's MissingOut, as documented)."""

    detail: str
    node: str | None = Field(
        default=None, description="The node that answered; absent only when no route matched."
    )
    reason: str | None = Field(
        default=None, description="no such identifier, or no node serves its prefix."
    )


class PrefixOut(BaseModel):
    prefix: str
    description: str
    created: str = Field(description="ISO 8601, UTC.")
    created_by: str = Field(description="The key or user that registered it.")

    @classmethod
    def of(cls, p: StoredPrefix) -> "PrefixOut":
        return cls(
            prefix=p.prefix,
            description=p.description,
            created=iso_ns(p.created_ns),
            created_by=p.created_by,
        )


class AllocationOut(PrefixOut):
    tenant: str


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PrefixIn(_Body):
    """A prefix a tenant claims below one it owns."""

    prefix: str = Field(min_length=1, max_length=MAX_PREFIX, description="e.g. 88.123.4567")
    description: str = Field(default="", max_length=200)


class AllocationIn(PrefixIn):
    """A prefix a platform operator allocates to a tenant."""

    tenant: str = Field(min_length=1, max_length=64, description="The tenant's name.")


class IdentifierOut(BaseModel):
    handle: str
    prefix: str
    record: Record
    version: int = Field(description="Writes of the record so far (last write wins).")
    created: str
    updated: str

    @classmethod
    def of(cls, i: StoredIdentifier) -> "IdentifierOut":
        return cls(
            handle=i.handle,
            prefix=i.prefix,
            record=load_record(i.record),
            version=i.version,
            created=iso_ns(i.created_ns),
            updated=iso_ns(i.updated_ns),
        )


class ResolveManyIn(_Body):
    """Handles to resolve in one request (a pallet's contents, a bill of materials)."""

    handles: list[Annotated[str, Field(max_length=4 * MAX_HANDLE)]] = Field(
        min_length=1, max_length=MAX_BATCH, description=f"At most {MAX_BATCH}."
    )


class ResolvedItem(BaseModel):
    handle: str = Field(description="As asked.")
    status: int = Field(description="What GET /api/resolve/{handle} would answer: 200, 404 …")
    answer: Resolution | None = Field(default=None, description="With status 200.")
    detail: str | None = Field(default=None, description="Why not, otherwise.")
    node: str | None = Field(default=None, description="With 404: the node that said so.")


class ResolvedMany(BaseModel):
    results: list[ResolvedItem] = Field(description="One per handle, in the order asked.")


class IdentifierPage(BaseModel):
    identifiers: list[IdentifierOut] = Field(description="In registration order.")
    next_after: int | None = Field(description="Pass as `after` for the next page.")


async def identifier_node(conn: HTTPConnection, services: ServicesDep) -> IdentifierNode:
    """The node of ``Services.identifiers``; without one, a node over the catalog with the
    ``FACTORYOS_RESOLVER_*`` settings, made on first use and kept for the app's life (its
    cache must outlive a request). Runs on the event loop, so it is made once."""
    if services.identifiers is not None:
        return services.identifiers
    node: IdentifierNode | None = getattr(conn.app.state, "identifier_node", None)
    if node is None:
        try:
            node = IdentifierNode.open(services.catalog, ResolverConfig.from_env(os.environ))
        except ResolverConfigError as exc:
            raise HTTPException(status.HTTP_503_SERVICE_UNAVAILABLE, str(exc)) from exc
        conn.app.state.identifier_node = node
    return node


Node = Annotated[IdentifierNode, Depends(identifier_node)]


def _http(exc: TwinError) -> HTTPException:
    code = next((c for cls, c in _STATUS if isinstance(exc, cls)), 400)
    return HTTPException(code, str(exc))


async def _call(run: Callable[[], T]) -> T:
    """``run`` in the thread pool; the twin package's refusals as their statuses."""
    try:
        return await run_in_threadpool(run)
    except TwinError as exc:
        raise _http(exc) from exc


@router.post(
    "/identifiers/allocations",
    summary="Allocate a prefix to a tenant (platform)",
    status_code=status.HTTP_201_CREATED,
    responses={**_REGISTER_ERRORS, 404: {"description": "no such tenant"}},
)
async def allocate(
    services: ServicesDep, node: Node, who: PlatformCaller, body: AllocationIn, response: Response
) -> AllocationOut:
    tenant_id = await run_in_threadpool(services.catalog.tenant_id, body.tenant)
    if tenant_id is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, f"tenant: no tenant {body.tenant!r}")
    actor = f"user {who.username}"
    prefix, new = await _call(
        lambda: node.allocate(body.prefix, tenant_id, actor, body.description)
    )
    if new:
        detail = {"tenant": body.tenant, "description": prefix.description}
        await record(services, "identifier_prefix_allocated", who, prefix.prefix, detail)
    else:
        response.status_code = status.HTTP_200_OK
    return AllocationOut(**PrefixOut.of(prefix).model_dump(), tenant=body.tenant)


@router.post(
    "/identifiers/prefixes",
    summary="Claim a prefix below one the tenant owns",
    status_code=status.HTTP_201_CREATED,
    responses=_REGISTER_ERRORS,
)
async def claim(
    services: ServicesDep, node: Node, who: TenantCaller, body: PrefixIn, response: Response
) -> PrefixOut:
    prefix, new = await _call(
        lambda: node.claim(body.prefix, who.tenant_id, who.key_name, body.description)
    )
    if new:
        detail = {"description": prefix.description}
        await record(services, "identifier_prefix_claimed", who, prefix.prefix, detail)
    else:
        response.status_code = status.HTTP_200_OK
    return PrefixOut.of(prefix)


@router.get("/identifiers/prefixes", summary="The tenant's prefixes", responses=_UNCONFIGURED)
async def prefixes(node: Node, who: TenantCaller) -> list[PrefixOut]:
    found = await _call(lambda: node.registry.prefixes(who.tenant_id))
    return [PrefixOut.of(p) for p in found]


@router.put(
    "/identifiers/{handle:path}",
    summary="Register an identifier, or replace its record",
    responses={
        **_REGISTER_ERRORS,
        200: {"description": "registered already: its record replaced, version + 1"},
        201: {"model": IdentifierOut, "description": "registered (new)"},
    },
)
async def register(
    services: ServicesDep,
    node: Node,
    who: TenantCaller,
    handle: Annotated[str, _HANDLE],
    body: Record,
    response: Response,
) -> IdentifierOut:
    done = await _call(lambda: node.register(handle, body, who.tenant_id))
    stored = done.identifier
    response.status_code = status.HTTP_201_CREATED if done.created else status.HTTP_200_OK
    detail = {"version": stored.version, "type": body.type}
    await record(services, "identifier_registered", who, stored.handle, detail)
    return IdentifierOut.of(stored)


@router.get(
    "/identifiers",
    summary="The tenant's identifiers, with paging",
    responses={400: {"description": "not a prefix"}, **_UNCONFIGURED},
)
async def identifiers(
    node: Node,
    who: TenantCaller,
    prefix: Annotated[
        str | None, Query(description="Only at or below this prefix.", max_length=4 * MAX_PREFIX)
    ] = None,
    after: Annotated[int | None, Query(ge=0, le=2**53, description="From `next_after`.")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> IdentifierPage:
    page = await _call(lambda: node.registry.page(who.tenant_id, prefix, after, limit + 1))
    more = len(page) > limit
    shown = page[:limit]
    return IdentifierPage(
        identifiers=[IdentifierOut.of(i) for i in shown],
        next_after=shown[-1].id if more and shown else None,
    )


_RESOLVE_ERRORS: dict[int | str, dict[str, object]] = {
    400: {"description": "not a handle (the message names the part)"},
    404: {"model": NotFoundOut, "description": "no such identifier; `node` says who answered"},
    502: {"description": "the parent node was needed and did not answer usably"},
    504: {"description": "the parent node did not answer within the timeout"},
    508: {"description": "forwarding went round in a loop (misconfigured parent URLs)"},
    **_UNCONFIGURED,
}


@router.get(
    "/resolve/{handle:path}",
    summary="Resolve a handle to its record (any tenant)",
    response_model=Resolution,
    responses=_RESOLVE_ERRORS,
)
async def resolve(
    node: Node,
    handle: Annotated[str, _HANDLE],
    hops: Annotated[
        int, Header(alias=HOPS_HEADER, ge=0, le=64, description="Set by forwarding nodes.")
    ] = 0,
) -> Response:
    headers = {NODE_HEADER: node.name}
    try:
        answer = await node.resolve(handle, hops)
    except NotFoundError as exc:
        missing = MissingOut(detail=str(exc), node=exc.node, reason=exc.reason)
        body = missing.model_dump_json()
        return Response(body, status.HTTP_404_NOT_FOUND, headers, "application/json")
    except TwinError as exc:
        raise _http(exc) from exc
    # serialised here, once: the answer is already valid, FastAPI need not check it again
    return Response(answer.model_dump_json(), status.HTTP_200_OK, headers, "application/json")


@router.post(
    "/resolve",
    summary="Resolve several handles in one request (any tenant)",
    responses=_UNCONFIGURED,
    response_model=ResolvedMany,
)
async def resolve_many(
    node: Node,
    body: ResolveManyIn,
    hops: Annotated[
        int, Header(alias=HOPS_HEADER, ge=0, le=64, description="Set by forwarding nodes.")
    ] = 0,
) -> Response:
    outcomes = await node.resolve_many(body.handles, hops)
    results = ResolvedMany(
        results=[_item(h, o) for h, o in zip(body.handles, outcomes, strict=True)]
    )
    headers = {NODE_HEADER: node.name}
    return Response(results.model_dump_json(), status.HTTP_200_OK, headers, "application/json")


def _item(handle: str, outcome: Resolution | TwinError) -> ResolvedItem:
    if isinstance(outcome, Resolution):
        return ResolvedItem(handle=handle, status=status.HTTP_200_OK, answer=outcome)
    node = outcome.node if isinstance(outcome, NotFoundError) else None
    return ResolvedItem(
        handle=handle, status=_http(outcome).status_code, detail=str(outcome), node=node
    )
