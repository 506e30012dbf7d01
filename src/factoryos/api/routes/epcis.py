"""Traceability over REST (docs/trace.md): EPCIS 2.0 capture and query, one event by its ID,
and genealogy traces for the trace page.

Capture takes an EPCISDocument as JSON/JSON-LD or XML and stores it whole or not at all
(answering with what was stored and what was already there: capture is idempotent on
eventID); it answers synchronously with 201 rather than the standard's 202 and capture job,
since a document is stored before the answer leaves. Query follows the standard's REST
binding: the query language's parameters in the URL, pipe-delimited lists, ``perPage`` and
``nextPageToken``, the next page's URL in a ``Link: <…>; rel="next"`` header, and an
EPCISQueryDocument as the body.
"""

import time
from typing import Annotated, Any, Literal

from fastapi import APIRouter, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.apps.trace.epcis.capture import capture
from factoryos.apps.trace.epcis.query import iso, query_document, run_query
from factoryos.apps.trace.epcis.query_params import (
    DEFAULT_PER_PAGE,
    MAX_PER_PAGE,
    QueryParameterError,
    QueryTooLargeError,
    parse_query,
)
from factoryos.apps.trace.epcis.validate import EpcisDocumentError, parse_document
from factoryos.apps.trace.epcis.xml import parse_xml_document
from factoryos.apps.trace.genealogy import Direction, walk_stored
from factoryos.apps.trace.recall import recall_scope, to_json
from factoryos.store.epcis_events import EpcisEvents
from factoryos.store.epcis_query import EpcisQueries

router = APIRouter(tags=["traceability"])

EPCIS_HEADERS = {"GS1-EPCIS-Version": "2.0.0", "GS1-CBV-Version": "2.0.0"}
_XML_TYPES = ("application/xml", "text/xml")
_QUERY_PARAMETERS = (  # documented in the OpenAPI; the rest of the language is accepted too
    ("eventType", "Event types, pipe-separated: ObjectEvent|AggregationEvent|…"),
    ("GE_eventTime", "eventTime ≥ this (ISO 8601 with a zone)."),
    ("LT_eventTime", "eventTime < this."),
    ("GE_recordTime", "recordTime ≥ this."),
    ("LT_recordTime", "recordTime < this."),
    ("EQ_action", "ADD, OBSERVE or DELETE."),
    ("EQ_bizStep", "CBV business steps, e.g. shipping|receiving."),
    ("EQ_disposition", "CBV dispositions, e.g. in_transit."),
    ("EQ_readPoint", "Read point URIs."),
    ("WD_readPoint", "Read points, each with every read point below it (master data children)."),
    ("EQ_bizLocation", "Business location URIs."),
    ("WD_bizLocation", "Locations, each with every location below it (master data children)."),
    ("MATCH_epc", "EPCs or patterns (urn:epc:idpat:…) in epcList/childEPCs."),
    ("MATCH_parentID", "Parent identifiers."),
    ("MATCH_inputEPC", "Transformation inputs."),
    ("MATCH_outputEPC", "Transformation outputs."),
    ("MATCH_anyEPC", "An identifier in any role."),
    ("MATCH_anyEPCClass", "An EPC class in any quantity list."),
    ("EQ_eventID", "Event IDs."),
    ("GT_quantity", "A quantity element's quantity > this (also GE_, LT_, LE_, EQ_)."),
    ("orderBy", "eventTime (default) or recordTime."),
    ("orderDirection", "DESC (default) or ASC."),
    ("eventCountLimit", "The first N events of the ordering, over all pages."),
    ("maxEventCount", "Refuse (413) when more events than this match."),
    ("perPage", f"Events per page, 1 to {MAX_PER_PAGE} (default {DEFAULT_PER_PAGE})."),
    ("nextPageToken", "From the previous page's Link header."),
)
_QUERY_DOC = {
    "parameters": [
        {
            "name": name,
            "in": "query",
            "required": False,
            "schema": {"type": "string"},
            "description": text,
        }
        for name, text in _QUERY_PARAMETERS
    ]
}


def _problem(status_code: int, kind: str, detail: str, **extra: Any) -> HTTPException:
    """An error in the standard's style: its exception type and a message naming the part."""
    body = {"type": f"epcisException:{kind}", "title": kind, "status": status_code}
    return HTTPException(status_code, detail={**body, "detail": detail, **extra})


class CaptureOut(BaseModel):
    captured: int = Field(description="Events stored now.")
    duplicates: list[str] = Field(description="eventIDs already stored: not stored again.")
    master_data: int = Field(description="Master-data vocabulary elements stored (or replaced).")


def _document(body: bytes, content_type: str) -> Any:
    if content_type.split(";")[0].strip().lower() in _XML_TYPES:
        return parse_xml_document(body, "request body")
    return parse_document(body, "request body")


@router.post(
    "/api/epcis/capture",
    status_code=status.HTTP_201_CREATED,
    response_model=CaptureOut,
    responses={400: {"description": "not a valid EPCIS 2.0 document: nothing was stored"}},
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "application/ld+json": {"schema": {"type": "object"}},
                "application/json": {"schema": {"type": "object"}},
                "application/xml": {"schema": {"type": "string"}},
            },
        }
    },
)
async def capture_document(
    request: Request, services: ServicesDep, principal: TenantCaller
) -> CaptureOut:
    """Capture an EPCISDocument (JSON/JSON-LD, or XML with an XML content type): validated
    against the standard's schema, stored whole or not at all; events whose eventID is
    already stored are reported, not stored twice."""
    body = await request.body()
    content_type = request.headers.get("content-type", "application/json")

    def work() -> CaptureOut:
        document = _document(body, content_type)
        store = EpcisEvents(services.catalog)
        done = capture(store, principal.tenant_id, document, time.time_ns(), "request body")
        return CaptureOut(
            captured=done.written, duplicates=list(done.duplicates), master_data=done.described
        )

    try:
        return await run_in_threadpool(work)
    except EpcisDocumentError as exc:
        problems = [{"path": p.path, "message": p.message} for p in exc.problems]
        raise _problem(400, "ValidationException", str(exc), problems=problems) from exc


def _next_link(request: Request, token: str) -> str:
    url = request.url.remove_query_params("nextPageToken").include_query_params(nextPageToken=token)
    return f'<{url}>; rel="next"'


@router.get("/api/epcis/events", openapi_extra=_QUERY_DOC)
async def query_events(
    request: Request, response: Response, services: ServicesDep, principal: TenantCaller
) -> dict[str, Any]:
    """Query the tenant's events with the EPCIS 2.0 query language (SimpleEventQuery);
    one page per call, the next page's URL in the ``Link`` header."""
    params: dict[str, list[str]] = {}
    for name, value in request.query_params.multi_items():
        params.setdefault(name, []).append(value)
    try:
        query = parse_query(params)
        store = EpcisQueries(services.catalog)
        page = await run_in_threadpool(run_query, store, principal.tenant_id, query)
    except QueryParameterError as exc:
        raise _problem(400, "QueryParameterException", str(exc), parameter=exc.parameter) from exc
    except QueryTooLargeError as exc:
        raise _problem(413, "QueryTooLargeException", str(exc)) from exc
    response.headers.update(EPCIS_HEADERS)
    if page.next_token is not None:
        response.headers["Link"] = _next_link(request, page.next_token)
    return query_document(page.events, time.time_ns())


@router.get("/api/epcis/events/{event_id:path}", responses={404: {"description": "no such event"}})
async def get_event(
    event_id: Annotated[str, Path(max_length=400, description="The eventID (URL-encoded).")],
    response: Response,
    services: ServicesDep,
    principal: TenantCaller,
) -> dict[str, Any]:
    """One event of the tenant by its eventID."""
    query = parse_query({"EQ_eventID": [event_id], "perPage": ["1"]})
    store = EpcisQueries(services.catalog)
    page = await run_in_threadpool(run_query, store, principal.tenant_id, query)
    if not page.events:
        raise HTTPException(404, f"event {event_id!r}: not in this tenant's repository")
    response.headers.update(EPCIS_HEADERS)
    return page.events[0]


class StepOut(BaseModel):
    source: str
    target: str
    event_id: str
    event_type: str
    event_time: str


class TraceOut(BaseModel):
    root: str
    direction: Literal["backward", "forward"]
    levels: dict[str, int] = Field(description="Identifier → steps from the root (root: 0).")
    steps: list[StepOut] = Field(description="Edges: source led to target through an event.")
    truncated: bool = Field(description="Stopped at depth: the last level was not followed.")


@router.get("/api/trace/genealogy", response_model=TraceOut)
async def genealogy(
    services: ServicesDep,
    principal: TenantCaller,
    identifier: Annotated[
        str, Query(alias="id", max_length=400, description="EPC, lot class or SSCC.")
    ],
    direction: Annotated[
        Literal["backward", "forward"],
        Query(description="backward: what went into it; forward: where it went."),
    ] = "backward",
    depth: Annotated[int, Query(ge=1, le=100, description="Levels to follow.")] = 10,
) -> TraceOut:
    """The genealogy of an identifier through transformations and aggregations."""
    found = await run_in_threadpool(
        walk_stored, EpcisEvents(services.catalog), principal.tenant_id, identifier,
        Direction(direction), depth,
    )  # fmt: skip
    steps = [
        StepOut(source=s.source, target=s.target, event_id=s.event_id,
                event_type=s.event_type, event_time=iso(s.event_time_ns))
        for s in found.steps
    ]  # fmt: skip
    return TraceOut(
        root=found.root, direction=direction, levels=found.depth, steps=steps,
        truncated=found.truncated,
    )  # fmt: skip


@router.get("/api/trace/recall", responses={404: {"description": "no event names it"}})
async def recall(
    services: ServicesDep,
    principal: TenantCaller,
    identifier: Annotated[
        str,
        Query(alias="id", max_length=400, description="A material or product lot, unit or case."),
    ],
    depth: Annotated[int, Query(ge=1, le=100, description="Levels to follow.")] = 100,
) -> dict[str, Any]:
    """Recall scope: the units, lots, cases, shipments and customers an identifier reached,
    and where each affected item is now (the latest event naming it or its container)."""
    store = EpcisEvents(services.catalog)
    scope = await run_in_threadpool(recall_scope, store, principal.tenant_id, identifier, depth)
    if not scope.found:
        raise HTTPException(404, f"id: no event of this tenant names {identifier!r}")
    return to_json(scope)
