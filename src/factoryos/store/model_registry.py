"""Model registry: every trained model, versioned, with what it was trained on and how.

A model has a ``name`` (what it watches, e.g. ``anomaly/<equipment path>``) and versions
1, 2, … in the order they were registered. Each version keeps its artifact (the ONNX graph
the live scorer and the edge run), the training data window, the features, the
hyper-parameters, the validation metrics and the code version that trained it. Rows are
never deleted and their content never changes; only the ``status`` moves:

- ``candidate``: registered, not in use;
- ``promoted``: the one version of its name the live scorer uses (at most one);
- ``retired``: was promoted once, replaced since.

Every promotion (and rollback) is appended to a log, so :meth:`ModelRegistry.rollback` knows
which version was in use before the current one, however many times it went back and forth.
The store knows nothing of detectors or ONNX: it keeps bytes and JSON facts.
"""

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
    func,
    select,
)
from sqlalchemy.orm import Mapped, Session, mapped_column

from factoryos.store.catalog import Base, Catalog, CatalogInputError, _UTCDateTime

MAX_NAME = 400
MAX_KIND = 32
MAX_TEXT = 128
MAX_FACTS = 64_000  # characters of JSON per fact column: descriptions, not data
MAX_ARTIFACT = 64 * 1024 * 1024  # bytes: a big tree ensemble is a few MB
MAX_LIST = 1_000
STATUSES = ("candidate", "promoted", "retired")
_Id = BigInteger().with_variant(Integer(), "sqlite")


class ModelVersionRow(Base):
    __tablename__ = "model_versions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "name", "version", name="uq_model_versions_version"),
        Index("ix_model_versions_tenant_name", "tenant_id", "name"),
    )

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    version: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(MAX_KIND), doc="anomaly or rul")
    family: Mapped[str] = mapped_column(String(MAX_TEXT))
    status: Mapped[str] = mapped_column(String(16))
    created: Mapped[datetime] = mapped_column(_UTCDateTime)
    created_by: Mapped[str] = mapped_column(String(MAX_TEXT))
    code_version: Mapped[str] = mapped_column(String(MAX_TEXT))
    train_start: Mapped[int] = mapped_column(BigInteger, doc="ns since the epoch, UTC")
    train_end: Mapped[int] = mapped_column(BigInteger, doc="ns since the epoch, UTC")
    train_rows: Mapped[int] = mapped_column(BigInteger)
    features: Mapped[str] = mapped_column(Text, doc="JSON list of input names, in order")
    hyper_parameters: Mapped[str] = mapped_column(Text, doc="JSON object")
    metrics: Mapped[str] = mapped_column(Text, doc="JSON object")
    artifact_sha256: Mapped[str] = mapped_column(String(64))
    artifact: Mapped[bytes] = mapped_column(LargeBinary)


class ModelPromotionRow(Base):
    __tablename__ = "model_promotions"
    __table_args__ = (Index("ix_model_promotions_tenant_name", "tenant_id", "name", "id"),)

    id: Mapped[int] = mapped_column(_Id, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("tenants.id"))
    name: Mapped[str] = mapped_column(String(MAX_NAME))
    version: Mapped[int] = mapped_column(Integer)
    action: Mapped[str] = mapped_column(String(16), doc="promote or rollback")
    at: Mapped[datetime] = mapped_column(_UTCDateTime)
    actor: Mapped[str] = mapped_column(String(MAX_TEXT))


@dataclass(frozen=True, slots=True)
class NewModel:
    """What a training run hands to the registry."""

    name: str
    kind: str
    family: str
    created_by: str
    code_version: str
    train_start: int
    train_end: int
    train_rows: int
    features: Sequence[str]
    hyper_parameters: Mapping[str, Any]
    metrics: Mapping[str, Any]
    artifact: bytes


@dataclass(frozen=True, slots=True)
class ModelVersion:
    """A registered version; ``artifact`` is left empty by listings (see ``with_artifact``)."""

    name: str
    version: int
    kind: str
    family: str
    status: str
    created: datetime
    created_by: str
    code_version: str
    train_start: int
    train_end: int
    train_rows: int
    features: list[str]
    hyper_parameters: dict[str, Any]
    metrics: dict[str, Any]
    artifact_sha256: str
    artifact: bytes = field(default=b"", repr=False)


@dataclass(frozen=True, slots=True)
class Promotion:
    name: str
    version: int
    action: str
    at: datetime
    actor: str


def _facts(what: str, value: object) -> str:
    try:
        text = json.dumps(value, sort_keys=True, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise CatalogInputError(f"{what}: not JSON without NaN or infinities: {exc}") from exc
    if len(text) > MAX_FACTS:
        raise CatalogInputError(f"{what}: {len(text)} characters of JSON, at most {MAX_FACTS}")
    return text


def _check(model: NewModel) -> None:
    if not 0 < len(model.name) <= MAX_NAME:
        raise CatalogInputError(f"name: 1 to {MAX_NAME} characters")
    for what, value in (
        ("kind", model.kind),
        ("family", model.family),
        ("created_by", model.created_by),
        ("code_version", model.code_version),
    ):
        if not 0 < len(value) <= MAX_TEXT:
            raise CatalogInputError(f"{what}: 1 to {MAX_TEXT} characters")
    if model.train_end < model.train_start:
        raise CatalogInputError("train_end: before train_start")
    if model.train_rows < 1:
        raise CatalogInputError("train_rows: a model is trained on at least one row")
    if not model.features:
        raise CatalogInputError("features: a model has at least one input")
    if not 0 < len(model.artifact) <= MAX_ARTIFACT:
        raise CatalogInputError(f"artifact: 1 byte to {MAX_ARTIFACT} bytes")


def _version(row: ModelVersionRow, *, with_artifact: bool) -> ModelVersion:
    return ModelVersion(
        name=row.name,
        version=row.version,
        kind=row.kind,
        family=row.family,
        status=row.status,
        created=row.created,
        created_by=row.created_by,
        code_version=row.code_version,
        train_start=row.train_start,
        train_end=row.train_end,
        train_rows=row.train_rows,
        features=json.loads(row.features),
        hyper_parameters=json.loads(row.hyper_parameters),
        metrics=json.loads(row.metrics),
        artifact_sha256=row.artifact_sha256,
        artifact=row.artifact if with_artifact else b"",
    )


class ModelRegistry:
    """The catalog's model registry (synchronous, like the catalog: call it from threads)."""

    def __init__(self, catalog: Catalog) -> None:
        self._catalog = catalog

    def register(self, tenant_id: int, model: NewModel, now: datetime) -> ModelVersion:
        """Store ``model`` as the next version of its name, a candidate."""
        _check(model)
        features = _facts("features", list(model.features))
        hyper = _facts("hyper_parameters", dict(model.hyper_parameters))
        metrics = _facts("metrics", dict(model.metrics))
        with self._catalog._write() as s:
            newest = s.scalar(
                select(func.max(ModelVersionRow.version)).where(
                    ModelVersionRow.tenant_id == tenant_id, ModelVersionRow.name == model.name
                )
            )
            row = ModelVersionRow(
                tenant_id=tenant_id,
                name=model.name,
                version=(newest or 0) + 1,
                kind=model.kind,
                family=model.family,
                status="candidate",
                created=now,
                created_by=model.created_by,
                code_version=model.code_version,
                train_start=model.train_start,
                train_end=model.train_end,
                train_rows=model.train_rows,
                features=features,
                hyper_parameters=hyper,
                metrics=metrics,
                artifact_sha256=hashlib.sha256(model.artifact).hexdigest(),
                artifact=model.artifact,
            )
            s.add(row)
            s.flush()
            return _version(row, with_artifact=False)

    def versions(self, tenant_id: int, name: str | None = None) -> list[ModelVersion]:
        """Registered versions (without artifacts), newest first, at most MAX_LIST."""
        query = select(ModelVersionRow).where(ModelVersionRow.tenant_id == tenant_id)
        if name is not None:
            query = query.where(ModelVersionRow.name == name)
        query = query.order_by(ModelVersionRow.id.desc()).limit(MAX_LIST)
        with self._catalog._read() as s:
            return [_version(row, with_artifact=False) for row in s.scalars(query)]

    def get(self, tenant_id: int, name: str, version: int) -> ModelVersion:
        """One version with its artifact; CatalogInputError when there is none."""
        with self._catalog._read() as s:
            row = self._row(s, tenant_id, name, version)
            return _version(row, with_artifact=True)

    def promoted(self, tenant_id: int, name: str) -> ModelVersion | None:
        """The version in use for ``name``, with its artifact; None before any promotion."""
        with self._catalog._read() as s:
            row = s.scalar(self._promoted_query(tenant_id, name))
            return None if row is None else _version(row, with_artifact=True)

    def promoted_all(self, tenant_id: int) -> list[ModelVersion]:
        """Every name's version in use, with artifacts (what a scorer loads at start)."""
        query = select(ModelVersionRow).where(
            ModelVersionRow.tenant_id == tenant_id, ModelVersionRow.status == "promoted"
        )
        with self._catalog._read() as s:
            return [_version(row, with_artifact=True) for row in s.scalars(query)]

    def promote(
        self, tenant_id: int, name: str, version: int, actor: str, now: datetime
    ) -> ModelVersion:
        """Put ``version`` in use; the version in use before is retired."""
        with self._catalog._write() as s:
            return self._switch(s, tenant_id, name, version, "promote", actor, now)

    def rollback(self, tenant_id: int, name: str, actor: str, now: datetime) -> ModelVersion:
        """Go back to the version that was in use before the current one."""
        with self._catalog._write() as s:
            current = s.scalar(self._promoted_query(tenant_id, name))
            if current is None:
                raise CatalogInputError(f"model {name!r}: no version is in use")
            log = s.scalars(
                select(ModelPromotionRow.version)
                .where(ModelPromotionRow.tenant_id == tenant_id, ModelPromotionRow.name == name)
                .order_by(ModelPromotionRow.id.desc())
            ).all()
            earlier = [v for v in log if v != current.version]
            if not earlier:
                raise CatalogInputError(
                    f"model {name!r}: version {current.version} is the only one ever in use"
                )
            return self._switch(s, tenant_id, name, earlier[0], "rollback", actor, now)

    def promotions(self, tenant_id: int, name: str) -> list[Promotion]:
        """The promotion log of ``name``, newest first."""
        query = (
            select(ModelPromotionRow)
            .where(ModelPromotionRow.tenant_id == tenant_id, ModelPromotionRow.name == name)
            .order_by(ModelPromotionRow.id.desc())
            .limit(MAX_LIST)
        )
        with self._catalog._read() as s:
            return [Promotion(r.name, r.version, r.action, r.at, r.actor) for r in s.scalars(query)]

    def _switch(
        self,
        s: Session,
        tenant_id: int,
        name: str,
        version: int,
        action: str,
        actor: str,
        now: datetime,
    ) -> ModelVersion:
        target = self._row(s, tenant_id, name, version)
        current = s.scalar(self._promoted_query(tenant_id, name))
        if current is not None and current.id != target.id:
            current.status = "retired"
            s.flush()  # one promoted row per name at every moment, even within the transaction
        target.status = "promoted"
        s.add(
            ModelPromotionRow(
                tenant_id=tenant_id,
                name=name,
                version=version,
                action=action,
                at=now,
                actor=actor[:MAX_TEXT],
            )
        )
        s.flush()
        return _version(target, with_artifact=False)

    @staticmethod
    def _promoted_query(tenant_id: int, name: str) -> Any:
        return select(ModelVersionRow).where(
            ModelVersionRow.tenant_id == tenant_id,
            ModelVersionRow.name == name,
            ModelVersionRow.status == "promoted",
        )

    @staticmethod
    def _row(s: Session, tenant_id: int, name: str, version: int) -> ModelVersionRow:
        row = s.scalar(
            select(ModelVersionRow).where(
                ModelVersionRow.tenant_id == tenant_id,
                ModelVersionRow.name == name,
                ModelVersionRow.version == version,
            )
        )
        if row is None:
            raise CatalogInputError(f"model {name!r}: no version {version}")
        return row
