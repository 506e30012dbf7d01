"""Predictive maintenance: equipment health, training, and the model registry (docs/maintenance.md).

Training runs in a worker thread (numpy and the catalog, never on the event loop); a
promotion or rollback changes the registry in a worker thread and then hands the promoted
versions to the live monitor on the loop, so the next batch is scored with them.
"""

from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from factoryos.api.audit import record
from factoryos.api.deps import ServicesDep, TenantCaller
from factoryos.api.params import iso_time, now_ns, parse_time
from factoryos.apps.maintenance.monitor import Health
from factoryos.apps.maintenance.rul_live import RulEstimate
from factoryos.apps.maintenance.service import MaintenanceApp, TrainingRequest
from factoryos.store.model_registry import ModelVersion, Promotion

router = APIRouter(prefix="/api/maintenance", tags=["maintenance"])

_TIME = "ISO 8601 with a zone, e.g. 2025-01-06T06:00:00Z."
_NAME = "A model's registry name, e.g. anomaly/demo/machining/line1/cell1/cnc-01."
MAX_TREND = 500


class SignalShare(BaseModel):
    signal: str
    share: float = Field(description="The signal's share of the score (shares sum to 1).")


class RulOut(BaseModel):
    """Remaining useful life in running hours, after the equipment's last complete cycle."""

    rul: float
    lower: float
    upper: float
    unit: Literal["h"] = "h"
    coverage: float = Field(description="Nominal coverage of [lower, upper], e.g. 0.8.")
    cycles: int = Field(description="Complete cycles since the last repair.")
    time: str
    model_version: int

    @classmethod
    def of(cls, e: RulEstimate) -> "RulOut":
        return cls(
            rul=e.rul_h,
            lower=e.lower_h,
            upper=e.upper_h,
            coverage=e.coverage,
            cycles=e.cycles,
            time=iso_time(e.ts),
            model_version=e.version,
        )


class HealthOut(BaseModel):
    equipment: str
    state: str = Field(description="no model, inputs missing, warming up, normal, anomaly, gap.")
    model_version: int | None
    family: str | None
    time: str | None = Field(description="Time of the last scored row.")
    score: float | None = Field(description="1.0 is the alarm threshold; None in a gap.")
    explanation: list[SignalShare] = Field(description="The signals that contribute most.")
    missing: list[str] = Field(description="Inputs with a gap, or no longer in the site.")
    anomaly_since: str | None
    trend: list[tuple[str, float]] = Field(description=f"Recent scores, at most {MAX_TREND}.")
    rul: RulOut | None = Field(description="None: no RUL model for its type, or no estimate.")
    rul_note: str | None = Field(description="Why there is no RUL estimate, when there is one.")

    @classmethod
    def of(cls, h: Health, rul: RulEstimate | str | None) -> "HealthOut":
        trend = list(h.trend)
        step = max(1, len(trend) // MAX_TREND)
        return cls(
            equipment=h.equipment,
            state=str(h.state),
            model_version=h.version,
            family=h.family,
            time=None if h.ts is None else iso_time(h.ts),
            score=h.score,
            explanation=[SignalShare(signal=s, share=v) for s, v in h.top],
            missing=h.missing,
            anomaly_since=None if h.anomaly_since is None else iso_time(h.anomaly_since),
            trend=[(iso_time(t), v) for t, v in trend[-MAX_TREND * step :: step]],
            rul=RulOut.of(rul) if isinstance(rul, RulEstimate) else None,
            rul_note=rul if isinstance(rul, str) else None,
        )


class ModelOut(BaseModel):
    name: str
    version: int
    kind: str
    family: str
    status: Literal["candidate", "promoted", "retired"] | str
    created: datetime
    created_by: str
    code_version: str
    train_start: str
    train_end: str
    train_rows: int
    features: list[str]
    hyper_parameters: dict[str, Any]
    metrics: dict[str, Any]
    artifact_sha256: str

    @classmethod
    def of(cls, v: ModelVersion) -> "ModelOut":
        return cls(
            name=v.name,
            version=v.version,
            kind=v.kind,
            family=v.family,
            status=v.status,
            created=v.created,
            created_by=v.created_by,
            code_version=v.code_version,
            train_start=iso_time(v.train_start),
            train_end=iso_time(v.train_end),
            train_rows=v.train_rows,
            features=v.features,
            hyper_parameters=v.hyper_parameters,
            metrics=v.metrics,
            artifact_sha256=v.artifact_sha256,
        )


class PromotionOut(BaseModel):
    name: str
    version: int
    action: str
    at: datetime
    actor: str

    @classmethod
    def of(cls, p: Promotion) -> "PromotionOut":
        return cls(name=p.name, version=p.version, action=p.action, at=p.at, actor=p.actor)


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TrainIn(_In):
    equipment: str = Field(max_length=400, description="A watched equipment's UNS path.")
    start: str | None = Field(default=None, max_length=64, description=f"{_TIME} Default: "
                              "the apps file's training_hours before end.")  # fmt: skip
    end: str | None = Field(default=None, max_length=64, description=f"{_TIME} Default: now.")
    family: Literal["auto", "pca", "gmm", "autoencoder"] | None = Field(
        default=None, description="Default: the apps file's (auto: chosen by validation)."
    )
    promote: bool = Field(default=False, description="Put the new version in use at once.")


class PromoteIn(_In):
    name: str = Field(max_length=400, description=_NAME)
    version: int = Field(ge=1, le=2**31 - 1)


class RollbackIn(_In):
    name: str = Field(max_length=400, description=_NAME)


def maintenance_app(services: ServicesDep, principal: TenantCaller) -> MaintenanceApp:
    """The maintenance app of the caller's tenant; 404 where none is configured."""
    app = services.maintenance
    if app is None or app.tenant != principal.tenant:
        raise HTTPException(
            status.HTTP_404_NOT_FOUND, "no maintenance configured (apps file: maintenance:)"
        )
    return app


Maintenance = Annotated[MaintenanceApp, Depends(maintenance_app)]


@router.get("/health", summary="Health of every watched equipment: score, explanation, trend")
def health(app: Maintenance) -> list[HealthOut]:
    watched = app.monitor.health()
    seen = {h.equipment for h in watched}
    only_rul = [Health(e) for e in app.rul.estimates if e not in seen]
    return [HealthOut.of(h, app.rul.estimates.get(h.equipment)) for h in [*watched, *only_rul]]


@router.get("/models", summary="Registered model versions, newest first")
def models(
    app: Maintenance,
    name: Annotated[str | None, Query(max_length=400, description=_NAME)] = None,
) -> list[ModelOut]:
    return [ModelOut.of(v) for v in app.registry.versions(app.tenant_id, name)]


@router.get("/models/promotions", summary="A model's promotions and rollbacks, newest first")
def promotions(
    app: Maintenance, name: Annotated[str, Query(max_length=400, description=_NAME)]
) -> list[PromotionOut]:
    return [PromotionOut.of(p) for p in app.registry.promotions(app.tenant_id, name)]


@router.get(
    "/models/artifact",
    summary="A version's ONNX file, as the edge loads it",
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}}},
)
def artifact(
    app: Maintenance,
    name: Annotated[str, Query(max_length=400, description=_NAME)],
    version: Annotated[int, Query(ge=1, le=2**31 - 1)],
) -> Response:
    found = app.registry.get(app.tenant_id, name, version)
    file = f"{name.replace('/', '_')}_v{version}.onnx"
    return Response(
        found.artifact,
        media_type="application/octet-stream",
        headers={"Content-Disposition": f'attachment; filename="{file}"'},
    )


async def _reload(app: MaintenanceApp) -> None:
    app.reload_models(await run_in_threadpool(app.promoted))


@router.post("/models/train", summary="Train a model on stored history; registered as a candidate")
async def train(
    services: ServicesDep, principal: TenantCaller, app: Maintenance, body: TrainIn
) -> ModelOut:
    request = TrainingRequest(
        equipment=body.equipment,
        start_ns=None if body.start is None else parse_time(body.start, "start"),
        end_ns=None if body.end is None else parse_time(body.end, "end"),
        family=body.family,
        promote=body.promote,
    )
    version = await run_in_threadpool(app.train, request, principal.key_name, now_ns())
    if body.promote:
        await _reload(app)
    detail = {"version": version.version, "family": version.family, "promote": body.promote}
    await record(services, "model_train", principal, version.name, detail)
    return ModelOut.of(version)


@router.post("/models/promote", summary="Put a version in use (the one in use is retired)")
async def promote(
    services: ServicesDep, principal: TenantCaller, app: Maintenance, body: PromoteIn
) -> ModelOut:
    now = datetime.now(UTC)
    version = await run_in_threadpool(
        app.registry.promote, app.tenant_id, body.name, body.version, principal.key_name, now
    )
    await _reload(app)
    await record(services, "model_promote", principal, body.name, {"version": body.version})
    return ModelOut.of(version)


@router.post("/models/rollback", summary="Go back to the version in use before the current one")
async def rollback(
    services: ServicesDep, principal: TenantCaller, app: Maintenance, body: RollbackIn
) -> ModelOut:
    now = datetime.now(UTC)
    version = await run_in_threadpool(
        app.registry.rollback, app.tenant_id, body.name, principal.key_name, now
    )
    await _reload(app)
    await record(services, "model_rollback", principal, body.name, {"version": version.version})
    return ModelOut.of(version)
