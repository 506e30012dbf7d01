"""The platform's periodic retention: the site file's classes, applied on a real store."""

import asyncio
import logging
from pathlib import Path

import numpy as np
import pytest
from prometheus_client import generate_latest

from factoryos.model import SampleBatch
from factoryos.model.errors import SiteFileError
from factoryos.model.site import parse_site
from factoryos.runtime.metrics import MetricSources, build_registry
from factoryos.runtime.retention_job import RetentionJob
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.retention import RetentionPolicy, policy_of_site
from factoryos.store.rollups import DAY_NS, Retention

SITE = """
site:
  name: plant
  areas:
    - name: hall
      lines:
        - name: l1
          cells:
            - name: c1
              equipment:
                - name: press
                  tags:
                    - {name: force, retention: vibration}
                    - {name: energy_kwh, retention: energy}
                    - {name: temp}
retention:
  default: {raw: 10d}
  classes:
    vibration: {raw: 2d, rollup_1m: 30d}
    energy: {raw: 400d}
"""
NOW = 1_767_225_600 * 10**9 + 30 * DAY_NS
IDS = {"plant/hall/l1/c1/press/force": 1, "plant/hall/l1/c1/press/energy_kwh": 2,
       "plant/hall/l1/c1/press/temp": 3}  # fmt: skip


def test_the_site_file_names_the_classes_and_their_tags() -> None:
    policy = policy_of_site(parse_site(SITE), IDS)
    assert policy.default == Retention(10 * DAY_NS, 400 * DAY_NS, 3660 * DAY_NS)
    by_name = {c.name: c for c in policy.classes}
    assert by_name["vibration"].keep == Retention(2 * DAY_NS, 30 * DAY_NS, 3660 * DAY_NS)
    assert by_name["vibration"].tag_ids.tolist() == [1]
    assert by_name["energy"].tag_ids.tolist() == [2]


def test_a_tag_naming_an_unknown_class_is_refused_with_its_line() -> None:
    bad = SITE.replace("retention: energy}", "retention: enrgy}")
    with pytest.raises(SiteFileError) as info:
        parse_site(bad, "plant.yaml")
    text = str(info.value)
    assert "plant.yaml:14:" in text and "unknown retention class 'enrgy'" in text
    with pytest.raises(SiteFileError, match="raw"):
        parse_site(SITE.replace("raw: 400d", "raw: 400 days"))


def _store(tmp_path: Path) -> DuckDBStore:
    store = DuckDBStore(tmp_path / "ts.duckdb")
    days = np.arange(30, dtype=np.int64)
    ts = NOW - (30 - days) * DAY_NS + 1
    store.write(SampleBatch.build(np.repeat([1, 2, 3], 30), np.tile(ts, 3), np.ones(90)))
    return store


async def test_a_run_applies_each_class_and_is_counted_in_metrics(tmp_path: Path) -> None:
    policy = policy_of_site(parse_site(SITE), IDS)
    with _store(tmp_path) as store:
        job = RetentionJob(store, policy, every_s=3600, clock=lambda: NOW)
        deleted = await job.run_once()
        assert deleted is not None
        # 30 daily samples each: 2 d keeps 2, 10 d keeps 10, 400 d keeps all 30
        assert [store.count(t) for t in (1, 2, 3)] == [2, 30, 10]
        assert deleted["samples"] == 28 + 20
        text = generate_latest(build_registry(MetricSources(retention=job.stats))).decode()
        assert "factoryos_retention_runs_total 1.0" in text
        assert 'factoryos_retention_deleted_rows_total{table="samples"} 48.0' in text


async def test_a_failing_run_is_logged_once_and_its_recovery_too(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with _store(tmp_path) as store:
        broken = RetentionPolicy(default=Retention(-1, DAY_NS, DAY_NS))
        job = RetentionJob(store, broken, every_s=3600, clock=lambda: NOW)
        with caplog.at_level(logging.INFO, logger="factoryos.runtime.retention_job"):
            assert await job.run_once() is None
            assert await job.run_once() is None
            job.policy = RetentionPolicy(default=Retention(DAY_NS, DAY_NS, DAY_NS))
            assert await job.run_once() is not None
        messages = [r.getMessage() for r in caplog.records]
        assert len([m for m in messages if m.startswith("retention failed")]) == 1
        assert messages[-1] == "retention recovered"
        assert (job.stats.failures, job.stats.runs) == (2, 1)
        assert store.count() == 3  # one day kept, for each of the three tags


async def test_the_job_runs_at_start_and_every_interval_until_halted(tmp_path: Path) -> None:
    with _store(tmp_path) as store:
        job = RetentionJob(store, RetentionPolicy(), every_s=0.05, clock=lambda: NOW)
        halt = asyncio.Event()
        task = asyncio.create_task(job.run(halt))
        await asyncio.sleep(1.0)  # 20 intervals: at least a few runs even on a busy machine
        halt.set()
        await asyncio.wait_for(task, 5)
        assert job.stats.runs >= 3 and job.stats.failures == 0
    with pytest.raises(ValueError, match="every_s"):
        RetentionJob(store, RetentionPolicy(), every_s=0)
