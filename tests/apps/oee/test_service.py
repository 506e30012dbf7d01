"""The OEE service against a real DuckDB store: the samples a range starts with."""

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from factoryos.apps.oee.config import load_section
from factoryos.apps.oee.service import OeeService
from factoryos.model.appsfile import parse_apps_file
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.sim import load_demo_site
from factoryos.store.duckdb_store import DuckDBStore

S = 1_000_000_000
CNC = "demo/machining/line1/cell1/cnc-01"
APPS = f"""
oee:
  calendars: {{all: {{shifts: [{{name: d, start: "00:00", end: "00:00"}}]}}}}
  equipment:
    {CNC}:
      calendar: all
      state_tag: state
      counters: {{produced: cycle_count, good: good_count}}
      ideal_cycle_s: 10
      lookback_s: 259200
"""
T0 = 1_736_121_600 * S  # Monday 2025-01-06 00:00 UTC


@pytest.fixture
def oee(tmp_path: Path) -> Iterator[OeeService]:
    site = load_demo_site()
    section = load_section(parse_apps_file(APPS, "apps.yaml"), site)
    assert section is not None
    ids = {ref.path: i for i, ref in enumerate(site.tags())}
    with DuckDBStore(tmp_path / "ts.duckdb") as store:
        yield OeeService(section, store, ids)


def write(oee: OeeService, tag: str, ts: np.ndarray, values: np.ndarray, q: int = 0) -> None:
    tag_id = oee._tag_ids[f"{CNC}/{tag}"]
    quality = np.full(ts.size, q, np.uint8)
    oee._store.write(SampleBatch.build(np.full(ts.size, tag_id), ts, values, quality))


def test_the_counter_baseline_is_the_last_sample_even_far_back(oee: OeeService) -> None:
    # a 1 s counter for two days that stops 20 minutes before the range: more samples in
    # the look-back than one read returns, and the baseline must still be the last one
    n = 2 * 86_400
    ts = T0 + np.arange(n, dtype=np.int64) * S
    for tag in ("cycle_count", "good_count"):
        write(oee, tag, ts, np.arange(n, dtype=np.float64) // 20)
    a = int(ts[-1]) + 20 * 60 * S
    write(oee, "state", np.array([a - 5 * S]), np.array([6.0]))
    later = np.array([a + 600 * S, a + 1200 * S])
    base = float((n - 1) // 20)
    for tag in ("cycle_count", "good_count"):
        write(oee, tag, later, np.array([base + 30, base + 63]))
    result = oee.equipment(CNC, a, a + 1200 * S)
    assert result.products[0].produced == 63


def test_a_bad_last_sample_keeps_the_last_good_baseline(oee: OeeService) -> None:
    ts = T0 + np.arange(3, dtype=np.int64) * 60 * S
    for tag in ("cycle_count", "good_count"):
        write(oee, tag, ts[:2], np.array([100.0, 110.0]))
        write(oee, tag, ts[2:], np.array([0.0]), q=Quality.BAD)  # the link dropped
        write(oee, tag, np.array([ts[2] + 600 * S]), np.array([125.0]))
    write(oee, "state", ts[:1], np.array([6.0]))
    result = oee.equipment(CNC, int(ts[2]) + S, int(ts[2]) + 900 * S)
    assert result.products[0].produced == 15
