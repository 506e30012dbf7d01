"""Run an EPCIS query page by page: the store scans what its columns can answer, each event's
JSON is checked for the rest, and a page token says where the next page starts.

A page holds at most ``perPage`` events, and may hold fewer (even none) when the scan budget
of one request runs out first; the standard allows this ("it does not mandate that the
server reaches this limit"). The token carries the scan position and a digest of the query,
so it resumes exactly after the last event scanned and cannot be replayed against a
different query. Tokens do not expire: they hold a position, not server state.
"""

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from factoryos.apps.trace.epcis.query_params import (
    EventQuery,
    QueryParameterError,
    QueryTooLargeError,
)
from factoryos.store.catalog import CatalogInputError
from factoryos.store.epcis_query import MAX_CHUNK, EpcisQueries, ScannedEvent

SCAN_BUDGET = 20_000  # events read per request when checks on the JSON reject most
COUNT_BUDGET = 100_000  # events read to enforce maxEventCount
STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld"


@dataclass(frozen=True)
class QueryPage:
    events: list[dict[str, Any]]
    next_token: str | None
    scanned: int  # events read from the store for this page


@dataclass(frozen=True)
class _Position:
    key: tuple[int, int] | None
    returned: int  # events returned by earlier pages (for eventCountLimit)


def _digest(query: EventQuery) -> str:
    return hashlib.sha256(query.canonical.encode()).hexdigest()[:16]


def _token(query: EventQuery, key: tuple[int, int], returned: int) -> str:
    data = json.dumps({"q": _digest(query), "k": list(key), "n": returned}).encode()
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _position(query: EventQuery) -> _Position:
    if query.page_token is None:
        return _Position(None, 0)
    try:
        padded = query.page_token + "=" * (-len(query.page_token) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded))
        key, returned, digest = (int(data["k"][0]), int(data["k"][1])), int(data["n"]), data["q"]
    except (ValueError, KeyError, TypeError, IndexError, binascii.Error) as exc:
        raise QueryParameterError("nextPageToken", "not a token this server issued") from exc
    if digest != _digest(query):
        raise QueryParameterError("nextPageToken", "belongs to a query with other parameters")
    return _Position(key, returned)


def iso(ns: int) -> str:
    """ns since the epoch as ISO 8601 UTC with milliseconds and ``Z``."""
    moment = datetime.fromtimestamp(ns // 1_000_000 / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _event(row: ScannedEvent) -> dict[str, Any]:
    event: dict[str, Any] = json.loads(row.body)
    event["recordTime"] = iso(row.record_time_ns)  # the repository's, as the standard says
    return event


def _meets(query: EventQuery, event: dict[str, Any]) -> bool:
    return all(check(event) for check in query.checks)


def _check_size(store: EpcisQueries, tenant_id: int, query: EventQuery) -> None:
    """Raise QueryTooLargeError when more events than ``maxEventCount`` match."""
    cap = query.max_event_count
    if cap is None:
        return
    if not query.checks:
        found = store.count(tenant_id, query.filter, cap + 1)
    else:
        found, key, scanned = 0, None, 0
        while found <= cap:
            rows = store.scan(tenant_id, query.filter, query.order_by, query.descending, key)
            if not rows:
                break
            scanned += len(rows)
            if scanned > COUNT_BUDGET:
                raise QueryTooLargeError(
                    f"maxEventCount: cannot be checked within {COUNT_BUDGET} events; "
                    "narrow the query (times, eventType, MATCH_ …)"
                )
            found += sum(_meets(query, _event(r)) for r in rows)
            key = rows[-1].key(query.order_by)
    if found > cap:
        raise QueryTooLargeError(f"more than maxEventCount={cap} events match")


def _located(store: EpcisQueries, tenant_id: int, query: EventQuery) -> EventQuery:
    """``query`` with its master-data parameters (WD_, HASATTR_, EQATTR_) turned into the
    locations they name; with EQ_ of the same field, only those both name."""
    where = query.filter
    for wanted in query.locations:
        try:
            if wanted.kind == "WD":
                found = store.descendants(tenant_id, wanted.vocabulary, wanted.values)
            else:
                found = store.having(tenant_id, wanted.vocabulary, wanted.attribute, wanted.values)
        except CatalogInputError as exc:
            raise QueryParameterError(wanted.name, str(exc)) from exc
        known: tuple[str, ...] | None = getattr(where, wanted.key)
        values: dict[str, Any] = {
            wanted.key: tuple(v for v in found if known is None or v in known)
        }
        where = replace(where, **values)
    return replace(query, filter=where, locations=())


def run_query(store: EpcisQueries, tenant_id: int, query: EventQuery) -> QueryPage:
    """One page of the answer to ``query`` for the tenant."""
    query = _located(store, tenant_id, query)
    at = _position(query)
    if at.key is None:
        _check_size(store, tenant_id, query)
    wanted = query.per_page
    if query.event_count_limit is not None:
        wanted = min(wanted, query.event_count_limit - at.returned)
    events: list[dict[str, Any]] = []
    key, scanned, exhausted = at.key, 0, False
    while len(events) < wanted and scanned < SCAN_BUDGET:
        chunk = min(MAX_CHUNK, max(wanted - len(events) + 1, 100 if query.checks else 1))
        rows = store.scan(tenant_id, query.filter, query.order_by, query.descending, key, chunk)
        for row in rows:
            if len(events) == wanted:
                break  # this row starts the next page
            key, scanned = row.key(query.order_by), scanned + 1
            event = _event(row)
            if _meets(query, event):
                events.append(event)
        else:
            exhausted = len(rows) < chunk
        if exhausted:
            break
    returned = at.returned + len(events)
    limit_reached = query.event_count_limit is not None and returned >= query.event_count_limit
    more = not exhausted and not limit_reached and key is not None
    token = _token(query, key, returned) if more and key is not None else None
    return QueryPage(events, token, scanned)


def query_document(events: list[dict[str, Any]], created_ns: int) -> dict[str, Any]:
    """The EPCISQueryDocument of a page (each event carries its own extension context)."""
    return {
        "@context": STANDARD_CONTEXT,
        "type": "EPCISQueryDocument",
        "schemaVersion": "2.0",
        "creationDate": iso(created_ns),
        "epcisBody": {
            "queryResults": {
                "queryName": "SimpleEventQuery",
                "resultsBody": {"eventList": events},
            }
        },
    }


__all__ = ["QueryPage", "iso", "query_document", "run_query"]
