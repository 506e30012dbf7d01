"""Who may register what: prefixes and identifiers under them.

The rules (docs/identifiers.md, "Registration"):

- **Allocation** (platform operators): a prefix is allocated to a tenant, as a national
  top-level node allocates an enterprise its prefix. Refused when the prefix, one above it or
  one below it belongs to another tenant; allocating a tenant's own prefix again is a no-op.
- **Claim** (the tenant's engineers): a tenant claims a free prefix below one it owns, to
  name a product line or a plant (``88.123`` → ``88.123.4567``).
- **Ownership**: the owner of a prefix is the tenant of the longest registered prefix at or
  above it, so whoever owns ``88.123`` owns ``88.123.4567/x`` (claimed or not). Allocation
  keeps this unambiguous: no prefix is ever below another tenant's.
- **Identifiers**: a tenant registers identifiers only under prefixes it owns. Registering a
  handle again replaces its record (last write wins) and counts a new ``version``.

Prefixes are not released or moved (yet): a mistaken allocation is corrected in the catalog.
Synchronous (it uses the catalog): call it from worker threads.
"""

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from factoryos.store.identifier_registry import (
    HandleOwnedError,
    IdentifierStore,
    Lookup,
    PrefixExistsError,
    StoredIdentifier,
    StoredPrefix,
)
from factoryos.twin.errors import PrefixNotOwnedError, PrefixTakenError
from factoryos.twin.handles import Handle, ancestors, parse_handle, parse_prefix
from factoryos.twin.records import Record, parse_record

MAX_DESCRIPTION = 200
RecordInput = Record | Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class Registered:
    """A registration's result: the stored identifier, and whether it was new."""

    identifier: StoredIdentifier
    created: bool


class IdentifierRegistry:
    """The node's prefixes and identifiers, with the ownership rules above."""

    def __init__(self, store: IdentifierStore, clock: Callable[[], int] = time.time_ns) -> None:
        self.store = store
        self._clock = clock

    # -- prefixes ---------------------------------------------------------------------

    def allocate(
        self, prefix: str, tenant_id: int, actor: str, description: str = ""
    ) -> tuple[StoredPrefix, bool]:
        """Allocate ``prefix`` to ``tenant_id`` (platform operators); also whether it is new."""
        prefix = parse_prefix(prefix)
        above = self.store.prefixes_among(ancestors(prefix))
        mine = next((p for p in above if p.prefix == prefix), None)
        if mine is not None and mine.tenant_id == tenant_id:
            return mine, False
        taken = [p for p in above if p.tenant_id != tenant_id]
        taken += [p for p in self.store.prefixes_below(prefix) if p.tenant_id != tenant_id]
        if taken:
            raise PrefixTakenError(
                f"prefix: {prefix!r} overlaps {taken[0].prefix!r}, allocated to another tenant"
            )
        return self._add(tenant_id, prefix, description, actor), True

    def claim(
        self, prefix: str, tenant_id: int, actor: str, description: str = ""
    ) -> tuple[StoredPrefix, bool]:
        """Claim ``prefix`` below one ``tenant_id`` owns (a tenant's engineers); also
        whether it is new."""
        prefix = parse_prefix(prefix)
        owner = self._owner(prefix)
        if owner is not None and owner.prefix == prefix:
            if owner.tenant_id == tenant_id:
                return owner, False
            raise PrefixTakenError(f"prefix: {prefix!r} is allocated to another tenant")
        if owner is None or owner.tenant_id != tenant_id:
            raise PrefixNotOwnedError(
                f"prefix: {prefix!r} is not below a prefix your tenant owns; a platform "
                "operator allocates top prefixes"
            )
        return self._add(tenant_id, prefix, description, actor), True

    def prefixes(self, tenant_id: int) -> list[StoredPrefix]:
        return self.store.tenant_prefixes(tenant_id)

    def _add(self, tenant_id: int, prefix: str, description: str, actor: str) -> StoredPrefix:
        description = description[:MAX_DESCRIPTION]
        try:
            return self.store.add_prefix(tenant_id, prefix, description, actor, self._clock())
        except PrefixExistsError as exc:  # a concurrent request registered it first
            raise PrefixTakenError(f"prefix: {prefix!r} was registered just now") from exc

    def _owner(self, prefix: str) -> StoredPrefix | None:
        """The longest registered prefix at or above ``prefix``: its tenant owns it."""
        found = {p.prefix: p for p in self.store.prefixes_among(ancestors(prefix))}
        return next((found[a] for a in ancestors(prefix) if a in found), None)

    # -- identifiers ------------------------------------------------------------------

    def register(self, handle: str, record: RecordInput, tenant_id: int) -> Registered:
        """Register ``handle`` with ``record`` (a :class:`Record` or a mapping) for
        ``tenant_id``, or replace its record."""
        parsed = parse_handle(handle)
        checked = parse_record(record)
        self._check_owner(parsed, tenant_id)
        try:
            stored, created = self.store.upsert(
                tenant_id, str(parsed), parsed.prefix, checked.model_dump_json(), self._clock()
            )
        except HandleOwnedError as exc:
            raise PrefixNotOwnedError(str(exc)) from exc
        return Registered(stored, created)

    def register_many(self, tenant_id: int, items: Sequence[tuple[str, RecordInput]]) -> list[str]:
        """Register new handles in one transaction, all or nothing (bulk loads); their
        handles as stored. Refused whole if one is malformed, not owned or registered."""
        rows, owners = [], set[str]()
        for handle, record in items:
            parsed = parse_handle(handle)
            if parsed.prefix not in owners:
                self._check_owner(parsed, tenant_id)
                owners.add(parsed.prefix)
            rows.append((str(parsed), parsed.prefix, parse_record(record).model_dump_json()))
        self.store.insert_many(tenant_id, rows, self._clock())
        return [h for h, _, _ in rows]

    def lookup(self, handle: Handle) -> Lookup:
        """The stored identifier, or whether this node serves the handle's prefix."""
        return self.store.lookup(str(handle), ancestors(handle.prefix))

    def page(
        self, tenant_id: int, prefix: str | None, after: int | None, limit: int
    ) -> list[StoredIdentifier]:
        """The tenant's own identifiers (any status), in registration order."""
        checked = None if prefix is None else parse_prefix(prefix)
        return self.store.page(tenant_id, checked, after, limit)

    def _check_owner(self, handle: Handle, tenant_id: int) -> None:
        owner = self._owner(handle.prefix)
        if owner is None:
            raise PrefixNotOwnedError(
                f"handle: prefix {handle.prefix!r} is not allocated on this node; a platform "
                "operator allocates prefixes"
            )
        if owner.tenant_id != tenant_id:
            raise PrefixNotOwnedError(
                f"handle: prefix {handle.prefix!r} belongs to another tenant "
                f"(under {owner.prefix!r})"
            )


__all__ = ["IdentifierRegistry", "RecordInput", "Registered"]
