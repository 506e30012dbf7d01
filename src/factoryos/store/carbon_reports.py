"""Carbon report versions: every inventory a tenant issued, immutable once stored.

A report is named by its site and period (``2026-11``, ``2026``) and numbered 1, 2, … in
the order it was issued. Rows are never updated or deleted: a report issued again with a
changed factor library, new activity data or late meter data is a new version, and every
earlier version still reads exactly as it was issued. Issuing the same content twice (the
same digest) returns the stored version instead of adding one. The store knows nothing of
inventories: it keeps a JSON document, its SHA-256 and the facts it is listed by.
"""

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from factoryos.store.catalog import Base, Catalog, CatalogError, CatalogInputError, _UTCDateTime

MAX_NAME = 400
MAX_PERIOD = 16
MAX_TEXT = 128
MAX_CONTENT = 4_000_000  # characters of JSON: a year's inventory with its daily evidence
MAX_LIST = 1_000
_Id = BigInteger().with_variant(Integer(), "sqlite")


class CarbonReportRow(Base):
    __tablename__ = "carbon_reports"
    __table_args__ = (
        UniqueConstraint("tenant_id", "site", "period", "version", name="uq_carbon_reports"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    site: Mapped[str] = mapped_column(String(MAX_NAME))
    period: Mapped[str] = mapped_column(String(MAX_PERIOD), doc="2026-11 or 2026")
    version: Mapped[int] = mapped_column(Integer)
    created: Mapped[datetime] = mapped_column(_UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(MAX_TEXT))
    factor_digest: Mapped[str] = mapped_column(String(64), doc="sha256 of the factor set used")
    content_sha256: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text, doc="the report as issued, JSON")


class CarbonReportNotFoundError(CatalogError):
    """No such version of the report (for this tenant)."""


class CarbonReportConflictError(CatalogError):
    """Another request issued a version of the same report at the same moment: retry."""


@dataclass(frozen=True, slots=True)
class CarbonReportVersion:
    """A stored version; ``content`` is empty in listings."""

    site: str
    period: str
    version: int
    created: datetime
    created_by: str
    factor_digest: str
    content_sha256: str
    content: dict[str, Any]


def _canonical(content: dict[str, Any]) -> str:
    try:
        text = json.dumps(content, sort_keys=True, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CatalogInputError(f"content: not JSON without NaN or infinities: {exc}") from exc
    if len(text) > MAX_CONTENT:
        raise CatalogInputError(f"content: {len(text)} characters of JSON, at most {MAX_CONTENT}")
    return text


def _out(row: CarbonReportRow, *, with_content: bool) -> CarbonReportVersion:
    return CarbonReportVersion(
        site=row.site,
        period=row.period,
        version=row.version,
        created=row.created,
        created_by=row.created_by,
        factor_digest=row.factor_digest,
        content_sha256=row.content_sha256,
        content=json.loads(row.content) if with_content else {},
    )


class CarbonReports:
    """The catalog's carbon report versions (synchronous: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def issue(
        self,
        tenant_id: int,
        site: str,
        period: str,
        content: dict[str, Any],
        factor_digest: str,
        created_by: str,
        now: datetime,
    ) -> tuple[CarbonReportVersion, bool]:
        """Store ``content`` as the next version of the site's report for ``period``; when
        the newest version holds the same content, that version (and False) instead."""
        for what, value, most in (
            ("site", site, MAX_NAME),
            ("period", period, MAX_PERIOD),
            ("created_by", created_by, MAX_TEXT),
        ):
            if not 0 < len(value) <= most:
                raise CatalogInputError(f"{what}: 1 to {most} characters")
        text = _canonical(content)
        digest = hashlib.sha256(text.encode()).hexdigest()
        try:
            with self._catalog._write() as s:
                newest = self._newest(s, tenant_id, site, period)
                if newest is not None and newest.content_sha256 == digest:
                    return _out(newest, with_content=True), False
                row = CarbonReportRow(
                    tenant_id=tenant_id,
                    site=site,
                    period=period,
                    version=(newest.version if newest else 0) + 1,
                    created=now,
                    created_by=created_by,
                    factor_digest=factor_digest,
                    content_sha256=digest,
                    content=text,
                )
                s.add(row)
                s.flush()
                return _out(row, with_content=True), True
        except CatalogError as exc:
            if isinstance(exc.__cause__, IntegrityError):
                raise CarbonReportConflictError(
                    f"carbon report {site} {period}: another version was issued at the same "
                    "moment; issue it again"
                ) from exc
            raise

    @staticmethod
    def _newest(s: Session, tenant_id: int, site: str, period: str) -> CarbonReportRow | None:
        query = (
            select(CarbonReportRow)
            .where(
                CarbonReportRow.tenant_id == tenant_id,
                CarbonReportRow.site == site,
                CarbonReportRow.period == period,
            )
            .order_by(CarbonReportRow.version.desc())
            .limit(1)
        )
        return s.scalar(query)

    def versions(
        self, tenant_id: int, site: str, period: str | None = None
    ) -> list[CarbonReportVersion]:
        """Issued versions without content, newest period and version first."""
        query = select(CarbonReportRow).where(
            CarbonReportRow.tenant_id == tenant_id, CarbonReportRow.site == site
        )
        if period is not None:
            query = query.where(CarbonReportRow.period == period)
        query = query.order_by(CarbonReportRow.period.desc(), CarbonReportRow.version.desc())
        with self._catalog._read() as s:
            return [_out(row, with_content=False) for row in s.scalars(query.limit(MAX_LIST))]

    def get(self, tenant_id: int, site: str, period: str, version: int) -> CarbonReportVersion:
        """One version with its content; CarbonReportNotFoundError when there is none."""
        query = select(CarbonReportRow).where(
            CarbonReportRow.tenant_id == tenant_id,
            CarbonReportRow.site == site,
            CarbonReportRow.period == period,
            CarbonReportRow.version == version,
        )
        with self._catalog._read() as s:
            row = s.scalar(query)
            if row is None:
                raise CarbonReportNotFoundError(
                    f"no carbon report {site} {period} version {version}"
                )
            return _out(row, with_content=True)
