"""Keyset paging over catalog tables, newest row first: a page is the rows with ids below the
last page's smallest, so rows written meanwhile never shift or repeat what a reader sees."""

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

from sqlalchemy import Select

from factoryos.store.catalog import Catalog, CatalogInputError


class _HasId(Protocol):
    id: Any


R = TypeVar("R", bound=_HasId)
T = TypeVar("T")


def newest_first(
    catalog: Catalog,
    query: Select[R],
    id_column: Any,
    convert: Callable[[R], T],
    *,
    before: int | None,
    limit: int,
    max_page: int,
) -> tuple[list[T], int | None]:
    """Up to ``limit`` rows of ``query`` with ids below ``before``, highest id first, as
    ``convert`` makes them; and the ``before`` of the next (older) page, None on the last."""
    if not 0 < limit <= max_page:
        raise CatalogInputError(f"limit: {limit} is not 1 to {max_page}")
    if before is not None:
        query = query.where(id_column < before)
    with catalog._read() as s:
        rows = s.scalars(query.order_by(id_column.desc()).limit(limit + 1)).all()
        found = [convert(r) for r in rows[:limit]]
    return found, (int(rows[limit - 1].id) if len(rows) > limit else None)


__all__ = ["newest_first"]
