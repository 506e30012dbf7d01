"""Prometheus metrics of a running platform or ingest worker, read at scrape time.

Nothing is counted per sample for Prometheus: the ingest, the bus, the JetStream consumer and
the drivers already keep counters (their ``stats``), and :class:`PlatformCollector` turns them
into metric families when Prometheus scrapes. Each app gets its own
:class:`~prometheus_client.CollectorRegistry`, never the process-global one, so two apps in one
process (tests, the demo) never mix their numbers.
"""

import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from prometheus_client import CollectorRegistry
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from factoryos.apps.alarms.processor import ProcessorStats
from factoryos.apps.notify import NotifierStats
from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.nats import NatsIngestSource
from factoryos.runtime.retention_job import RetentionStats
from factoryos.store.backend import TimeSeriesStore
from factoryos.store.ingest import Ingestor

NS = "factoryos"


@dataclass
class MetricSources:
    """The objects whose counters are exported; lists may grow after the registry is built."""

    ingestors: list[Ingestor] = field(default_factory=list)
    store: TimeSeriesStore | None = None
    tag_ids: list[int] = field(default_factory=list)
    """Tags whose newest stored sample sets the ingest lag."""
    bus: InProcessBus | None = None
    nats: list[NatsIngestSource] = field(default_factory=list)
    drivers: list[Any] = field(default_factory=list)
    """Drivers with a ``name`` and ``stats`` holding ``polls``/``failures``/``connected``."""
    retention: RetentionStats | None = None
    alarms: ProcessorStats | None = None
    notify: Callable[[], NotifierStats] | None = None
    """A snapshot of the notifier's counters."""


class PlatformCollector(Collector):
    """Reads :class:`MetricSources` on every scrape."""

    def __init__(self, sources: MetricSources) -> None:
        self.sources = sources

    def collect(self) -> Iterator[Metric]:
        yield from self._ingest()
        yield from self._lag()
        yield from self._bus()
        yield from self._nats()
        yield from self._drivers()
        yield from self._retention()
        yield from self._alarms()
        yield from self._notify()

    def _ingest(self) -> Iterator[Metric]:
        stats = [i.stats for i in self.sources.ingestors]
        yield _counter("ingest_samples", "Samples received by the ingest.", stats, "rows_in")
        yield _counter("ingest_samples_stored", "Samples new to the store.", stats, "rows_stored")
        yield _counter(
            "ingest_samples_rejected", "Samples the store refused.", stats, "rows_rejected"
        )
        yield _counter("ingest_batches", "Batches received by the ingest.", stats, "batches")
        yield _counter("ingest_write_errors", "Store writes that failed.", stats, "write_errors")
        depth = GaugeMetricFamily(
            f"{NS}_ingest_queue_depth", "Batches waiting for the ingest to store them."
        )
        depth.add_metric([], sum(s.queue_depth for s in stats))
        yield depth

    def _lag(self) -> Iterator[Metric]:
        store, ids = self.sources.store, self.sources.tag_ids
        if store is None or not ids:
            return
        newest = store.last(np.asarray(ids, dtype=np.int32)).ts
        if len(newest):
            lag = GaugeMetricFamily(
                f"{NS}_ingest_lag_seconds", "Now minus the newest stored sample time."
            )
            lag.add_metric([], (time.time_ns() - int(newest.max())) / 1e9)
            yield lag

    def _bus(self) -> Iterator[Metric]:
        if self.sources.bus is None:
            return
        subs = self.sources.bus.subscriptions
        dropped = CounterMetricFamily(
            f"{NS}_bus_dropped_batches", "Batches a full subscriber dropped.", labels=["sub"]
        )
        depth = GaugeMetricFamily(
            f"{NS}_bus_queue_depth", "Batches queued per bus subscriber.", labels=["sub"]
        )
        for sub in subs:
            dropped.add_metric([sub.name], sub.dropped)
            depth.add_metric([sub.name], sub.qsize)
        yield dropped
        yield depth

    def _nats(self) -> Iterator[Metric]:
        sources = self.sources.nats
        if not sources:
            return
        labels = ["consumer"]
        families: dict[str, CounterMetricFamily | GaugeMetricFamily] = {
            "messages": CounterMetricFamily(
                f"{NS}_nats_messages", "JetStream messages stored and acked.", labels=labels
            ),
            "malformed": CounterMetricFamily(
                f"{NS}_nats_malformed", "JetStream messages dropped as malformed.", labels=labels
            ),
            "unknown_samples": CounterMetricFamily(
                f"{NS}_nats_unknown_samples", "Samples of tags not in the catalog.", labels=labels
            ),
            "redelivered": CounterMetricFamily(
                f"{NS}_nats_redelivered", "JetStream messages received again.", labels=labels
            ),
            "pending": GaugeMetricFamily(
                f"{NS}_nats_pending", "Stream messages not yet delivered.", labels=labels
            ),
            "connected": GaugeMetricFamily(
                f"{NS}_nats_connected", "1 while consuming from NATS.", labels=labels
            ),
        }
        for source in sources:
            for attr, family in families.items():
                family.add_metric([source.durable_name], float(getattr(source.stats, attr)))
        yield from families.values()

    def _drivers(self) -> Iterator[Metric]:
        drivers = [d for d in self.sources.drivers if hasattr(getattr(d, "stats", None), "polls")]
        if not drivers:
            return
        polls = CounterMetricFamily(f"{NS}_driver_polls", "Polls per device.", labels=["device"])
        failures = CounterMetricFamily(
            f"{NS}_driver_failures", "Polls with a BAD point per device.", labels=["device"]
        )
        up = GaugeMetricFamily(f"{NS}_driver_connected", "1 while connected.", labels=["device"])
        for d in drivers:
            polls.add_metric([d.name], d.stats.polls)
            failures.add_metric([d.name], d.stats.failures)
            up.add_metric([d.name], float(bool(getattr(d.stats, "connected", False))))
        yield from (polls, failures, up)

    def _retention(self) -> Iterator[Metric]:
        stats = self.sources.retention
        if stats is None:
            return
        yield _counter("retention_runs", "Retention runs that succeeded.", [stats], "runs")
        yield _counter("retention_failures", "Retention runs that failed.", [stats], "failures")
        deleted = CounterMetricFamily(
            f"{NS}_retention_deleted_rows", "Rows retention deleted.", labels=["table"]
        )
        for table, rows in sorted(stats.deleted.items()):
            deleted.add_metric([table], rows)
        yield deleted

    def _alarms(self) -> Iterator[Metric]:
        stats = self.sources.alarms
        if stats is None:
            return
        for attr, doc in (
            ("batches", "Sample batches the alarm processor evaluated."),
            ("events", "Alarm life-cycle events."),
            ("dropped_batches", "Batches the alarm processor dropped (it fell behind)."),
            ("stored_rows", "Alarm history rows stored."),
            ("lost_history_rows", "Alarm history rows lost after retries."),
            ("lost_notices", "Alarm events not handed to notifications (queue full)."),
        ):
            yield _counter(f"alarm_{attr}", doc, [stats], attr)

    def _notify(self) -> Iterator[Metric]:
        if self.sources.notify is None:
            return
        snapshot = self.sources.notify()
        yield _counter("notify_submitted", "Notifications submitted.", [snapshot], "submitted")
        yield _counter("notify_unrouted", "Notifications no route took.", [snapshot], "unrouted")
        labels = ["channel"]
        families = {
            attr: CounterMetricFamily(f"{NS}_notify_{attr}", doc, labels=labels)
            for attr, doc in (
                ("sent", "Notifications delivered per channel."),
                ("failed", "Notifications given up after retries per channel."),
                ("dropped", "Notifications dropped from a full queue per channel."),
                ("deduplicated", "Notifications suppressed as repeats per channel."),
            )
        }
        for name, counters in sorted(snapshot.channels.items()):
            for attr, family in families.items():
                family.add_metric([name], getattr(counters, attr))
        yield from families.values()


def _counter(name: str, doc: str, stats: Iterable[Any], attr: str) -> CounterMetricFamily:
    family = CounterMetricFamily(f"{NS}_{name}", doc)
    family.add_metric([], sum(getattr(s, attr) for s in stats))
    return family


def build_registry(sources: MetricSources) -> CollectorRegistry:
    """A registry of its own (not the global one) exporting ``sources``."""
    registry = CollectorRegistry()
    registry.register(PlatformCollector(sources))
    return registry
