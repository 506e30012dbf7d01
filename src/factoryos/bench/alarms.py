"""``factoryos bench alarms``: how fast alarms fire from the live stream.

The platform's own alarm processor (apps/alarms) runs on an in-process bus with ``rules``
high-limit rules, one per tag, and its history in a SQLite catalog, as in the embedded
platform. A publisher offers ``rate`` samples per second in batches every 100 ms, every
sample stamped with the wall clock when it is published; every ``TOGGLE_S`` a different
1 % of the tags crosses its limit or comes back, so the processor activates and clears
alarms all along. Each event is timed when the processor hands it to notifications
(``on_event``): latency = that moment − the sample's time. Reported: offered and processed
samples per second, events, latency p50/p99/max, the share within the issue's limit of one
second, batches dropped.
"""

import asyncio
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from rich.progress import Progress
from rich.table import Table

from factoryos.apps.alarms.config import AlarmConfig, AlarmInfo
from factoryos.apps.alarms.processor import AlarmNotice, AlarmProcessor
from factoryos.apps.alarms.rules import LimitRule
from factoryos.bench.errors import BenchError
from factoryos.bench.ingest import progress_bar
from factoryos.bus.inprocess import InProcessBus
from factoryos.model.samples import SampleBatch
from factoryos.store.alarm_log import AlarmLog
from factoryos.store.catalog import Catalog

PERIOD_S = 0.1  # one batch per 100 ms, as fast pollers publish
TOGGLE_S = 2.0
TOGGLE_SHARE = 0.01
SETPOINT, NORMAL, HIGH = 80.0, 50.0, 95.0
LIMIT_S = 1.0  # issue 6: within one second of the sample arriving
SETTLE_S = 2.0  # after the last batch, for the processor to finish


@dataclass
class _Timing:
    latencies: list[float]
    events: int = 0


def _config(rules: int) -> AlarmConfig:
    made = [
        LimitRule(name=f"T{i} H", tag_id=i, level="H", setpoint=SETPOINT, deadband=2.0)
        for i in range(rules)
    ]
    info = {r.name: AlarmInfo(r.name, f"bench/t{r.tag_id}", "bench", True, "") for r in made}
    return AlarmConfig(list(made), info)


async def _publish(
    bus: InProcessBus, rules: int, rate: float, seconds: float, on_batch: Any
) -> int:
    per_batch = max(1, round(rate * PERIOD_S))
    ids = np.arange(per_batch) % rules
    high = np.zeros(rules, dtype=np.bool_)
    rng = np.random.default_rng(0)
    sent, start = 0, time.monotonic()
    next_toggle = start + TOGGLE_S
    while (now := time.monotonic()) < start + seconds:
        if now >= next_toggle:  # a new 1 % of the tags crosses over, the old one returns
            high[:] = False
            high[rng.choice(rules, max(1, round(rules * TOGGLE_SHARE)), replace=False)] = True
            next_toggle += TOGGLE_S
        values = np.where(high[ids], HIGH, NORMAL)
        await bus.publish(SampleBatch.build(ids, np.full(per_batch, time.time_ns()), values))
        sent += per_batch
        on_batch(now - start)
        await asyncio.sleep(max(0.0, start + (sent / per_batch) * PERIOD_S - time.monotonic()))
    return sent


async def _run(
    rules: int, rate: float, seconds: float, progress: Progress | None
) -> dict[str, Any]:
    timing = _Timing([])

    async def on_event(notice: AlarmNotice) -> None:
        timing.latencies.append((time.time_ns() - notice.event.ts) / 1e9)
        timing.events += 1

    with tempfile.TemporaryDirectory(prefix="factoryos-bench-alarms-") as tmp:
        catalog = Catalog(f"sqlite:///{Path(tmp) / 'catalog.sqlite'}")
        catalog.create_all()
        bus = InProcessBus()
        try:
            tenant = catalog.ensure_tenant("bench")
            processor = AlarmProcessor(
                _config(rules), bus, AlarmLog(catalog), tenant, on_event=on_event
            )
            stop = asyncio.Event()
            task = asyncio.create_task(processor.run(stop))
            job = progress.add_task("publishing", total=seconds) if progress else None

            def advance(elapsed: float) -> None:
                if progress is not None and job is not None:
                    progress.update(job, completed=min(elapsed, seconds))

            t0 = time.perf_counter()
            sent = await _publish(bus, rules, rate, seconds, advance)
            wall = time.perf_counter() - t0
            await asyncio.sleep(SETTLE_S)
            stop.set()
            await asyncio.wait_for(task, 60)
        finally:
            bus.close()
            catalog.close()
    stats = processor.stats
    return _summary(rules, rate, sent, wall, timing, stats.batches, stats.dropped_batches)


def _summary(
    rules: int, rate: float, sent: int, wall: float, timing: _Timing, batches: int, dropped: int
) -> dict[str, Any]:
    if not timing.latencies:
        raise BenchError("no alarm fired: the processor did not keep up at all")
    lat = np.array(timing.latencies) * 1000
    return {
        "rules": rules,
        "offered_per_s": rate,
        "samples": sent,
        "samples_per_s": sent / wall,
        "batches_processed": batches,
        "batches_dropped": dropped,
        "events": timing.events,
        "p50_ms": float(np.percentile(lat, 50)),
        "p99_ms": float(np.percentile(lat, 99)),
        "max_ms": float(lat.max()),
        "within_1s": float(np.mean(lat <= LIMIT_S * 1000)),
        "ratio_p99_to_limit": float(np.percentile(lat, 99)) / (LIMIT_S * 1000),
    }


def run_alarm_bench(
    rules: int = 1000, rate: float = 50_000.0, seconds: float = 20.0, *, progress: bool = True
) -> dict[str, Any]:
    """Run the benchmark; the figures as a dict (the ``--json`` object)."""
    if rules < 1 or rate <= 0 or seconds <= 0:
        raise BenchError("rules, rate and seconds must be positive")
    with progress_bar(progress) as bar:
        return asyncio.run(_run(rules, rate, seconds, bar))


def format_alarm_table(r: dict[str, Any]) -> Table:
    table = Table(title=f"alarms from the live stream — {r['rules']:,} rules")
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("offered samples/s", f"{r['offered_per_s']:,.0f}"),
        ("published samples/s", f"{r['samples_per_s']:,.0f}"),
        ("batches processed / dropped", f"{r['batches_processed']:,} / {r['batches_dropped']:,}"),
        ("alarm events", f"{r['events']:,}"),
        ("latency p50", f"{r['p50_ms']:.1f} ms"),
        ("latency p99", f"{r['p99_ms']:.1f} ms"),
        ("latency max", f"{r['max_ms']:.1f} ms"),
        ("within 1 s", f"{r['within_1s']:.2%}"),
        ("p99 / 1 s limit", f"{r['ratio_p99_to_limit']:.3f}"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    return table
