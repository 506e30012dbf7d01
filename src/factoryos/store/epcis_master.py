"""EPCIS master data: the vocabulary elements a tenant's documents describe (locations, read
points, …), with their attributes and children, so that a ``WD_`` query ("this location or
anything in it") knows what is in what.

Elements are written in the capture's transaction (:meth:`EpcisEvents.capture`); a later
document's description of an element replaces the earlier one, as a master-data update does.
"""

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from factoryos.store.catalog import Base, CatalogInputError

MAX_ID = 400  # characters of a vocabulary type or element URI, as for events
MAX_ELEMENTS = 10_000  # vocabulary elements per capture
MAX_SCAN = 100_000  # elements of one vocabulary read to answer an attribute query

_Id = BigInteger().with_variant(Integer(), "sqlite")


class VocabularyRow(Base):
    __tablename__ = "epcis_vocabulary"
    __table_args__ = (UniqueConstraint("tenant_id", "vocabulary", "element"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id"), nullable=False)
    vocabulary: Mapped[str] = mapped_column(String(MAX_ID), nullable=False)
    element: Mapped[str] = mapped_column(String(MAX_ID), nullable=False)
    attributes: Mapped[str] = mapped_column(Text, nullable=False)  # JSON, as sent
    children: Mapped[str] = mapped_column(Text, nullable=False)  # JSON list of element URIs
    record_time_ns: Mapped[int] = mapped_column(BigInteger, nullable=False)


@dataclass(frozen=True, slots=True)
class VocabularyElement:
    """One element of a vocabulary as a document describes it."""

    vocabulary: str  # e.g. urn:epcglobal:epcis:vtype:BusinessLocation
    element: str
    attributes: tuple[tuple[str, Any], ...] = ()  # (attribute id, value) as sent
    children: tuple[str, ...] = ()


def check_elements(elements: Sequence[VocabularyElement]) -> None:
    """Refuse what the table cannot hold, naming the element."""
    if len(elements) > MAX_ELEMENTS:
        raise CatalogInputError(f"{len(elements)} vocabulary elements, at most {MAX_ELEMENTS}")
    for n, e in enumerate(elements):
        named = (("type", e.vocabulary), ("id", e.element), *(("child", c) for c in e.children))
        for what, text in named:
            if not text or len(text) > MAX_ID:
                raise CatalogInputError(
                    f"vocabulary element {n} ({e.element[:80]!r}): {what} must be 1 to "
                    f"{MAX_ID} characters"
                )


def put_elements(
    s: Session, tenant_id: int, elements: Sequence[VocabularyElement], record_time_ns: int
) -> None:
    """Insert or replace ``elements`` in the session's transaction."""
    for e in elements:
        row = s.scalars(
            select(VocabularyRow).where(
                VocabularyRow.tenant_id == tenant_id,
                VocabularyRow.vocabulary == e.vocabulary,
                VocabularyRow.element == e.element,
            )
        ).one_or_none()
        if row is None:
            row = VocabularyRow(tenant_id=tenant_id, vocabulary=e.vocabulary, element=e.element)
            s.add(row)
        row.attributes = json.dumps([[k, v] for k, v in e.attributes], ensure_ascii=False)
        row.children = json.dumps(list(e.children), ensure_ascii=False)
        row.record_time_ns = record_time_ns
        s.flush()  # a document may describe one element twice: the later one wins


def descendants(
    s: Session, tenant_id: int, vocabulary: str, roots: Sequence[str], limit: int
) -> list[str]:
    """``roots`` and every element below them in ``vocabulary`` (children, their children, …),
    each once; a :class:`CatalogInputError` beyond ``limit``. Cycles in the data end."""
    found = dict.fromkeys(roots)
    frontier = list(found)
    while frontier:
        level: list[str] = []
        for at in range(0, len(frontier), 500):  # bounded IN lists
            rows = s.scalars(
                select(VocabularyRow.children).where(
                    VocabularyRow.tenant_id == tenant_id,
                    VocabularyRow.vocabulary == vocabulary,
                    VocabularyRow.element.in_(frontier[at : at + 500]),
                )
            )
            level += [c for text in rows for c in json.loads(text) if c not in found]
        frontier = list(dict.fromkeys(level))
        found.update(dict.fromkeys(frontier))
        if len(found) > limit:
            raise CatalogInputError(f"more than {limit} locations within {', '.join(roots)}")
    return list(found)


def having(
    s: Session,
    tenant_id: int,
    vocabulary: str,
    attribute: str | None,
    values: Sequence[str],
    limit: int,
) -> list[str]:
    """The elements of ``vocabulary`` with an attribute named in ``values`` (``attribute``
    None), or whose ``attribute`` equals one of ``values`` (compared as text; a structured
    value as its JSON); a :class:`CatalogInputError` beyond ``limit`` elements found or
    ``MAX_SCAN`` read."""
    rows = s.execute(
        select(VocabularyRow.element, VocabularyRow.attributes)
        .where(VocabularyRow.tenant_id == tenant_id, VocabularyRow.vocabulary == vocabulary)
        .order_by(VocabularyRow.element)
        .limit(MAX_SCAN + 1)
    ).all()
    if len(rows) > MAX_SCAN:
        raise CatalogInputError(f"more than {MAX_SCAN} elements in {vocabulary} to look through")
    wanted = set(values)
    found = [
        element
        for element, text in rows
        if any(
            name in wanted if attribute is None else name == attribute and _text(v) in wanted
            for name, v in json.loads(text)
        )
    ]
    if len(found) > limit:
        raise CatalogInputError(f"more than {limit} locations have that attribute")
    return found


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


__all__ = [
    "MAX_ELEMENTS",
    "VocabularyElement",
    "VocabularyRow",
    "check_elements",
    "descendants",
    "having",
    "put_elements",
]
