"""The report job: real (short) waits, the clock injected so runs fall due at once."""

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from factoryos.apps.reports import (
    Column,
    ColumnKind,
    JobLimits,
    Period,
    Report,
    ReportConfig,
    ReportJob,
    StateFileError,
    Table,
    next_run,
    period_of,
)

CONFIG = ReportConfig.model_validate(
    {
        "name": "daily-oee",
        "schedule": {"every": "daily", "at": "06:30", "timezone": "Europe/Berlin"},
        "formats": ["csv", "pdf"],
        "channels": ["shift-leads"],
    }
)
NOW = datetime(2024, 4, 4, 12, 0, tzinfo=UTC)  # after the 06:30 run of 4 April
FAST = JobLimits(retry_delay_s=0.05, max_sleep_s=0.05, build_timeout_s=5, deliver_timeout_s=5)


def build(period: Period) -> Report:
    table = Table("OEE", [Column("Line"), Column("OEE", ColumnKind.PERCENT)], [["L1", 0.8]])
    return Report("Daily OEE", "", period.start, period.end, datetime.now(UTC), [table])


def running_clock(start: datetime) -> Callable[[], datetime]:
    """A clock that starts at ``start`` and runs in real time."""
    t0 = time.monotonic()
    return lambda: start + timedelta(seconds=time.monotonic() - t0)


class Inbox:
    """A deliver callable that records what it got and fails the first ``failures`` times."""

    def __init__(self, failures: int = 0) -> None:
        self.failures = failures
        self.calls = 0
        self.delivered: list[tuple[Period, list[str]]] = []
        self.got_one = asyncio.Event()

    async def __call__(self, report: Report, files: dict[str, bytes]) -> None:
        self.calls += 1
        if self.calls <= self.failures:
            raise ConnectionError(f"smtp down (call {self.calls})")
        self.delivered.append((Period(report.period_start, report.period_end), sorted(files)))
        self.got_one.set()


async def _run_for(job: ReportJob, seconds: float, until: asyncio.Event | None = None) -> None:
    """Run the job for ``seconds``, or until ``until`` is set, then stop it."""
    stop = asyncio.Event()
    task = asyncio.create_task(job.run(stop))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for((until or asyncio.Event()).wait(), seconds)
    stop.set()
    await asyncio.wait_for(task, 1.0)


async def _run_until(job: ReportJob, done: Callable[[], bool], settle_s: float = 0.1) -> None:
    """Run the job until ``done()`` holds (at most 10 s: a loaded machine is slow), then a
    little longer so that anything it should *not* do next has the chance to show."""
    ready = asyncio.Event()

    async def watch() -> None:
        while not done():  # noqa: ASYNC110
            await asyncio.sleep(0.01)
        await asyncio.sleep(settle_s)
        ready.set()

    watching = asyncio.create_task(watch())
    try:
        await _run_for(job, 10.0, ready)
    finally:
        watching.cancel()


def _write_state(path: Path, end: datetime) -> None:
    path.write_text(json.dumps({"last_period": {"start": end.isoformat(), "end": end.isoformat()}}))


async def test_a_missed_report_is_made_once_on_start_and_only_the_latest(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    _write_state(state, datetime(2024, 4, 1, tzinfo=CONFIG.schedule.zone))  # down for 3 days
    inbox = Inbox()
    job = ReportJob(CONFIG, build, inbox, state, limits=FAST, clock=running_clock(NOW))
    await _run_until(job, lambda: inbox.calls > 0, settle_s=0.3)
    latest = period_of(CONFIG.schedule, NOW)
    assert inbox.delivered == [
        (latest, ["daily-oee_2024-04-03.pdf", "daily-oee_2024-04-03_oee.csv"])
    ]
    saved = json.loads(state.read_text())
    assert datetime.fromisoformat(saved["last_period"]["end"]) == latest.end
    # a restart does not send it again
    again = Inbox()
    job = ReportJob(CONFIG, build, again, state, limits=FAST, clock=running_clock(NOW))
    await _run_for(job, 0.3)
    assert again.calls == 0


async def test_first_start_waits_for_the_run_time_then_delivers(tmp_path: Path) -> None:
    run_at = next_run(CONFIG.schedule, NOW)
    inbox = Inbox()
    clock = running_clock(run_at - timedelta(seconds=0.3))
    job = ReportJob(CONFIG, build, inbox, tmp_path / "s.json", limits=FAST, clock=clock)
    stop = asyncio.Event()
    task = asyncio.create_task(job.run(stop))
    await asyncio.sleep(0.15)
    assert inbox.calls == 0  # nothing caught up on a first start
    await asyncio.wait_for(inbox.got_one.wait(), 2.0)
    assert clock() >= run_at
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert [p for p, _ in inbox.delivered] == [period_of(CONFIG.schedule, run_at)]


async def test_failures_are_retried_and_logged_once_then_recovery(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state.json"
    _write_state(state, datetime(2024, 4, 2, tzinfo=UTC))
    inbox = Inbox(failures=2)
    job = ReportJob(CONFIG, build, inbox, state, limits=FAST, clock=running_clock(NOW))
    with caplog.at_level(logging.INFO, logger="factoryos.apps.reports"):
        await _run_for(job, 3.0, inbox.got_one)
    assert inbox.calls == 3 and len(inbox.delivered) == 1
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "smtp down (call 1)" in warnings[0].getMessage()
    assert sum("recovered" in r.getMessage() for r in caplog.records) == 1


async def test_retries_are_capped_and_the_period_is_given_up(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    state = tmp_path / "state.json"
    _write_state(state, datetime(2024, 4, 2, tzinfo=UTC))
    inbox = Inbox(failures=1_000)
    limits = JobLimits(attempts=2, retry_delay_s=0.01, max_sleep_s=0.02)
    job = ReportJob(CONFIG, build, inbox, state, limits=limits, clock=running_clock(NOW))
    with caplog.at_level(logging.INFO, logger="factoryos.apps.reports"):
        await _run_until(job, lambda: "given up" in caplog.text)
    assert inbox.calls == 2
    assert [r.levelno for r in caplog.records] == [logging.WARNING, logging.ERROR]
    assert "given up after 2 attempts" in caplog.records[1].getMessage()
    assert datetime.fromisoformat(json.loads(state.read_text())["last_period"]["end"]) == datetime(
        2024, 4, 2, tzinfo=UTC
    )


async def test_a_build_that_hangs_times_out(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()

    def stuck(period: Period) -> Report:
        release.wait(5)
        return build(period)

    state = tmp_path / "state.json"
    _write_state(state, datetime(2024, 4, 2, tzinfo=UTC))
    limits = JobLimits(attempts=1, build_timeout_s=0.1, max_sleep_s=0.05)
    inbox = Inbox()
    job = ReportJob(CONFIG, stuck, inbox, state, limits=limits, clock=running_clock(NOW))
    try:
        with caplog.at_level(logging.WARNING, logger="factoryos.apps.reports"):
            await _run_until(job, lambda: "TimeoutError" in caplog.text)
    finally:
        release.set()
    assert inbox.calls == 0
    assert "TimeoutError" in caplog.text


async def test_an_async_build_is_awaited(tmp_path: Path) -> None:
    async def build_async(period: Period) -> Report:
        await asyncio.sleep(0)
        return build(period)

    state = tmp_path / "state.json"
    _write_state(state, datetime(2024, 4, 2, tzinfo=UTC))
    inbox = Inbox()
    job = ReportJob(CONFIG, build_async, inbox, state, limits=FAST, clock=running_clock(NOW))
    await _run_for(job, 3.0, inbox.got_one)
    assert len(inbox.delivered) == 1


async def test_stop_is_prompt_while_waiting_for_the_next_run(tmp_path: Path) -> None:
    job = ReportJob(CONFIG, build, Inbox(), tmp_path / "s.json")  # default 60 s sleeps
    stop = asyncio.Event()
    task = asyncio.create_task(job.run(stop))
    await asyncio.sleep(0.05)
    started = time.monotonic()
    stop.set()
    await asyncio.wait_for(task, 1.0)
    assert time.monotonic() - started < 0.5


async def test_an_unreadable_state_file_is_named(tmp_path: Path) -> None:
    state = tmp_path / "state.json"
    state.write_text("{not json")
    job = ReportJob(CONFIG, build, Inbox(), state, clock=running_clock(NOW))
    with pytest.raises(StateFileError, match=r"state.json: unreadable report state"):
        await job.run(asyncio.Event())
