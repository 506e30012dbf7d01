"""Simulated history: run the virtual factory fast and store every tag at its poll rate."""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from factoryos.model import SampleBatch
from factoryos.model.devices import ModbusTcpDevice, S7Device
from factoryos.sim import VirtualFactory
from factoryos.store.backend import TimeSeriesStore

#: Steps gathered into one columnar write.
CHUNK_STEPS = 600


@dataclass(frozen=True)
class HistoryResult:
    steps: int
    samples: int


def _poll_every(factory: VirtualFactory, device_of: dict[str, str]) -> dict[str, int]:
    """Steps between two samples of each tag: its device's poll interval, at least one step.

    Tags of devices that are not polled (subscriptions, brokers) are sampled every step.
    """
    intervals = {
        d.name: d.poll_interval_s
        for d in factory.site.devices
        if isinstance(d, ModbusTcpDevice | S7Device)
    }
    return {
        path: max(1, round(intervals.get(dev, factory.step_s) / factory.step_s))
        for path, dev in device_of.items()
    }


def record_history(
    factory: VirtualFactory,
    store: TimeSeriesStore,
    tag_ids: dict[str, int],
    steps: int,
    on_progress: Callable[[int], None] = lambda _n: None,
) -> HistoryResult:
    """Advance ``factory`` by ``steps`` and store each device-bound tag at its poll rate."""
    device_of = {
        ref.path: ref.equipment.device
        for ref in factory.site.tags()
        if ref.equipment.device is not None
        and ref.equipment.simulate is not None
        and not ref.tag.computed  # the platform writes those, the machine does not
    }
    every = _poll_every(factory, device_of)
    paths = list(device_of)
    ids = np.array([tag_ids[p] for p in paths], dtype=np.int32)
    period = np.array([every[p] for p in paths])
    stored = 0
    done = 0
    while done < steps:
        n = min(CHUNK_STEPS, steps - done)
        batches = []
        for _ in range(n):
            factory.step()
            done += 1
            due = done % period == 0
            now = factory.values()
            values = [now[p] for p, d in zip(paths, due, strict=True) if d]
            batches.append(SampleBatch.build(ids[due], factory.now_ns, values))
        stored += store.write(SampleBatch.concat(batches))
        on_progress(n)
    return HistoryResult(steps=done, samples=stored)
