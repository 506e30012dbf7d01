"""The live health monitor without servers: warming up, normal, anomaly with one event per
episode, gaps shown as gaps, a model whose inputs left the site, and a new promotion."""

from datetime import UTC, datetime

import numpy as np

from factoryos.apps.maintenance.config import AnomalySpec
from factoryos.apps.maintenance.detectors import DetectorConfig
from factoryos.apps.maintenance.monitor import AnomalyEvent, HealthMonitor, HealthState
from factoryos.apps.maintenance.training import Rows, train_anomaly
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.store.model_registry import ModelVersion

EQ = "s/a/l/c/m"
IDS = {f"{EQ}/x": 1, f"{EQ}/y": 2, f"{EQ}/score": 3}
SPEC = AnomalySpec(signals=["x", "y"], family="pca", persistence=3, score_tag="score")


def _version(version: int = 1, features: list[str] | None = None) -> ModelVersion:
    rng = np.random.default_rng(version)
    x = rng.normal(size=2_000)
    rows = Rows(
        np.arange(2_000, dtype=np.int64), np.column_stack([x, x + 0.1 * rng.normal(size=2_000)])
    )
    model = train_anomaly(EQ, SPEC, rows, created_by="test").model
    return ModelVersion(
        name=model.name, version=version, kind="anomaly", family=model.family,
        status="promoted", created=datetime.now(UTC), created_by="test", code_version="t",
        train_start=0, train_end=1, train_rows=2_000,
        features=features or list(model.features), hyper_parameters={}, metrics={},
        artifact_sha256="", artifact=model.artifact,
    )  # fmt: skip


class Recorder:
    def __init__(self) -> None:
        self.events: list[AnomalyEvent] = []
        self.published: list[SampleBatch] = []

    async def publish(self, batch: SampleBatch) -> None:
        self.published.append(batch)

    async def on_anomaly(self, event: AnomalyEvent) -> None:
        self.events.append(event)


def _monitor() -> tuple[HealthMonitor, Recorder]:
    rec = Recorder()
    return HealthMonitor({EQ: SPEC}, IDS, rec.publish, rec.on_anomaly), rec


async def _feed(monitor: HealthMonitor, rows: list[tuple[float, float]], t0: int = 0) -> None:
    for i, (x, y) in enumerate(rows):
        await monitor.handle(SampleBatch.build([1, 2], t0 + i, [x, y]))


async def test_normal_then_one_event_per_anomaly_episode() -> None:
    monitor, rec = _monitor()
    assert monitor.health()[0].state is HealthState.NO_MODEL
    monitor.load([_version()])
    (health,) = monitor.health()
    assert health.state is HealthState.WARMING_UP and health.version == 1
    await _feed(monitor, [(0.1, 0.1)] * 60)
    assert health.state is HealthState.NORMAL and health.score is not None and health.score < 1
    await _feed(monitor, [(0.1, 8.0)] * 60, t0=60)  # y leaves x: the correlation breaks
    assert health.state is HealthState.ANOMALY and health.anomaly_since is not None
    (event,) = rec.events  # sixty anomalous polls, one episode, one event
    assert event.equipment == EQ and event.version == 1 and event.score > 1
    assert event.top[0][0] == f"{EQ}/y"
    await _feed(monitor, [(0.1, 0.1)] * 60, t0=120)
    await _feed(monitor, [(0.1, 8.0)] * 60, t0=180)
    assert len(rec.events) == 2  # back to normal in between: a second episode
    scores = SampleBatch.concat(rec.published)
    window = DetectorConfig().window  # one score per poll once the first window is full
    assert set(scores.tag_ids.tolist()) == {3} and len(scores) == 240 - window + 1


async def test_a_bad_sample_is_a_gap_not_a_score() -> None:
    monitor, rec = _monitor()
    monitor.load([_version()])
    await _feed(monitor, [(0.1, 0.1)] * 40)
    await monitor.handle(SampleBatch.build([1, 2], 100, [0.1, 0.1], [Quality.BAD, Quality.GOOD]))
    (health,) = monitor.health()
    assert health.state is HealthState.GAP and health.score is None
    assert health.missing == [f"{EQ}/x"]
    last = rec.published[-1]
    assert last.quality[0] == Quality.BAD and np.isnan(last.values[0])


async def test_a_model_whose_inputs_left_the_site_is_not_scored() -> None:
    monitor, rec = _monitor()
    monitor.load([_version(features=[f"{EQ}/x", f"{EQ}/gone"])])
    (health,) = monitor.health()
    assert health.state is HealthState.INPUTS_MISSING and health.missing == [f"{EQ}/gone"]
    await _feed(monitor, [(0.1, 0.1)] * 40)
    assert rec.published == [] and health.score is None


async def test_a_new_promotion_starts_its_window_anew() -> None:
    monitor, _ = _monitor()
    monitor.load([_version(1)])
    await _feed(monitor, [(0.1, 0.1)] * 40)
    monitor.load([_version(1)])  # the same version again: nothing changes
    assert monitor.health()[0].state is HealthState.NORMAL
    monitor.load([_version(2)])
    assert monitor.health()[0].state is HealthState.WARMING_UP
    assert monitor.health()[0].version == 2
    monitor.load([])
    assert monitor.health()[0].state is HealthState.NO_MODEL
