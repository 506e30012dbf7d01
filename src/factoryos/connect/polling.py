"""What every polling driver shares, whatever its protocol.

A poller reads raw values of its points and hands them here to become samples:
engineering units, BAD + NaN where the read failed, UNCERTAIN outside the tag's range,
and the deadband applied (:class:`PointColumns`). Connection health is a :class:`Link`:
capped exponential back-off while the device is down, one log line when it goes down and
one when it recovers. :func:`poll_on_schedule` is the fixed-schedule loop of ``run``, and
:func:`run_all` runs many drivers side by side.
"""

import asyncio
import contextlib
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from factoryos.connect.codec import Floats, to_engineering, to_raw
from factoryos.connect.errors import ConfigError, DriverError, WriteError
from factoryos.connect.points import Point
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import TAG_ID_DTYPE, TS_DTYPE, SampleBatch
from factoryos.model.tags import DataType, Tag

Publish = Callable[[SampleBatch], Awaitable[None]]
Clock = Callable[[], int]

RECENT_REQUESTS = 20
_NO_QUALITY = 0xFF  # "nothing stored yet": differs from every real quality


@dataclass
class PollerStats:
    """Counters of one poller. A failure is a poll in which any point came out BAD."""

    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    missed_slots: int = 0
    last_error: str | None = None
    connected: bool = False

    def tally(self, error: DriverError | None, *, failed: bool) -> None:
        """Count one finished poll."""
        if not failed:
            self.consecutive_failures = 0
            return
        self.failures += 1
        self.consecutive_failures += 1
        if error is not None:
            self.last_error = str(error)


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request (or connection attempt) to the device, for diagnostics."""

    ts_ns: int  # the poll time it belonged to
    request: str
    outcome: str  # "ok" or the error
    elapsed_s: float


class RequestLog:
    """The last requests to a device and their outcomes: a bounded flight recorder."""

    def __init__(self, size: int = RECENT_REQUESTS) -> None:
        self._records: deque[RequestRecord] = deque(maxlen=size)

    def record(self, ts_ns: int, request: str, outcome: str, started: float) -> None:
        """Note a request that began at ``started`` (``time.monotonic()``) and ended now."""
        self._records.append(RequestRecord(ts_ns, request, outcome, time.monotonic() - started))

    def records(self) -> list[RequestRecord]:
        """Oldest first."""
        return list(self._records)


class Link:
    """Whether a device answers, and when to try a down one again.

    While down, polls skip the network until a deadline that doubles after every failed
    attempt (from the poll interval up to ``max_backoff_s``). Logs the edges only, on the
    driver's own ``logger``: a 1 Hz poll of a dead device must not log 3,600 lines an hour.
    """

    def __init__(
        self, name: str, poll_interval_s: float, max_backoff_s: float, logger: logging.Logger
    ) -> None:
        if max_backoff_s <= 0:
            raise ConfigError(f"device {name}: max_backoff_s must be > 0")
        self.name = name
        self.down = False
        self._poll_interval_s = poll_interval_s
        self._max_backoff_s = max_backoff_s
        self._log = logger
        self._down_polls = 0
        self._backoff_s = 0.0
        self._retry_at = 0.0  # time.monotonic() after which a down device is tried again

    def backing_off(self, *, retry_now: bool = False) -> bool:
        """True if this poll must not touch the network (down, deadline not yet passed);
        counts it as one more poll while down."""
        if self.down and not retry_now and time.monotonic() < self._retry_at:
            self._down_polls += 1
            return True
        return False

    def went_down(self, exc: DriverError) -> None:
        """An attempt failed: log the first one, grow the back-off."""
        if self.down:
            self._down_polls += 1
            self._backoff_s = min(2 * self._backoff_s, self._max_backoff_s)
        else:
            self._log.warning("device %s down: %s", self.name, exc)
            self.down, self._down_polls = True, 1
            self._backoff_s = min(self._poll_interval_s, self._max_backoff_s)
        # Slack so a retry due at the next scheduled poll is not missed by jitter.
        self._retry_at = time.monotonic() + 0.9 * self._backoff_s

    def came_up(self) -> None:
        """An attempt succeeded: log a recovery once."""
        if self.down:
            self._log.info("device %s recovered after %d polls", self.name, self._down_polls)
        self.down, self._down_polls, self._backoff_s = False, 0, 0.0


class PointColumns:
    """Per-point storage id, scaling, range and deadband as columns, and the deadband's
    memory (the last stored value and quality of each point)."""

    def __init__(self, points: Sequence[Point]) -> None:
        tags = [p.tag for p in points]
        self.tag_ids = np.array([p.tag_id for p in points], dtype=TAG_ID_DTYPE)
        self.scale = np.array([t.scale for t in tags], dtype=np.float64)
        self.offset = np.array([t.offset for t in tags], dtype=np.float64)
        self.low = np.array([t.range[0] if t.range else -np.inf for t in tags])
        self.high = np.array([t.range[1] if t.range else np.inf for t in tags])
        # A negative deadband means "store every sample".
        self.deadband = np.array([-1.0 if t.deadband is None else t.deadband for t in tags])
        self.last_value = np.full(len(tags), np.nan)
        self.last_quality = np.full(len(tags), _NO_QUALITY, dtype=QUALITY_DTYPE)

    def grade(
        self,
        values: npt.NDArray[np.float64],
        quality: npt.NDArray[np.uint8],
        points: npt.NDArray[np.intp] | slice = slice(None),
    ) -> npt.NDArray[np.uint8]:
        """``quality`` of samples of ``points`` with the GOOD ones outside their tag's
        range made UNCERTAIN."""
        outside = (values < self.low[points]) | (values > self.high[points])
        return np.where((quality == Quality.GOOD) & outside, Quality.UNCERTAIN, quality).astype(
            QUALITY_DTYPE
        )

    def samples(self, ts_ns: int, raw: Floats, bad: npt.NDArray[np.bool_]) -> SampleBatch:
        """The samples to publish for one poll of raw values (``bad`` marks failed reads)."""
        values = to_engineering(raw, self.scale, self.offset)
        bad = bad | ~np.isfinite(values)  # a NaN or inf float from the device is no measurement
        values[bad] = np.nan
        quality = self.grade(values, np.where(bad, Quality.BAD, Quality.GOOD).astype(QUALITY_DTYPE))
        keep = self._deadband_keep(values, quality)
        return SampleBatch(
            self.tag_ids[keep],
            np.full(int(keep.sum()), ts_ns, dtype=TS_DTYPE),
            values[keep],
            quality[keep],
        )

    def _deadband_keep(
        self, values: npt.NDArray[np.float64], quality: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.bool_]:
        """Which samples to store: quality changed, or moved beyond the deadband since the
        last stored value; remembers the stored ones."""
        moved = np.abs(values - self.last_value) > self.deadband
        keep = np.asarray(
            (quality != self.last_quality) | moved | (self.deadband < 0), dtype=np.bool_
        )
        self.last_value[keep] = values[keep]
        self.last_quality[keep] = quality[keep]
        return keep


def next_slot(previous: float, interval: float, now: float) -> tuple[float, int]:
    """The next poll slot after ``previous`` that is still ahead of ``now``, and how many
    slots were skipped to get there."""
    slot = previous + interval
    if slot > now:
        return slot, 0
    missed = int((now - slot) // interval) + 1
    return slot + missed * interval, missed


async def poll_on_schedule(
    poll: Callable[[int], Awaitable[SampleBatch]],
    interval: float,
    publish: Publish,
    stop: asyncio.Event,
    clock: Clock,
    stats: PollerStats,
) -> None:
    """Call ``poll(clock())`` every ``interval`` s until ``stop`` is set, publishing each
    non-empty batch. A poll that overruns skips the missed slots (counted in ``stats``)
    rather than bursting to catch up."""
    loop = asyncio.get_running_loop()
    slot = loop.time()
    while not stop.is_set():
        batch = await poll(clock())
        if len(batch):
            await publish(batch)
        slot, missed = next_slot(slot, interval, loop.time())
        stats.missed_slots += missed
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), slot - loop.time())


class Runnable(Protocol):
    """A driver that runs until told to stop: every poller and subscriber."""

    @property
    def name(self) -> str: ...

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = ...) -> None: ...


async def run_all(
    drivers: Sequence[Runnable],
    publish: Publish,
    stop: asyncio.Event,
    clock: Clock = time.time_ns,
    *,
    prefix: str = "driver",
) -> None:
    """Run every driver (poller or subscriber, of any protocol) as its own task named
    ``<prefix>-<driver name>`` until ``stop`` is set; a dead or slow device only ever
    delays its own driver."""
    async with asyncio.TaskGroup() as tasks:
        for driver in drivers:
            tasks.create_task(driver.run(publish, stop, clock), name=f"{prefix}-{driver.name}")


def raw_for_write(tag: Tag, value: float) -> float:
    """The raw value to write for engineering ``value``; :class:`WriteError` if refused.

    Integer types round to nearest, as the device will hold them.
    """
    if not math.isfinite(value):
        raise WriteError(f"tag {tag.name}: cannot write {value!r}")
    if tag.range is not None and not tag.range[0] <= value <= tag.range[1]:
        low, high = tag.range
        raise WriteError(f"tag {tag.name}: {value} is outside its range {low}..{high}")
    raw = float(to_raw(np.array([value]), tag.scale, tag.offset)[0])
    if tag.type == DataType.BOOL and raw not in (0.0, 1.0):
        raise WriteError(f"tag {tag.name}: a bool takes 0 or 1, not {value}")
    return raw if tag.type == DataType.FLOAT32 else float(np.rint(raw))
