"""The identifier registry's tables: prefixes with their owner tenant, and identifiers with
their record (JSON text).

A prefix and a handle are unique across the node, not per tenant: the registry resolves a
handle to one record whoever asks (twin/registry.py holds the rules of who may register
what; this module only stores rows and keeps the uniqueness). Re-registering a handle is
last-write-wins: the record is replaced and ``version`` counts the writes. Times are int64
ns since the epoch (UTC).

The store knows nothing of handle grammar or record fields (the twin package, beside it,
validates them): it takes strings the caller checked.
"""

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import Connection, CursorResult
from sqlalchemy.exc import DataError, IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Mapped, Session, mapped_column
from sqlalchemy.sql import Update

from factoryos.store.catalog import Base, Catalog, CatalogError, CatalogInputError

MAX_PREFIX = 140  # characters of a prefix (the twin grammar allows 135)
MAX_HANDLE = 340  # characters of a handle (the twin grammar allows 336)
MAX_DESCRIPTION = 200
MAX_ACTOR = 128
MAX_RECORD = 20_000  # characters of record JSON (the twin records allow 16,384 bytes)
MAX_PAGE = 1000
MAX_BATCH = 10_000  # identifiers per bulk registration
_CHUNK = 500  # rows per bounded IN list
_Id = BigInteger().with_variant(Integer(), "sqlite")


class IdentifierStoreError(CatalogError):
    """Root of the identifier store's refusals."""


class PrefixExistsError(IdentifierStoreError):
    """The prefix is registered already (perhaps just now, by a concurrent request)."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        super().__init__(f"prefix: {prefix!r} is registered already")


class HandleOwnedError(IdentifierStoreError):
    """The handle is registered by another tenant."""

    def __init__(self, handle: str) -> None:
        self.handle = handle
        super().__init__(f"handle: {handle!r} is registered by another tenant")


class IdentifierPrefixRow(Base):
    __tablename__ = "identifier_prefixes"
    __table_args__ = (
        UniqueConstraint("prefix", name="uq_identifier_prefixes_prefix"),
        Index("ix_identifier_prefixes_tenant", "tenant_id", "prefix"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id"), nullable=False)
    prefix: Mapped[str] = mapped_column(String(MAX_PREFIX), nullable=False)
    description: Mapped[str] = mapped_column(String(MAX_DESCRIPTION), nullable=False)
    created: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="ns since the epoch")
    created_by: Mapped[str] = mapped_column(String(MAX_ACTOR), nullable=False)


class IdentifierRow(Base):
    __tablename__ = "identifiers"
    __table_args__ = (
        UniqueConstraint("handle", name="uq_identifiers_handle"),
        Index("ix_identifiers_tenant_prefix", "tenant_id", "prefix", "id"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(Integer, ForeignKey("tenants.id"), nullable=False)
    handle: Mapped[str] = mapped_column(String(MAX_HANDLE), nullable=False)
    prefix: Mapped[str] = mapped_column(String(MAX_PREFIX), nullable=False)
    record: Mapped[str] = mapped_column(Text, nullable=False, doc="JSON the twin package made")
    version: Mapped[int] = mapped_column(Integer, nullable=False, doc="1, then +1 per write")
    created: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="ns since the epoch")
    updated: Mapped[int] = mapped_column(BigInteger, nullable=False, doc="ns since the epoch")


@dataclass(frozen=True, slots=True)
class StoredPrefix:
    prefix: str
    tenant_id: int
    description: str
    created_ns: int
    created_by: str


@dataclass(frozen=True, slots=True)
class StoredIdentifier:
    id: int
    tenant_id: int
    handle: str
    prefix: str
    record: str
    version: int
    created_ns: int
    updated_ns: int


@dataclass(frozen=True, slots=True)
class Lookup:
    """What the node holds for a handle: the identifier, or whether one of the prefixes
    asked about is registered here (then the node answers for the handle: it does not
    exist)."""

    found: StoredIdentifier | None
    served: bool


_P, _I = IdentifierPrefixRow, IdentifierRow
_IDENTIFIER_COLUMNS = (
    _I.id,
    _I.tenant_id,
    _I.handle,
    _I.prefix,
    _I.record,
    _I.version,
    _I.created,
    _I.updated,
)
# Built once: resolution runs this per cache miss, so SQLAlchemy reuses its compiled form.
_BY_HANDLE = select(*_IDENTIFIER_COLUMNS).where(_I.handle == bindparam("handle"))
_SERVED = select(_P.id).where(_P.prefix.in_(bindparam("prefixes", expanding=True))).limit(1)


def _prefix(row: IdentifierPrefixRow) -> StoredPrefix:
    return StoredPrefix(row.prefix, row.tenant_id, row.description, row.created, row.created_by)


def _check_texts(handle: str, prefix: str, record: str) -> None:
    if len(handle) > MAX_HANDLE or len(prefix) > MAX_PREFIX:
        raise CatalogInputError(f"handle: longer than {MAX_HANDLE} characters")
    if len(record) > MAX_RECORD:
        raise CatalogInputError(f"record: {len(record):,} characters, at most {MAX_RECORD:,}")


class IdentifierStore:
    """The catalog's identifier registry (synchronous, like the catalog: call it from
    threads, not the event loop)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    # -- prefixes ---------------------------------------------------------------------

    def prefixes_among(self, prefixes: Sequence[str]) -> list[StoredPrefix]:
        """The registered prefixes of ``prefixes`` (a prefix and its ancestors: a few)."""
        query = select(_P).where(_P.prefix.in_(list(prefixes[:_CHUNK])))
        with self._catalog._read() as s:
            return [_prefix(r) for r in s.scalars(query)]

    def prefixes_below(self, prefix: str, limit: int = 100) -> list[StoredPrefix]:
        """Registered prefixes strictly below ``prefix`` (at most ``limit``)."""
        query = (
            select(_P)
            .where(_P.prefix.startswith(prefix + ".", autoescape=True))
            .order_by(_P.prefix)
            .limit(limit)
        )
        with self._catalog._read() as s:
            return [_prefix(r) for r in s.scalars(query)]

    def tenant_prefixes(self, tenant_id: int) -> list[StoredPrefix]:
        query = select(_P).where(_P.tenant_id == tenant_id).order_by(_P.prefix).limit(MAX_PAGE)
        with self._catalog._read() as s:
            return [_prefix(r) for r in s.scalars(query)]

    def add_prefix(
        self, tenant_id: int, prefix: str, description: str, created_by: str, now_ns: int
    ) -> StoredPrefix:
        """Register ``prefix`` to ``tenant_id``; :class:`PrefixExistsError` if it is taken
        (the unique constraint decides between concurrent requests)."""
        if len(prefix) > MAX_PREFIX or len(description) > MAX_DESCRIPTION:
            raise CatalogInputError(f"prefix: longer than {MAX_PREFIX} characters")
        row = IdentifierPrefixRow(
            tenant_id=tenant_id,
            prefix=prefix,
            description=description,
            created=now_ns,
            created_by=created_by[:MAX_ACTOR],
        )
        try:
            with self._catalog._write() as s:
                s.add(row)
                s.flush()
                return _prefix(row)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise PrefixExistsError(prefix) from exc
            raise

    # -- identifiers ------------------------------------------------------------------

    def get(self, handle: str) -> StoredIdentifier | None:
        with self._connect() as conn:
            row = conn.execute(_BY_HANDLE, {"handle": handle}).first()
        return None if row is None else StoredIdentifier(*row)

    def lookup(self, handle: str, prefixes: Sequence[str]) -> Lookup:
        """The identifier ``handle``; when there is none, whether any of ``prefixes`` (the
        handle's prefix and its ancestors) is registered here. One connection, two indexed
        reads at most: this is the resolver's cache-miss path."""
        with self._connect() as conn:
            row = conn.execute(_BY_HANDLE, {"handle": handle}).first()
            if row is not None:
                return Lookup(StoredIdentifier(*row), True)
            served = conn.execute(_SERVED, {"prefixes": list(prefixes)}).first() is not None
        return Lookup(None, served)

    @contextmanager
    def _connect(self) -> Iterator[Connection]:
        """A bare connection for the read-only lookups: a third of an ORM session's cost,
        which is most of a cache miss. Errors as the catalog's own reads raise them."""
        try:
            with self._catalog._engine.connect() as conn:
                yield conn
        except DataError as exc:
            raise CatalogInputError(f"identifier: cannot look that value up: {exc.orig}") from exc
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog {self._catalog._engine.url!r}: {exc}") from exc

    def upsert(
        self, tenant_id: int, handle: str, prefix: str, record: str, now_ns: int
    ) -> tuple[StoredIdentifier, bool]:
        """Write ``record`` for ``handle`` (new: version 1; known: replaced, version + 1);
        also whether it was new. :class:`HandleOwnedError` if another tenant has it."""
        _check_texts(handle, prefix, record)
        for attempt in (1, 2):  # a concurrent first registration wins the insert: update
            try:
                with self._catalog._write() as s:
                    return self._upsert(s, tenant_id, handle, prefix, record, now_ns)
            except CatalogError as exc:
                if attempt == 2 or not isinstance(exc.__cause__, IntegrityError):
                    raise
        raise AssertionError("unreachable")

    def _upsert(
        self, s: Session, tenant_id: int, handle: str, prefix: str, record: str, now_ns: int
    ) -> tuple[StoredIdentifier, bool]:
        # One UPDATE computes the new version in the database: a read-then-write would lose
        # writes on SQLite, where a SELECT takes no lock (FOR UPDATE does not exist there).
        changed = (
            update(_I)
            .where(_I.handle == handle, _I.tenant_id == tenant_id)
            .values(record=record, version=_I.version + 1, updated=now_ns)
        )
        if _rowcount(s, changed) == 1:
            return self._stored(s, handle), False
        owner = s.scalar(select(_I.tenant_id).where(_I.handle == handle))
        if owner is not None and owner != tenant_id:
            raise HandleOwnedError(handle)
        if owner is not None:  # committed by a concurrent first registration meanwhile
            _rowcount(s, changed)
            return self._stored(s, handle), False
        row = IdentifierRow(
            tenant_id=tenant_id,
            handle=handle,
            prefix=prefix,
            record=record,
            version=1,
            created=now_ns,
            updated=now_ns,
        )
        s.add(row)
        s.flush()
        return self._stored(s, handle), True

    @staticmethod
    def _stored(s: Session, handle: str) -> StoredIdentifier:
        return StoredIdentifier(*s.execute(_BY_HANDLE, {"handle": handle}).one())

    def insert_many(
        self, tenant_id: int, items: Sequence[tuple[str, str, str]], now_ns: int
    ) -> int:
        """Register new identifiers (handle, prefix, record JSON) in one transaction, all or
        nothing; a handle registered already fails the whole batch (:class:`CatalogInputError`
        naming one). For bulk loads of fresh handles; :meth:`upsert` updates."""
        if len(items) > MAX_BATCH:
            raise CatalogInputError(f"identifiers: {len(items):,} at once, at most {MAX_BATCH:,}")
        for handle, prefix, record in items:
            _check_texts(handle, prefix, record)
        rows = [
            {
                "tenant_id": tenant_id,
                "handle": h,
                "prefix": p,
                "record": r,
                "version": 1,
                "created": now_ns,
                "updated": now_ns,
            }
            for h, p, r in items
        ]
        try:
            with self._catalog._write() as s:
                s.execute(insert(IdentifierRow), rows)
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise CatalogInputError(
                    f"identifiers: {self._first_taken([h for h, _, _ in items])!r} is registered "
                    "already; nothing was written"
                ) from exc
            raise
        return len(rows)

    def _first_taken(self, handles: Sequence[str]) -> str:
        for at in range(0, len(handles), _CHUNK):
            query = select(_I.handle).where(_I.handle.in_(handles[at : at + _CHUNK])).limit(1)
            with self._catalog._read() as s:
                found = s.scalar(query)
            if found is not None:
                return found
        seen: set[str] = set()
        for handle in handles:  # none stored: the batch names one twice
            if handle in seen:
                return handle
            seen.add(handle)
        return "?"

    def page(
        self, tenant_id: int, prefix: str | None, after: int | None, limit: int
    ) -> list[StoredIdentifier]:
        """The tenant's identifiers in registration order after id ``after``; with ``prefix``
        only those at or below it."""
        if not 1 <= limit <= MAX_PAGE:
            raise CatalogInputError(f"limit: {limit} is not 1 to {MAX_PAGE}")
        query = select(*_IDENTIFIER_COLUMNS).where(_I.tenant_id == tenant_id)
        if prefix is not None:
            query = query.where(
                or_(_I.prefix == prefix, _I.prefix.startswith(prefix + ".", autoescape=True))
            )
        if after is not None:
            query = query.where(_I.id > after)
        with self._catalog._read() as s:
            rows = s.execute(query.order_by(_I.id).limit(limit)).all()
        return [StoredIdentifier(*row) for row in rows]

    def count(self, tenant_id: int) -> int:
        query = select(func.count()).select_from(_I).where(_I.tenant_id == tenant_id)
        with self._catalog._read() as s:
            return int(s.scalar(query) or 0)


def _rowcount(s: Session, statement: Update) -> int:
    result = s.execute(statement)
    assert isinstance(result, CursorResult)  # an UPDATE always answers with a cursor
    return int(result.rowcount)


__all__ = [
    "HandleOwnedError",
    "IdentifierPrefixRow",
    "IdentifierRow",
    "IdentifierStore",
    "IdentifierStoreError",
    "Lookup",
    "PrefixExistsError",
    "StoredIdentifier",
    "StoredPrefix",
]
