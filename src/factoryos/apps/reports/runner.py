"""The job that runs one scheduled report: wait, build, render, deliver, remember.

The decisions are pure (:func:`~factoryos.apps.reports.schedule.due`,
:func:`~factoryos.apps.reports.schedule.next_run`); this module only waits and calls. A
platform that was down at a run time makes the latest missed report once when it starts
(never a backlog). On the very first start, with no state file, nothing is caught up: the
first report is the next scheduled one.
"""

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from factoryos.apps.reports.config import ReportConfig
from factoryos.apps.reports.errors import StateFileError
from factoryos.apps.reports.model import Report
from factoryos.apps.reports.render import render
from factoryos.apps.reports.schedule import Period, due, last_run, next_run, period_of
from factoryos.apps.reports.state import load_last_end, save_period

_LOG = logging.getLogger(__name__)

#: Builds the report of a period; a plain function runs in a worker thread.
Build = Callable[[Period], Report | Awaitable[Report]]
#: Sends the report and its files (e.g. by e-mail); raises when it could not.
Deliver = Callable[[Report, dict[str, bytes]], Awaitable[None]]


@dataclass(frozen=True)
class JobLimits:
    """Bounds of a job. A build that times out keeps its thread until it returns (Python
    cannot stop a thread), but the job moves on."""

    build_timeout_s: float = 300.0  # build and render together
    deliver_timeout_s: float = 120.0
    attempts: int = 3  # per period; then the period is given up until the next run
    retry_delay_s: float = 60.0
    max_sleep_s: float = 60.0  # re-read the clock at least this often (suspend, clock steps)

    def __post_init__(self) -> None:
        if self.attempts < 1 or min(self.build_timeout_s, self.deliver_timeout_s) <= 0:
            raise ValueError("attempts must be >= 1 and timeouts > 0")
        if self.retry_delay_s < 0 or self.max_sleep_s <= 0:
            raise ValueError("retry_delay_s must be >= 0 and max_sleep_s > 0")


def _utc_now() -> datetime:
    return datetime.now(UTC)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    """Wait up to ``seconds``; True when ``stop`` was set meanwhile."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))
    except TimeoutError:
        return False
    return True


class ReportJob:
    """Runs one :class:`ReportConfig` until ``stop`` is set."""

    def __init__(
        self,
        config: ReportConfig,
        build: Build,
        deliver: Deliver,
        state_path: Path,
        *,
        limits: JobLimits | None = None,
        clock: Callable[[], datetime] = _utc_now,
    ) -> None:
        self.config = config
        self._build = build
        self._deliver = deliver
        self._state_path = state_path
        self._limits = limits or JobLimits()
        self._clock = clock
        self._last_end: datetime | None = None
        self._given_up: Period | None = None
        self._failing = False

    async def run(self, stop: asyncio.Event) -> None:
        """Produce every due report until ``stop``; raises only for an unreadable state file."""
        schedule = self.config.schedule
        self._last_end = load_last_end(self._state_path)
        if self._last_end is None:
            self._last_end = period_of(schedule, last_run(schedule, self._clock())).end
        while not stop.is_set():
            period = due(schedule, self._clock(), self._last_end)
            if period is not None and period != self._given_up:
                await self._produce_with_retries(period, stop)
            else:
                await self._sleep_until(next_run(schedule, self._clock()), stop)

    async def produce(self, period: Period) -> None:
        """One attempt: build and render the report of ``period``, deliver it, remember it."""
        limits = self._limits
        async with asyncio.timeout(limits.build_timeout_s):
            report = await self._make(period)
            files = await asyncio.to_thread(render, self.config.name, report, self.config.formats)
        async with asyncio.timeout(limits.deliver_timeout_s):
            await self._deliver(report, files)
        self._last_end = period.end
        try:
            save_period(self._state_path, self.config.name, period)
        except StateFileError:
            # Delivered all the same; only a restart would send this period again.
            _LOG.exception("report %s: delivered but not recorded", self.config.name)

    async def _make(self, period: Period) -> Report:
        made = await asyncio.to_thread(self._build, period)
        report = await made if inspect.isawaitable(made) else made
        if not isinstance(report, Report):
            raise TypeError(f"build returned {type(report).__name__}, not a Report")
        return report

    async def _produce_with_retries(self, period: Period, stop: asyncio.Event) -> None:
        name, limits = self.config.name, self._limits
        for attempt in range(1, limits.attempts + 1):
            try:
                await self.produce(period)
            except Exception as exc:  # build and deliver are the caller's code: anything goes
                self._failed(period, attempt, exc)
                if attempt < limits.attempts and await _stopped_within(stop, limits.retry_delay_s):
                    return
                continue
            if self._failing:
                _LOG.info("report %s recovered: %s delivered", name, _label(period))
                self._failing = False
            else:
                _LOG.info("report %s: %s delivered", name, _label(period))
            return
        _LOG.error("report %s: %s given up after %d attempts", name, _label(period), attempt)
        self._given_up = period

    def _failed(self, period: Period, attempt: int, exc: Exception) -> None:
        if self._failing:
            _LOG.debug("report %s: attempt %d failed: %r", self.config.name, attempt, exc)
            return
        self._failing = True
        _LOG.warning(
            "report %s: %s failed (up to %d attempts): %s",
            self.config.name,
            _label(period),
            self._limits.attempts,
            exc,
            exc_info=exc,
        )

    async def _sleep_until(self, moment: datetime, stop: asyncio.Event) -> None:
        while not stop.is_set():
            remaining = (moment - self._clock()).total_seconds()
            if remaining <= 0:
                return
            await _stopped_within(stop, min(remaining, self._limits.max_sleep_s))


def _label(period: Period) -> str:
    return f"{period.start.isoformat()} – {period.end.isoformat()}"
