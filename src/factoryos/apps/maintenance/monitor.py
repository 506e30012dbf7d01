"""The live health monitor: scores every watched equipment with its promoted model.

For each batch of the sample stream, every model fed by it answers one score (see
:mod:`factoryos.edge.inference`, the same code the edge runs). The monitor keeps each
equipment's health (state, last score, the signals that contribute most, a bounded trend),
publishes scores to the equipment's score tag when the apps file names one, and turns a
score that stays above 1 for ``persistence`` rows in a row into one :class:`AnomalyEvent`
(the work order's trigger); the anomaly ends after as many rows below 1.

A promoted model whose input tags are no longer in the site is not scored: its equipment
shows the state ``inputs missing`` with the tags' names until a model that fits is promoted.
"""

import logging
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from factoryos.apps.maintenance.config import AnomalySpec
from factoryos.apps.maintenance.detectors import Persistence
from factoryos.edge.inference import ModelFileError, OnnxModel, Score, StreamScorer, score_batch
from factoryos.model.samples import SampleBatch
from factoryos.model.uns import tag_path
from factoryos.store.model_registry import ModelVersion

log = logging.getLogger(__name__)

TREND_POINTS = 2_000
TOP_SIGNALS = 3
PREFIX = "anomaly/"


class HealthState(StrEnum):
    NO_MODEL = "no model"
    INPUTS_MISSING = "inputs missing"
    WARMING_UP = "warming up"
    NORMAL = "normal"
    ANOMALY = "anomaly"
    GAP = "gap"


@dataclass(frozen=True, slots=True)
class AnomalyEvent:
    equipment: str
    model: str
    version: int
    family: str
    since: int
    ts: int
    score: float
    top: list[tuple[str, float]]


@dataclass
class Health:
    equipment: str
    state: HealthState = HealthState.NO_MODEL
    version: int | None = None
    family: str | None = None
    ts: int | None = None
    score: float | None = None
    top: list[tuple[str, float]] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)
    anomaly_since: int | None = None
    trend: deque[tuple[int, float]] = field(default_factory=lambda: deque(maxlen=TREND_POINTS))


@dataclass
class _Watch:
    spec: AnomalySpec
    health: Health
    scorer: StreamScorer | None = None
    persistence: Persistence | None = None


def equipment_of(model_name: str) -> str | None:
    return model_name[len(PREFIX) :] if model_name.startswith(PREFIX) else None


class HealthMonitor:
    """Scores the stream with the promoted models of the watched equipment."""

    def __init__(
        self,
        watched: Mapping[str, AnomalySpec],
        tag_ids: Mapping[str, int],
        publish: Callable[[SampleBatch], Awaitable[None]],
        on_anomaly: Callable[[AnomalyEvent], Awaitable[None]],
    ) -> None:
        self._tag_ids = dict(tag_ids)
        self._publish = publish
        self._on_anomaly = on_anomaly
        self._watch = {eq: _Watch(spec, Health(eq)) for eq, spec in watched.items()}
        self._score_tags = {
            eq: self._tag_ids[tag_path(eq, spec.score_tag)]
            for eq, spec in watched.items()
            if spec.score_tag is not None
        }

    def load(self, versions: Sequence[ModelVersion]) -> None:
        """Use ``versions`` (the promoted ones): a changed version starts its window anew."""
        promoted = {equipment_of(v.name): v for v in versions if v.kind == "anomaly"}
        for equipment, watch in self._watch.items():
            version = promoted.get(equipment)
            if version is None:
                watch.health, watch.scorer = Health(equipment), None
                continue
            if watch.scorer is not None and watch.health.version == version.version:
                continue
            watch.health = Health(equipment, version=version.version, family=version.family)
            watch.scorer, watch.persistence = self._scorer(watch, version), None
            if watch.scorer is not None:
                watch.persistence = Persistence(watch.spec.persistence)
                watch.health.state = HealthState.WARMING_UP

    def _scorer(self, watch: _Watch, version: ModelVersion) -> StreamScorer | None:
        name = f"{version.name} v{version.version}"
        missing = [s for s in version.features if s not in self._tag_ids]
        if missing:
            log.error("%s: input tags no longer in the site: %s", name, ", ".join(missing))
            watch.health.state, watch.health.missing = HealthState.INPUTS_MISSING, missing
            return None
        try:
            return StreamScorer([OnnxModel(version.artifact, name)], self._tag_ids)
        except ModelFileError as exc:
            log.error("%s: not used: %s", name, exc)
            watch.health.state, watch.health.missing = HealthState.INPUTS_MISSING, [str(exc)]
            return None

    def health(self) -> list[Health]:
        return [w.health for w in self._watch.values()]

    async def handle(self, batch: SampleBatch) -> None:
        published: list[Score] = []
        tags: dict[str, int] = {}
        for equipment, watch in self._watch.items():
            if watch.scorer is None:
                continue
            for score in watch.scorer.feed(batch):
                event = self._update(equipment, watch, score)
                tag = self._score_tags.get(equipment)
                if tag is not None:
                    published.append(score)
                    tags[score.model] = tag
                if event is not None:
                    await self._on_anomaly(event)
        if published:
            await self._publish(score_batch(published, tags))

    def _update(self, equipment: str, watch: _Watch, score: Score) -> AnomalyEvent | None:
        health = watch.health
        health.ts, health.missing = score.ts, list(score.missing)
        if not np.isfinite(score.value):
            health.state, health.score, health.top = HealthState.GAP, None, []
            return None
        health.score, health.top = score.value, score.top(TOP_SIGNALS)
        health.trend.append((score.ts, score.value))
        assert watch.persistence is not None  # set together with the scorer
        was = health.anomaly_since is not None
        now = watch.persistence.update(score.value > 1.0)
        if now and not was:
            health.anomaly_since = score.ts
        elif not now:
            health.anomaly_since = None
        health.state = HealthState.ANOMALY if now else HealthState.NORMAL
        if not now or was:
            return None
        assert health.version is not None and health.family is not None
        return AnomalyEvent(
            equipment=equipment,
            model=PREFIX + equipment,
            version=health.version,
            family=health.family,
            since=score.ts,
            ts=score.ts,
            score=score.value,
            top=health.top,
        )
