"""The audit log: who did what, append-only and hash-chained so tampering is detectable.

One chain for the whole catalog (every tenant and the platform's own events). Entry ``n``
stores ``hash = sha256(canonical JSON of its fields and prev_hash)`` and ``prev_hash`` =
entry ``n-1``'s hash (:data:`GENESIS` for entry 1), so editing, deleting, inserting or
reordering entries breaks the chain at the first entry touched, and :meth:`AuditLog.verify`
names it.

Ids are dense (1, 2, 3 …) and assigned from the last entry under a lock, not by a sequence:
a rolled-back append leaves no hole, so a missing id always means a missing entry, and two
appenders that raced past the lock would collide on the primary key instead of forking the
chain. The lock: ``BEGIN IMMEDIATE`` on SQLite, a transaction-scoped advisory lock on
PostgreSQL (it needs no privilege beyond INSERT, unlike ``LOCK TABLE``).

The database itself refuses UPDATE and DELETE (and TRUNCATE on PostgreSQL) on the table:
the triggers are made by migration 0002 and, for ``create_all`` catalogs, by
:func:`_make_append_only`. Whoever may drop them (the table's owner, a superuser) can still
rewrite the whole chain consistently: export :meth:`AuditLog.head` to a place they cannot
write (docs/audit.md).
"""

import hashlib
import json
import math
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Integer, String, Text, event, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Mapped, Session, mapped_column

from factoryos.store.catalog import Base, CatalogError, CatalogInputError, TenantRow, _UTCDateTime

GENESIS = "0" * 64
# Longer actors, targets and details are clipped, never refused: they may carry what a client
# sent (the name a failed login tried), and a long one must not keep an event out of the log.
MAX_ACTOR = 128
MAX_TARGET = 400
MAX_DETAIL = 8_192  # characters of canonical JSON: an entry says what happened, not the data
MAX_ENTRIES = 10_000
VERIFY_CHUNK = 1_000  # rows per read while verifying: memory stays flat on a long log
LOCK_TIMEOUT = "10s"  # PostgreSQL: an append waits this long for the chain's lock, then fails
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,31}")
# Any constant: appenders of one PostgreSQL database take turns (across schemas too, harmlessly).
_PG_LOCK_KEY = 0x46_4F_53_41  # "FOSA"

SessionScope = Callable[[], AbstractContextManager[Session]]


class AuditError(CatalogError):
    """The audit log could not be read or written."""


class AuditInputError(AuditError, CatalogInputError):
    """An entry the log refuses because of its fields (the caller's mistake)."""


class AuditAction(StrEnum):
    """The actions FactoryOS records; :meth:`AuditLog.append` takes any ``[a-z][a-z0-9_]*``."""

    LOGIN = "login"
    LOGIN_FAILED = "login_failed"
    KEY_CREATED = "key_created"
    KEY_REVOKED = "key_revoked"
    PASSWORD_CHANGED = "password_changed"
    SETPOINT_WRITE = "setpoint_write"
    CONFIG_CHANGE = "config_change"
    EXPORT = "export"


class BreakKind(StrEnum):
    """Why verification stopped at an entry."""

    HASH = "hash mismatch"  # the entry's fields are not what was hashed: it was edited
    GAP = "gap in ids"  # entries before it are missing: deleted
    PREV = "prev mismatch"  # it does not follow the entry before it: one was replaced or forged
    HEAD = "head mismatch"  # an exported head is not in the chain: truncated or rewritten


class AuditRow(Base):
    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    at: Mapped[datetime] = mapped_column(_UTCDateTime)
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("tenants.id"), index=True)
    actor: Mapped[str | None] = mapped_column(String(MAX_ACTOR))
    action: Mapped[str] = mapped_column(String(32))
    target: Mapped[str] = mapped_column(String(MAX_TARGET))
    detail: Mapped[str] = mapped_column(Text, doc="Canonical JSON: sorted keys, no spaces.")
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


# The triggers that make audit_log append-only, per dialect. Migration 0002 keeps its own
# copy of these statements: a revision is a frozen snapshot of what it did.
_TRIGGERS = {
    "sqlite": [
        f"CREATE TRIGGER audit_log_no_{verb.lower()} BEFORE {verb} ON audit_log "
        f"BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: {verb} refused'); END"
        for verb in ("UPDATE", "DELETE")
    ],
    "postgresql": [
        "CREATE OR REPLACE FUNCTION audit_log_append_only() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN RAISE EXCEPTION 'audit_log is append-only: % refused', TG_OP; END $$",
        "CREATE TRIGGER audit_log_no_change BEFORE UPDATE OR DELETE ON audit_log "
        "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()",
        "CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log "
        "FOR EACH STATEMENT EXECUTE FUNCTION audit_log_append_only()",
    ],
}


@event.listens_for(AuditRow.__table__, "after_create")
def _make_append_only(_table: object, conn: Connection, **_kw: object) -> None:
    """Give a table made by create_all (not by the migrations) its triggers."""
    for sql in _TRIGGERS.get(conn.dialect.name, []):
        conn.execute(text(sql))  # not exec_driver_sql: psycopg would read % as a placeholder


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: datetime
    tenant_id: int | None
    tenant: str | None  # the tenant's name, for people reading the log
    actor: str | None
    action: str
    target: str
    detail: str  # canonical JSON text, exactly what was hashed
    prev_hash: str
    hash: str


@dataclass(frozen=True)
class AuditHead:
    """The newest entry: export it elsewhere to detect a rewritten chain later."""

    id: int
    hash: str
    at: datetime


@dataclass(frozen=True)
class ChainBreak:
    entry_id: int
    kind: BreakKind
    message: str


@dataclass(frozen=True)
class VerifyResult:
    checked: int  # entries found intact, from id 1 on
    head: AuditHead | None  # the last intact entry
    broken: ChainBreak | None

    @property
    def ok(self) -> bool:
        return self.broken is None


def canonical_json(detail: Mapping[str, object]) -> str:
    """The one text form of ``detail``: sorted keys, no spaces, UTF-8, no NaN."""
    return json.dumps(
        detail, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def _json_safe(value: object) -> object:
    """``value`` with NaN and infinities, which JSON lacks, as the strings nan, inf, -inf.

    A device may read back NaN: the entry must still be written, not refused.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    if isinstance(value, Mapping):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    return value


def entry_hash(row: AuditRow) -> str:
    """SHA-256 (hex) of the row's fields and ``prev_hash``; docs/audit.md spells it out."""
    fields = {
        "id": row.id,
        "at": row.at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "tenant_id": row.tenant_id,
        "actor": row.actor,
        "action": row.action,
        "target": row.target,
        "detail": row.detail,
        "prev_hash": row.prev_hash,
    }
    return hashlib.sha256(canonical_json(fields).encode("utf-8")).hexdigest()


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _detail_text(detail: Mapping[str, object] | None) -> str:
    """Canonical JSON of ``detail``; when too long, its clipped text under ``"clipped"``."""
    try:
        text = canonical_json({k: _json_safe(v) for k, v in (detail or {}).items()})
    except (TypeError, ValueError) as exc:
        raise AuditInputError(f"detail: not JSON: {exc}") from exc
    if len(text) <= MAX_DETAIL:
        return text
    # Quoting at most doubles a character (" and \ gain a backslash): half the room is enough.
    return canonical_json({"clipped": _clip(text, MAX_DETAIL // 2 - 32)})


def _new_row(
    action: str,
    tenant_id: int | None,
    actor: str | None,
    target: str,
    detail: Mapping[str, object] | None,
    at: datetime | None,
) -> AuditRow:
    """A row with the entry's own fields, checked; id and hashes come under the lock."""
    if not _ACTION.fullmatch(action):
        raise AuditInputError(f"action: {action!r} is not [a-z][a-z0-9_]* of 1 to 32 characters")
    if at is not None and at.tzinfo is None:
        raise AuditInputError("at: give a time zone (UTC), not a naive time")
    # Stored times have microseconds: hash what reading the row back will give.
    moment = (at or datetime.now(UTC)).astimezone(UTC)
    return AuditRow(
        at=moment,
        tenant_id=tenant_id,
        actor=_clip(actor, MAX_ACTOR) if actor else None,
        action=action,
        target=_clip(target, MAX_TARGET),
        detail=_detail_text(detail),
    )


def _lock_chain(conn: Connection) -> None:
    """Hold the chain's lock until the transaction ends (other dialects: the primary key)."""
    if conn.dialect.name == "sqlite":
        # pysqlite begins a transaction only at the first INSERT: the read of the last hash
        # would run outside it. A transaction the caller began is already a snapshot, and
        # SQLite fails (never forks) a write that would upgrade a stale one.
        if not conn.connection.driver_connection.in_transaction:  # type: ignore[union-attr]
            conn.exec_driver_sql("BEGIN IMMEDIATE")
    elif conn.dialect.name == "postgresql":
        conn.exec_driver_sql(f"SET LOCAL lock_timeout = '{LOCK_TIMEOUT}'")
        conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({_PG_LOCK_KEY})")


def _entry(row: AuditRow, tenant: str | None) -> AuditEntry:
    return AuditEntry(
        row.id,
        row.at,
        row.tenant_id,
        tenant,
        row.actor,
        row.action,
        row.target,
        row.detail,
        row.prev_hash,
        row.hash,
    )


def _break_at(row: AuditRow, prev_id: int, prev_hash: str) -> ChainBreak | None:
    """Why ``row`` does not continue the chain that ends at ``prev_id``; None when it does."""
    if entry_hash(row) != row.hash:
        return ChainBreak(row.id, BreakKind.HASH, "its fields are not what was hashed (edited)")
    if row.id <= prev_id:  # only first in the walk: ids start at 1
        return ChainBreak(row.id, BreakKind.PREV, "it precedes entry 1 (inserted)")
    if row.id != prev_id + 1:
        missing = (
            f"entry {prev_id + 1} is"
            if row.id == prev_id + 2
            else f"entries {prev_id + 1} to {row.id - 1} are"
        )
        return ChainBreak(row.id, BreakKind.GAP, f"{missing} missing (deleted)")
    if row.prev_hash != prev_hash:
        return ChainBreak(
            row.id,
            BreakKind.PREV,
            f"its prev_hash is not the hash of entry {prev_id} "
            "(an entry was replaced, forged or re-hashed)",
        )
    return None


def _unlike(known: tuple[int, str] | None, entry_id: int, found: str) -> ChainBreak | None:
    """A break when entry ``entry_id`` is the ``known`` one but with another hash."""
    if known is None or known[0] != entry_id or known[1] == found:
        return None
    message = f"its hash is not {known[1]}, the one exported earlier (the chain was rewritten)"
    return ChainBreak(entry_id, BreakKind.HEAD, message)


class AuditLog:
    """The catalog's audit log; reach it as ``catalog.audit``. Synchronous, like the catalog."""

    def __init__(self, read: SessionScope, write: SessionScope) -> None:
        self._read = read
        self._write = write

    def append(
        self,
        action: str,
        *,
        tenant_id: int | None = None,
        actor: str | None = None,
        target: str = "",
        detail: Mapping[str, object] | None = None,
        at: datetime | None = None,
        session: Session | None = None,
    ) -> AuditEntry:
        """Add one entry at the end of the chain and return it.

        ``tenant_id`` None is a platform event; ``actor`` is the key or user name (None: the
        system, or nobody known, as for a failed login); ``detail`` small JSON-able facts.
        With ``session`` the entry joins the caller's transaction (it commits or rolls back
        with the caller's other writes); on SQLite make it the transaction's first statement,
        so that the chain's lock is taken before anything else. On PostgreSQL the lock is
        held, and lock waits are bounded by :data:`LOCK_TIMEOUT`, until that transaction ends.
        """
        row = _new_row(action, tenant_id, actor, target, detail, at)
        if session is not None:
            return self._append(session, row)
        with self._write() as s:
            return self._append(s, row)

    def _append(self, s: Session, row: AuditRow) -> AuditEntry:
        _lock_chain(s.connection())
        last = s.execute(select(AuditRow.id, AuditRow.hash).order_by(AuditRow.id.desc()).limit(1))
        prev_id, prev_hash = last.first() or (0, GENESIS)
        row.id, row.prev_hash = prev_id + 1, prev_hash
        row.hash = entry_hash(row)
        s.add(row)
        s.flush()
        tenant = None if row.tenant_id is None else s.get(TenantRow, row.tenant_id)
        return _entry(row, None if tenant is None else tenant.name)

    def entries(
        self, tenant_id: int | None = None, *, since: datetime | None = None, limit: int = 100
    ) -> list[AuditEntry]:
        """The newest ``limit`` entries, newest first: of one tenant, or of all when None."""
        if not 0 < limit <= MAX_ENTRIES:
            raise AuditInputError(f"limit: {limit} is not 1 to {MAX_ENTRIES}")
        if since is not None and since.tzinfo is None:
            raise AuditInputError("since: give a time zone (UTC), not a naive time")
        query = select(AuditRow, TenantRow.name).outerjoin(
            TenantRow, TenantRow.id == AuditRow.tenant_id
        )
        if tenant_id is not None:
            query = query.where(AuditRow.tenant_id == tenant_id)
        if since is not None:
            query = query.where(AuditRow.at >= since)
        with self._read() as s:
            rows = s.execute(query.order_by(AuditRow.id.desc()).limit(limit)).all()
            return [_entry(row, tenant) for row, tenant in rows]

    def head(self) -> AuditHead | None:
        """The newest entry's id, hash and time; None while the log is empty."""
        with self._read() as s:
            row = s.scalar(select(AuditRow).order_by(AuditRow.id.desc()).limit(1))
            return None if row is None else AuditHead(row.id, row.hash, row.at)

    def verify(self, known: tuple[int, str] | None = None) -> VerifyResult:
        """Walk the chain in id order; stop at the first entry that does not check out.

        ``known`` is an (id, hash) exported earlier (:meth:`head`): the chain must still hold
        that entry with that hash, which catches a truncated or wholly rewritten chain.
        """
        checked, head = 0, None
        prev_id, prev_hash = 0, GENESIS
        for row in self._in_id_order():
            broken = _break_at(row, prev_id, prev_hash) or _unlike(known, row.id, row.hash)
            if broken is not None:
                return VerifyResult(checked, head, broken)
            checked += 1
            head = AuditHead(row.id, row.hash, row.at)
            prev_id, prev_hash = row.id, row.hash
        if known is not None and known[0] > prev_id:
            message = f"the chain ends at entry {prev_id}: the entries after it are gone"
            return VerifyResult(checked, head, ChainBreak(known[0], BreakKind.HEAD, message))
        return VerifyResult(checked, head, None)

    def _in_id_order(self) -> Iterator[AuditRow]:
        """Every row by id, read :data:`VERIFY_CHUNK` at a time (keyset paging)."""
        after = None
        while True:
            query = select(AuditRow).order_by(AuditRow.id).limit(VERIFY_CHUNK)
            if after is not None:
                query = query.where(AuditRow.id > after)
            with self._read() as s:
                rows = s.scalars(query).all()
            yield from rows
            if len(rows) < VERIFY_CHUNK:
                return
            after = rows[-1].id


__all__ = [
    "GENESIS",
    "AuditAction",
    "AuditEntry",
    "AuditError",
    "AuditHead",
    "AuditInputError",
    "AuditLog",
    "AuditRow",
    "BreakKind",
    "ChainBreak",
    "VerifyResult",
    "canonical_json",
    "entry_hash",
]
