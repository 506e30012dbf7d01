"""NATS for the edge tests: the shared JetStream server (a private one is `nats_process`)."""

import uuid

import pytest

from support.nats_server import reachable

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
