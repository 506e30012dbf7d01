"""What a resolution answers: the record, where it came from, and its history links.

The same model is this node's answer at ``GET /api/resolve/{handle}`` and what a child node
reads back from its parent, so the two cannot drift apart.
"""

import time
from dataclasses import dataclass
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field

from factoryos.store.identifier_registry import StoredIdentifier
from factoryos.twin.records import Record, load_record

EVENTS_PATH = "/api/epcis/events"


class HistoryLink(BaseModel):
    """Where the EPCIS events naming one of the record's EPCs are queried. The query is the
    owner tenant's (EPCIS events are tenant data): other callers get an empty list there."""

    model_config = ConfigDict(frozen=True)

    epc: str
    events: str = Field(description="URL of the EPCIS query; relative: on the answering node.")


class Resolution(BaseModel):
    """A resolved identifier."""

    model_config = ConfigDict(frozen=True)

    handle: str
    prefix: str
    record: Record
    version: int = Field(description="Writes of the record so far (last write wins).")
    created: str = Field(description="When it was first registered (ISO 8601, UTC).")
    updated: str = Field(description="When its record was last written.")
    node: str = Field(description="The node whose registry holds the identifier.")
    hops: int = Field(ge=0, description="Forwards between the node asked and that node.")
    cached: bool = Field(description="Answered from the asked node's cache.")
    history: list[HistoryLink] = Field(description="EPCIS history of each EPC of the record.")


@dataclass(frozen=True, slots=True)
class Missing:
    """A handle no identifier has: ``node`` said so, ``reason`` says why."""

    handle: str
    node: str
    reason: str


Outcome = Resolution | Missing
"""What a lookup yields and the cache keeps: both are answers (404 is an answer too)."""


def iso_ns(ns: int) -> str:
    """ns since the epoch → ISO 8601 with Z, at the coarsest of ms, us and ns that loses
    nothing (as model.timeparse.format_ns(ns, "exact"), without numpy's per-call cost on
    the resolver's cache-miss path)."""
    seconds, fraction = divmod(ns, 1_000_000_000)
    whole = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds))
    if fraction % 1_000_000 == 0:
        return f"{whole}.{fraction // 1_000_000:03d}Z"
    if fraction % 1_000 == 0:
        return f"{whole}.{fraction // 1_000:06d}Z"
    return f"{whole}.{fraction:09d}Z"


def history_links(epcs: list[str]) -> list[HistoryLink]:
    return [
        HistoryLink(epc=epc, events=f"{EVENTS_PATH}?MATCH_anyEPC={quote(epc, safe='')}")
        for epc in epcs
    ]


def resolution_of(stored: StoredIdentifier, node: str) -> Resolution:
    """A local identifier's answer."""
    record = load_record(stored.record)
    return Resolution(
        handle=stored.handle,
        prefix=stored.prefix,
        record=record,
        version=stored.version,
        created=iso_ns(stored.created_ns),
        updated=iso_ns(stored.updated_ns),
        node=node,
        hops=0,
        cached=False,
        history=history_links(record.epcs),
    )


def forwarded(answer: Resolution, parent_url: str) -> Resolution:
    """The parent's answer as this node gives it: one more hop, and history links that
    were relative to the parent made absolute (they are queried there, not here)."""
    links = [
        link.model_copy(update={"events": parent_url + link.events})
        if link.events.startswith("/")
        else link
        for link in answer.history
    ]
    return answer.model_copy(update={"hops": answer.hops + 1, "cached": False, "history": links})


__all__ = [
    "HistoryLink",
    "Missing",
    "Outcome",
    "Resolution",
    "forwarded",
    "history_links",
    "iso_ns",
    "resolution_of",
]
