"""EPCIS capture: a validated document's events, and the master data in its header, into the
tenant's event store, all or none.

Each event keeps its JSON as sent plus the fields queries filter on and every identifier it
names, with the identifier's role (``epc``, ``parent``, ``child``, ``input``, ``output`` and the
quantity classes) — the edges genealogy follows. Capture is idempotent on ``eventID``: an event
already stored is reported as a duplicate, not stored twice. An event without an ``eventID``
gets one from a hash of its content (``ni:///sha-256;…?ver=factoryos-1``: the same event sent
twice has the same hash; this is not CBV 2.0's canonical event hash, which FactoryOS does not
compute yet).

Master data (``epcisHeader.epcisMasterData``: vocabularies of locations, read points, …) is
kept per element, the latest description replacing an earlier one; its ``children`` are what
``WD_readPoint`` and ``WD_bizLocation`` queries follow.
"""

import hashlib
import json
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from factoryos.apps.trace.epcis.validate import (
    DocumentProblem,
    EpcisDocumentError,
    validate_document,
)
from factoryos.apps.trace.genealogy import edges_of
from factoryos.store.catalog import CatalogInputError
from factoryos.store.epcis_events import Captured, EpcisEvents, NewEvent
from factoryos.store.epcis_master import VocabularyElement, check_elements

EPC_LISTS = {  # JSON key → role of every identifier in it
    "epcList": "epc",
    "childEPCs": "child",
    "inputEPCList": "input",
    "outputEPCList": "output",
}
QUANTITY_LISTS = {
    "quantityList": "class",
    "childQuantityList": "child_class",
    "inputQuantityList": "input_class",
    "outputQuantityList": "output_class",
}


VTYPE = "urn:epcglobal:epcis:vtype:"
READ_POINT = f"{VTYPE}ReadPoint"
BUSINESS_LOCATION = f"{VTYPE}BusinessLocation"

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
STANDARD_CONTEXT = "https://ref.gs1.org/standards/epcis/"  # 2.0.0/epcis-context.jsonld and kin


def time_ns(text: str) -> int:
    """An EPCIS timestamp (ISO 8601 with an offset or Z) in ns since the epoch."""
    return (datetime.fromisoformat(text) - EPOCH) // timedelta(microseconds=1) * 1000


def identifiers(event: Mapping[str, Any]) -> Iterator[tuple[str, str]]:
    if isinstance(event.get("parentID"), str):
        yield "parent", event["parentID"]
    for key, role in EPC_LISTS.items():
        for epc in event.get(key) or []:
            yield role, str(epc)
    for key, role in QUANTITY_LISTS.items():
        for q in event.get(key) or []:
            yield role, str(q["epcClass"])


def _id_of(node: Any) -> str | None:
    return node.get("id") if isinstance(node, Mapping) else None


def event_id(event: Mapping[str, Any]) -> str:
    """The event's ``eventID``, or a hash of its content when it has none."""
    given = event.get("eventID")
    if isinstance(given, str) and given:
        return given
    content = {k: v for k, v in event.items() if k not in ("eventID", "recordTime")}
    digest = hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode())
    return f"ni:///sha-256;{digest.hexdigest()}?ver=factoryos-1"


def extension_context(document: Mapping[str, Any]) -> list[Any]:
    """The document's ``@context`` entries beyond the standard's own context: the
    namespace prefixes its extension fields need."""
    context = document.get("@context") or []
    entries = context if isinstance(context, list) else [context]
    return [c for c in entries if not (isinstance(c, str) and c.startswith(STANDARD_CONTEXT))]


def to_row(event: Mapping[str, Any], context: list[Any] | None = None) -> NewEvent:
    """The store's row of one schema-valid event. ``context``: the document's extension
    context, kept with an event that has none of its own, so that the event read back alone
    still says what its prefixes mean."""
    body = event if not context or "@context" in event else {"@context": context, **event}
    epcs = tuple(dict.fromkeys(identifiers(event)))
    return NewEvent(
        event_id=event_id(event),
        event_type=str(event["type"]),
        event_time_ns=time_ns(event["eventTime"]),
        action=event.get("action"),
        biz_step=event.get("bizStep"),
        disposition=event.get("disposition"),
        read_point=_id_of(event.get("readPoint")),
        biz_location=_id_of(event.get("bizLocation")),
        body=json.dumps(body, separators=(",", ":"), ensure_ascii=False),
        epcs=epcs,
        edges=edges_of(str(event["type"]), event.get("action"), epcs),
    )


def events_of(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The events a document carries (a query document's result body too)."""
    body = document.get("epcisBody") or {}
    if "eventList" in body:
        return list(body["eventList"])
    results = (body.get("queryResults") or {}).get("resultsBody") or {}
    return list(results.get("eventList") or [])


def master_data_of(document: Mapping[str, Any]) -> list[VocabularyElement]:
    """The vocabulary elements in a schema-valid document's header (a bare vocabulary type
    such as ``ReadPoint`` is read as the standard's ``urn:epcglobal:epcis:vtype:`` one)."""
    header = document.get("epcisHeader") or {}
    vocabularies = (header.get("epcisMasterData") or {}).get("vocabularyList") or []
    out: list[VocabularyElement] = []
    for vocabulary in vocabularies:
        kind = str(vocabulary["type"])
        kind = kind if ":" in kind else f"{VTYPE}{kind}"
        for element in vocabulary.get("vocabularyElementList") or []:
            attributes = tuple(
                (str(a["id"]), a.get("attribute")) for a in element.get("attributes") or []
            )
            children = tuple(str(c) for c in element.get("children") or [])
            out.append(VocabularyElement(kind, str(element["id"]), attributes, children))
    return out


def capture(
    store: EpcisEvents, tenant_id: int, document: Any, now_ns: int, source: str = "<document>"
) -> Captured:
    """Validate ``document`` and store its events and master data in one transaction; nothing
    is stored when any part of it is invalid."""
    validate_document(document, source)
    events = events_of(document)
    vocabulary = master_data_of(document)
    if not events and not vocabulary:
        problem = DocumentProblem("epcisBody", "no events or master data to capture")
        raise EpcisDocumentError(source, [problem])
    rows = []
    context = extension_context(document)
    for n, event in enumerate(events):
        try:
            rows.append(to_row(event, context))
        except (KeyError, ValueError, OverflowError) as exc:
            problem = DocumentProblem(f"epcisBody.eventList[{n}]", f"cannot store: {exc}")
            raise EpcisDocumentError(source, [problem]) from exc
    try:
        check_elements(vocabulary)
    except CatalogInputError as exc:
        problem = DocumentProblem("epcisHeader.epcisMasterData", str(exc))
        raise EpcisDocumentError(source, [problem]) from exc
    return store.capture(tenant_id, rows, now_ns, vocabulary)


__all__ = [
    "capture",
    "event_id",
    "events_of",
    "extension_context",
    "identifiers",
    "master_data_of",
    "time_ns",
    "to_row",
]
