"""NATS for the edge tests: the shared JetStream server, or a private one a test can stop."""

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.harness import NATS_SERVER, NatsProcess, reachable

SHARED_NATS = ("127.0.0.1", 4222)


@pytest.fixture
def nats_url() -> str:
    """The shared NATS with JetStream; skipped when absent (a failure under CI=true)."""
    if not reachable(*SHARED_NATS):
        pytest.skip("no NATS at 127.0.0.1:4222")
    return "nats://{}:{}".format(*SHARED_NATS)


@pytest.fixture
def stream_name() -> str:
    """A stream name no other test uses."""
    return f"TEST_{uuid.uuid4().hex[:12].upper()}"


@pytest.fixture
def nats_process(tmp_path: Path) -> Iterator[NatsProcess]:
    if not os.path.exists(NATS_SERVER):
        pytest.skip(f"{NATS_SERVER} is not installed")
    server = NatsProcess(tmp_path / "js")
    server.start()
    yield server
    server.stop()
