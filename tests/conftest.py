"""Suite-wide policy: under CI=true a skipped test is a failure, so CI never passes by skipping."""

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from support.nats_server import NATS_SERVER, NatsProcess

IN_CI = os.environ.get("CI", "").lower() == "true"


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    if IN_CI and report.skipped and not hasattr(report, "wasxfail"):
        report.outcome = "failed"
        report.longrepr = f"skipped under CI=true, which is a failure: {report.longrepr}"


@pytest.fixture
def nats_process(tmp_path: Path) -> Iterator[NatsProcess]:
    """A private nats-server: for a test that stops it, or whose client creates the stream
    over every site's subject (on the shared server that would collide with other tests)."""
    if not os.path.exists(NATS_SERVER):
        pytest.skip(f"{NATS_SERVER} is not installed")
    server = NatsProcess(tmp_path / "js")
    server.start()
    yield server
    server.stop()
