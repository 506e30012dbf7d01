"""The metadata catalog: tenants, sites, the ISA-95 asset tree, tags and API keys.

SQLAlchemy 2 typed ORM on SQLite (embedded) or any URL SQLAlchemy knows (PostgreSQL for a
server). A tag's row id is the int tag id the time-series store uses, so ids are never
reused (``sqlite_autoincrement``) and re-registering a site keeps them.

Every read takes a ``tenant_id``: the catalog never answers across tenants.
"""

import hashlib
import logging
import secrets
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import IntEnum
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Dialect,
    Engine,
    Float,
    ForeignKey,
    Integer,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
    create_engine,
    event,
    select,
)
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import DataError, SQLAlchemyError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, sessionmaker
from sqlalchemy.pool import StaticPool

from factoryos.errors import FactoryOSError
from factoryos.model.site import Level, SiteFile

log = logging.getLogger(__name__)

DEFAULT_URL = "sqlite:///factoryos-catalog.sqlite"
KEY_PREFIX = "fos_"
MAX_KEY_LENGTH = 128
MAX_TAGS_PER_QUERY = 10_000


class CatalogError(FactoryOSError):
    """Root of the catalog's errors."""


class CatalogInputError(CatalogError):
    """A request the catalog refuses because of its input (the caller's mistake)."""


class UnknownTagError(CatalogError):
    """A tag path that does not exist in the caller's tenant."""

    def __init__(self, path: str) -> None:
        self.path = path
        super().__init__(f"tag: no tag {path!r}")


class Role(IntEnum):
    """What a credential may do; a higher role may do everything a lower one may."""

    VIEWER = 1
    OPERATOR = 2
    ENGINEER = 3
    ADMIN = 4

    @property
    def label(self) -> str:
        """The role's name at the API and in logs: viewer, operator, engineer, admin."""
        return self.name.lower()

    @classmethod
    def parse(cls, label: str) -> "Role":
        """The role called ``label`` (any case); :class:`CatalogInputError` otherwise."""
        try:
            return cls[label.upper()]
        except KeyError as exc:
            known = ", ".join(r.label for r in cls)
            raise CatalogInputError(f"role: {label!r} is not one of {known}") from exc


@dataclass(frozen=True)
class Principal:
    """Who is calling: the tenant a credential belongs to and its role."""

    tenant_id: int
    tenant: str
    role: Role
    key_name: str


@dataclass(frozen=True)
class TagInfo:
    id: int
    path: str
    name: str
    unit: str
    data_type: str
    description: str
    range_low: float | None
    range_high: float | None


@dataclass
class AssetNode:
    """One asset of the ISA-95 tree with its child assets and (for equipment) its tags."""

    id: int
    level: str
    name: str
    path: str
    description: str
    children: list["AssetNode"] = field(default_factory=list)
    tags: list[TagInfo] = field(default_factory=list)


@dataclass(frozen=True)
class ApiKeyInfo:
    """An API key without its secret."""

    id: int
    name: str
    role: Role
    created_at: datetime
    expires_at: datetime | None
    revoked: bool


class _UTCDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out (SQLite forgets the zone)."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    pass


class TenantRow(Base):
    __tablename__ = "tenants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)


class SiteRow(Base):
    __tablename__ = "sites"
    __table_args__ = (UniqueConstraint("tenant_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    enterprise: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text, doc="The validated site file as JSON.")


class AssetRow(Base):
    __tablename__ = "assets"
    __table_args__ = (UniqueConstraint("tenant_id", "path"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("assets.id"))
    level: Mapped[str] = mapped_column(String(16))
    name: Mapped[str] = mapped_column(String(64))
    path: Mapped[str] = mapped_column(String(400))
    description: Mapped[str] = mapped_column(Text, default="")


class TagRow(Base):
    __tablename__ = "tags"
    __table_args__ = (UniqueConstraint("tenant_id", "path"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    asset_id: Mapped[int] = mapped_column(ForeignKey("assets.id"))
    path: Mapped[str] = mapped_column(String(400))
    unit: Mapped[str] = mapped_column(String(32), default="")
    data_type: Mapped[str] = mapped_column(String(16))
    description: Mapped[str] = mapped_column(Text, default="")
    range_low: Mapped[float | None] = mapped_column(Float)
    range_high: Mapped[float | None] = mapped_column(Float)


class ApiKeyRow(Base):
    __tablename__ = "api_keys"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    name: Mapped[str] = mapped_column(String(64))
    role: Mapped[int] = mapped_column(Integer)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime] = mapped_column(_UTCDateTime)
    expires_at: Mapped[datetime | None] = mapped_column(_UTCDateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class WriteAuditRow(Base):
    """One attempted setpoint write: who, when, which tag, old and new value, outcome."""

    __tablename__ = "write_audit"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"), index=True)
    at: Mapped[datetime] = mapped_column(_UTCDateTime)
    key_name: Mapped[str] = mapped_column(String(64))
    tag_id: Mapped[int] = mapped_column(Integer)
    path: Mapped[str] = mapped_column(String(400))
    old_value: Mapped[float | None] = mapped_column(Float)
    requested: Mapped[float] = mapped_column(Float)
    written: Mapped[float | None] = mapped_column(Float)
    outcome: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(Text, default="")


@dataclass(frozen=True)
class WriteRecord:
    at: datetime
    key_name: str
    path: str
    old_value: float | None
    requested: float
    written: float | None
    outcome: str  # "ok", "refused" (nothing sent) or "failed" (the device did not take it)
    message: str


def hash_key(key: str) -> str:
    """The stored form of an API key: its SHA-256 as hex."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def _refused_value(exc: DataError) -> CatalogInputError:
    """A value the database cannot hold (PostgreSQL: a NUL in text, a string longer than its
    column) is the caller's input: a 400 naming the reason, not a 500, and without the SQL."""
    reason = str(exc.orig).splitlines()[0] if exc.orig else "refused by the database"
    return CatalogInputError(f"catalog: cannot store or look up that value: {reason}")


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def _engine(url: str) -> Engine:
    u = make_url(url)
    if u.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, pool_timeout=10)
    # API routes run in a thread pool; an in-memory database must be one shared connection.
    kwargs: dict[str, Any] = {"connect_args": {"check_same_thread": False, "timeout": 10}}
    if u.database in (None, "", ":memory:"):
        kwargs["poolclass"] = StaticPool
    engine = create_engine(url, **kwargs)
    event.listen(engine, "connect", _sqlite_pragmas)
    return engine


@dataclass(frozen=True)
class _AssetSpec:
    level: Level
    name: str
    path: str
    parent: str | None
    description: str


def _assets_of(site: SiteFile) -> Iterator[_AssetSpec]:
    """Every asset of a site file, each after its parent."""
    s = site.site
    yield _AssetSpec(Level.SITE, s.name, s.name, None, s.description)
    for area in s.areas:
        a = f"{s.name}/{area.name}"
        yield _AssetSpec(Level.AREA, area.name, a, s.name, area.description)
        for line in area.lines:
            ln = f"{a}/{line.name}"
            yield _AssetSpec(Level.LINE, line.name, ln, a, line.description)
            for cell in line.cells:
                c = f"{ln}/{cell.name}"
                yield _AssetSpec(Level.CELL, cell.name, c, ln, cell.description)
                for eq in cell.equipment:
                    e = f"{c}/{eq.name}"
                    yield _AssetSpec(Level.EQUIPMENT, eq.name, e, c, eq.description)


def _tag_info(row: TagRow) -> TagInfo:
    return TagInfo(
        id=row.id,
        path=row.path,
        name=row.path.rsplit("/", 1)[-1],
        unit=row.unit,
        data_type=row.data_type,
        description=row.description,
        range_low=row.range_low,
        range_high=row.range_high,
    )


def _key_info(row: ApiKeyRow) -> ApiKeyInfo:
    return ApiKeyInfo(
        id=row.id,
        name=row.name,
        role=Role(row.role),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked=row.revoked,
    )


class Catalog:
    """The metadata repository. Methods are synchronous: call them from threads, not the loop."""

    def __init__(self, url: str = DEFAULT_URL) -> None:
        self.url = url
        self._engine = _engine(url)
        self._session = sessionmaker(self._engine, expire_on_commit=False)
        self.audit = _audit.AuditLog(self._read, self._write)

    def create_all(self) -> None:
        """Create the tables that do not exist yet."""
        try:
            Base.metadata.create_all(self._engine)
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog {self._engine.url!r}: {exc}") from exc

    def migrate(self) -> None:
        """Bring the schema to the newest migration; a create_all catalog is adopted first."""
        # Imported here because the migrations import this module (models, error root).
        from factoryos.store.migrate import upgrade_engine

        upgrade_engine(self._engine)

    @contextmanager
    def _read(self) -> Iterator[Session]:
        try:
            with self._session() as s:
                yield s
        except DataError as exc:
            raise _refused_value(exc) from exc
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog {self._engine.url!r}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A session whose transaction commits on success and rolls back on any error."""
        try:
            with self._session.begin() as s:
                yield s
        except DataError as exc:
            raise _refused_value(exc) from exc
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog {self._engine.url!r}: {exc}") from exc

    @contextmanager
    def _autocommit(self) -> Iterator[Connection]:
        """A connection outside any transaction, for the statements PostgreSQL refuses inside
        one (``REINDEX … CONCURRENTLY``)."""
        try:
            with self._engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise CatalogError(f"catalog {self._engine.url!r}: {exc}") from exc

    def close(self) -> None:
        self._engine.dispose()

    # -- tenants and sites -------------------------------------------------------------

    def ensure_tenant(self, name: str) -> int:
        """The id of tenant ``name``, created when it does not exist."""
        with self._write() as s:
            return self._tenant_id(s, name, create=True)

    def tenant_id(self, name: str) -> int | None:
        with self._read() as s:
            return s.scalar(select(TenantRow.id).where(TenantRow.name == name))

    def _tenant_id(self, s: Session, name: str, *, create: bool) -> int:
        found = s.scalar(select(TenantRow.id).where(TenantRow.name == name))
        if found is not None:
            return found
        if not create:
            raise CatalogInputError(f"tenant: no tenant {name!r}")
        row = TenantRow(name=name)
        s.add(row)
        s.flush()
        log.info("created tenant %s (id %d)", name, row.id)
        return row.id

    def register_site(self, site: SiteFile) -> dict[str, int]:
        """Store a site's assets and tags in its tenant; return UNS path → tag id.

        Idempotent: registering the same (or an edited) site again keeps the ids of the
        tags it already had and updates their metadata. Tags no longer in the file are
        kept, so their history stays reachable.
        """
        with self._write() as s:
            tenant_id = self._tenant_id(s, site.site.tenant, create=True)
            site_id = self._upsert_site(s, tenant_id, site)
            asset_ids = self._upsert_assets(s, tenant_id, site_id, site)
            return self._upsert_tags(s, tenant_id, site_id, site, asset_ids)

    def _upsert_site(self, s: Session, tenant_id: int, site: SiteFile) -> int:
        row = s.scalar(
            select(SiteRow).where(SiteRow.tenant_id == tenant_id, SiteRow.name == site.site.name)
        )
        if row is None:
            row = SiteRow(tenant_id=tenant_id, name=site.site.name)
            s.add(row)
            log.info("registered site %s in tenant %s", site.site.name, site.site.tenant)
        row.enterprise = site.site.enterprise
        row.source = site.model_dump_json()
        s.flush()
        return row.id

    def _upsert_assets(
        self, s: Session, tenant_id: int, site_id: int, site: SiteFile
    ) -> dict[str, int]:
        rows = {
            r.path: r
            for r in s.scalars(
                select(AssetRow).where(AssetRow.tenant_id == tenant_id, AssetRow.site_id == site_id)
            )
        }
        ids: dict[str, int] = {}
        for spec in _assets_of(site):
            row = rows.get(spec.path)
            if row is None:
                row = AssetRow(tenant_id=tenant_id, site_id=site_id, path=spec.path)
                s.add(row)
            row.parent_id = None if spec.parent is None else ids[spec.parent]
            row.level = spec.level.value
            row.name = spec.name
            row.description = spec.description
            s.flush()
            ids[spec.path] = row.id
        return ids

    def _upsert_tags(
        self, s: Session, tenant_id: int, site_id: int, site: SiteFile, asset_ids: dict[str, int]
    ) -> dict[str, int]:
        rows = {
            r.path: r
            for r in s.scalars(
                select(TagRow).where(TagRow.tenant_id == tenant_id, TagRow.site_id == site_id)
            )
        }
        for ref in site.tags():
            row = rows.get(ref.path)
            if row is None:
                row = TagRow(tenant_id=tenant_id, site_id=site_id, path=ref.path)
                s.add(row)
                rows[ref.path] = row
            tag = ref.tag
            row.asset_id = asset_ids[ref.path.rsplit("/", 1)[0]]
            row.unit = tag.unit
            row.data_type = tag.type.value
            row.description = tag.description
            row.range_low, row.range_high = tag.range if tag.range is not None else (None, None)
        s.flush()
        return {ref.path: rows[ref.path].id for ref in site.tags()}

    # -- reads, always within one tenant -----------------------------------------------

    def asset_tree(self, tenant_id: int) -> list[AssetNode]:
        """The tenant's sites, each with its areas, lines, cells, equipment and tags."""
        with self._read() as s:
            assets = s.scalars(
                select(AssetRow).where(AssetRow.tenant_id == tenant_id).order_by(AssetRow.id)
            ).all()
            tags = s.scalars(
                select(TagRow).where(TagRow.tenant_id == tenant_id).order_by(TagRow.id)
            ).all()
        nodes = {a.id: AssetNode(a.id, a.level, a.name, a.path, a.description) for a in assets}
        roots: list[AssetNode] = []
        for a in assets:
            parent = nodes.get(a.parent_id) if a.parent_id is not None else None
            (parent.children if parent is not None else roots).append(nodes[a.id])
        for t in tags:
            nodes[t.asset_id].tags.append(_tag_info(t))
        return roots

    def equipment_exists(self, tenant_id: int, path: str) -> bool:
        """Whether ``path`` is an equipment of the tenant's registered sites."""
        query = select(AssetRow.id).where(
            AssetRow.tenant_id == tenant_id,
            AssetRow.path == path,
            AssetRow.level == Level.EQUIPMENT.value,
        )
        with self._read() as s:
            return s.scalar(query) is not None

    def find_tag(self, tenant_id: int, path: str) -> TagInfo | None:
        with self._read() as s:
            row = s.scalar(select(TagRow).where(TagRow.tenant_id == tenant_id, TagRow.path == path))
            return None if row is None else _tag_info(row)

    def resolve_tags(self, tenant_id: int, paths: Sequence[str]) -> list[TagInfo]:
        """The tags at ``paths`` in order; :class:`UnknownTagError` names the first missing."""
        if len(paths) > MAX_TAGS_PER_QUERY:
            raise CatalogInputError(
                f"tag: {len(paths)} tags asked, at most {MAX_TAGS_PER_QUERY} per query"
            )
        wanted = set(paths)
        with self._read() as s:
            rows = s.scalars(
                select(TagRow).where(TagRow.tenant_id == tenant_id, TagRow.path.in_(wanted))
            ).all()
        found = {r.path: _tag_info(r) for r in rows}
        for p in paths:
            if p not in found:
                raise UnknownTagError(p)
        return [found[p] for p in paths]

    def tags(
        self, tenant_id: int, prefix: str | None = None, *, limit: int = MAX_TAGS_PER_QUERY
    ) -> list[TagInfo]:
        """The tenant's tags whose path starts with ``prefix`` (all when None), by path."""
        q = select(TagRow).where(TagRow.tenant_id == tenant_id)
        if prefix:
            q = q.where(TagRow.path.startswith(prefix, autoescape=True))
        with self._read() as s:
            rows = s.scalars(q.order_by(TagRow.path).limit(limit)).all()
            return [_tag_info(r) for r in rows]

    def tags_by_id(self, tenant_id: int, ids: Iterable[int]) -> dict[int, TagInfo]:
        """The tenant's tags among ``ids``; ids of other tenants are simply absent."""
        wanted = {int(i) for i in ids}
        if not wanted:
            return {}
        with self._read() as s:
            rows = s.scalars(
                select(TagRow).where(TagRow.tenant_id == tenant_id, TagRow.id.in_(wanted))
            ).all()
            return {r.id: _tag_info(r) for r in rows}

    # -- API keys ----------------------------------------------------------------------

    def create_api_key(
        self, tenant: str, role: Role, name: str, expires_at: datetime | None = None
    ) -> str:
        """A new key for ``tenant`` (created if new); the plaintext is returned only here.

        Only the key's SHA-256 is stored.
        """
        return self.issue_api_key(tenant, role, name, expires_at)[0]

    def issue_api_key(
        self, tenant: str, role: Role, name: str, expires_at: datetime | None = None
    ) -> tuple[str, ApiKeyInfo]:
        """Like :meth:`create_api_key`, also returning the stored key's description."""
        role = Role(role)
        if not name or len(name) > 64:
            raise CatalogInputError("name: an API key needs a name of 1 to 64 characters")
        now = datetime.now(UTC)
        if expires_at is not None:
            if expires_at.tzinfo is None:
                raise CatalogInputError("expires_at: give a time zone (UTC), not a naive time")
            if expires_at <= now:
                raise CatalogInputError(f"expires_at: {expires_at.isoformat()} is in the past")
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self._write() as s:
            row = ApiKeyRow(
                tenant_id=self._tenant_id(s, tenant, create=True),
                name=name,
                role=int(role),
                key_hash=hash_key(key),
                created_at=now,
                expires_at=expires_at,
                revoked=False,
            )
            s.add(row)
            s.flush()
            info = _key_info(row)
        log.info("created %s API key %r for tenant %s", role.label, name, tenant)
        return key, info

    def authenticate(self, key: str, *, now: datetime | None = None) -> Principal | None:
        """The principal of a valid key; None for unknown, expired or revoked keys."""
        if not key.startswith(KEY_PREFIX) or len(key) > MAX_KEY_LENGTH:
            return None
        digest = hash_key(key)
        with self._read() as s:
            found = s.execute(
                select(ApiKeyRow, TenantRow.name)
                .join(TenantRow, TenantRow.id == ApiKeyRow.tenant_id)
                .where(ApiKeyRow.key_hash == digest)
            ).first()
        if found is None:
            return None
        row, tenant = found
        if row.revoked:
            return None
        if row.expires_at is not None and row.expires_at <= (now or datetime.now(UTC)):
            return None
        return Principal(row.tenant_id, tenant, Role(row.role), row.name)

    def api_keys(self, tenant_id: int) -> list[ApiKeyInfo]:
        with self._read() as s:
            rows = s.scalars(
                select(ApiKeyRow).where(ApiKeyRow.tenant_id == tenant_id).order_by(ApiKeyRow.id)
            ).all()
            return [_key_info(r) for r in rows]

    def revoke_api_key(self, tenant_id: int, key_id: int) -> bool:
        """Revoke a key of the tenant; False when the tenant has no such key."""
        with self._write() as s:
            row = s.scalar(
                select(ApiKeyRow).where(ApiKeyRow.tenant_id == tenant_id, ApiKeyRow.id == key_id)
            )
            if row is None:
                return False
            row.revoked = True
        log.info("revoked API key %d of tenant %d", key_id, tenant_id)
        return True

    # -- write-back audit --------------------------------------------------------------

    def record_write(self, who: Principal, tag: TagInfo, entry: WriteRecord) -> None:
        """Append one write attempt to the tenant's write log and to the audit log, at once.

        The write log keeps the structured fields ``write_log`` filters on; the audit log
        entry (first: it takes the chain's lock) makes the attempt tamper-evident.
        """
        detail = {
            "tag_id": tag.id,
            "old_value": entry.old_value,
            "requested": entry.requested,
            "written": entry.written,
            "outcome": entry.outcome,
            "message": entry.message,
        }
        with self._write() as s:
            self.audit.append(
                _audit.AuditAction.SETPOINT_WRITE,
                tenant_id=who.tenant_id,
                actor=entry.key_name,
                target=entry.path,
                detail=detail,
                at=entry.at,
                session=s,
            )
            s.add(
                WriteAuditRow(
                    tenant_id=who.tenant_id,
                    at=entry.at,
                    key_name=entry.key_name,
                    tag_id=tag.id,
                    path=entry.path,
                    old_value=entry.old_value,
                    requested=entry.requested,
                    written=entry.written,
                    outcome=entry.outcome,
                    message=entry.message,
                )
            )

    def write_log(
        self, tenant_id: int, *, path: str | None = None, limit: int = 100
    ) -> list[WriteRecord]:
        """The tenant's write attempts, newest first, optionally for one tag."""
        query = select(WriteAuditRow).where(WriteAuditRow.tenant_id == tenant_id)
        if path is not None:
            query = query.where(WriteAuditRow.path == path)
        with self._read() as s:
            rows = s.scalars(query.order_by(WriteAuditRow.id.desc()).limit(limit)).all()
            return [
                WriteRecord(
                    r.at,
                    r.key_name,
                    r.path,
                    r.old_value,
                    r.requested,
                    r.written,
                    r.outcome,
                    r.message,
                )
                for r in rows
            ]


# The audit log's model sits on this module's Base: importing it here registers its table for
# create_all and the migrations, whichever of the two modules is imported first.
from factoryos.store import alarm_log as _alarm_log  # noqa: E402, F401 (alarm history table)
from factoryos.store import audit as _audit  # noqa: E402
from factoryos.store import carbon_reports as _carbon  # noqa: E402, F401 (carbon reports)
from factoryos.store import downtime as _downtime  # noqa: E402, F401 (operator reasons)
from factoryos.store import epcis_events as _epcis  # noqa: E402, F401 (EPCIS events)
from factoryos.store import epcis_master as _master  # noqa: E402, F401 (EPCIS master data)
from factoryos.store import identifier_registry as _identifiers  # noqa: E402, F401 (identifiers)
from factoryos.store import inspections as _inspections  # noqa: E402, F401 (SPC tables)
from factoryos.store import model_registry as _models  # noqa: E402, F401 (model registry)
from factoryos.store import users as _users  # noqa: E402, F401 (registers the user tables)
from factoryos.store import work_orders as _work_orders  # noqa: E402, F401 (work orders)

__all__ = [
    "DEFAULT_URL",
    "ApiKeyInfo",
    "AssetNode",
    "Catalog",
    "CatalogError",
    "CatalogInputError",
    "Principal",
    "Role",
    "TagInfo",
    "UnknownTagError",
    "WriteRecord",
]
