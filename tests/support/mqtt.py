"""MQTT for tests: a private Mosquitto a test can stop and restart, and the Sparkplug B
platform side (host application → bus → ingest → DuckDB) as the platform runs it."""

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import aiomqtt

from factoryos.bus.inprocess import InProcessBus
from factoryos.bus.sparkplug_ingest import SparkplugIngestSource
from factoryos.connect.mqtt_client import BrokerSettings
from factoryos.store.duckdb_store import DuckDBStore
from factoryos.store.ingest import Ingestor
from support.ports import free_port

HOST = "127.0.0.1"
MOSQUITTO = "/usr/sbin/mosquitto"
MOSQUITTO_FOUND = Path(MOSQUITTO).exists()
START_TIMEOUT_S = 10.0


def reachable(port: int, host: str = HOST) -> bool:
    """Whether something listens on ``host:port``."""
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex((host, port)) == 0


class Mosquitto:
    """A Mosquitto of our own on a free port (no persistence), so a test can take it away and
    bring it back on the same port.

    By default one anonymous listener on ``port``; ``conf`` replaces that with the test's own
    listeners and security settings (it must listen on ``port``). The broker's log goes to
    ``mosquitto.log`` next to the config, and a broker that exits at start fails with it.
    """

    def __init__(self, tmp_path: Path, conf: str | None = None, port: int | None = None) -> None:
        self.port = port or free_port()
        self.config = tmp_path / "mosquitto.conf"
        self.log = tmp_path / "mosquitto.log"
        body = conf if conf is not None else f"listener {self.port} {HOST}\nallow_anonymous true\n"
        self.config.write_text(f"{body}\npersistence false\n")
        self.process: subprocess.Popen[bytes] | None = None

    async def start(self) -> None:
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: ASYNC220 (starts at once; we poll the port)
                [MOSQUITTO, "-c", str(self.config)], stdout=log, stderr=log
            )
        async with asyncio.timeout(START_TIMEOUT_S):
            while not reachable(self.port):
                if self.process.poll() is not None:
                    raise RuntimeError(f"mosquitto exited at start: {self.log.read_text()}")
                await asyncio.sleep(0.05)

    def stop(self) -> None:
        """SIGTERM and wait: the broker closes every connection (and sends their wills)."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(timeout=5)
            self.process = None


class SparkplugPlatform:
    """SparkplugIngestSource → InProcessBus → Ingestor → DuckDB."""

    def __init__(
        self, port: int, group_id: str, tag_ids: Mapping[str, int], tmp: Path, **options: Any
    ) -> None:
        self.store = DuckDBStore(tmp / "platform.duckdb")
        self.bus = InProcessBus()
        self.ingestor = Ingestor(self.store, self.bus, max_delay_s=0.05)
        broker = BrokerSettings(HOST, port, timeout_s=2, keepalive_s=5)
        self.source = SparkplugIngestSource(
            broker, group_id, bus=self.bus, tag_ids=tag_ids, **options
        )
        self.stop = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        self.tasks = [
            asyncio.create_task(self.ingestor.run(self.stop)),
            asyncio.create_task(self.source.run(self.stop)),
        ]
        async with asyncio.timeout(START_TIMEOUT_S):
            await self.source.wait_ready()

    async def stored(self, count: int, within_s: float = 20.0) -> None:
        """Wait until the store holds ``count`` samples."""
        async with asyncio.timeout(within_s):
            while self.store.count() < count:  # noqa: ASYNC110 (a counter)
                await asyncio.sleep(0.05)
            await self.ingestor.flush()

    async def close(self) -> None:
        self.stop.set()
        await asyncio.gather(*self.tasks)
        self.store.close()
        await forget_host(self.source)


async def forget_host(source: SparkplugIngestSource) -> None:
    """Drop the host's persistent session and retained STATE from the broker, so tests on a
    shared broker leave nothing behind."""
    b = source.broker
    with contextlib.suppress(aiomqtt.MqttError):
        async with aiomqtt.Client(
            b.host, b.port, identifier=b.client_id, clean_session=True, timeout=2
        ) as client:
            await client.publish(f"spBv1.0/STATE/{source.host_id}", b"", qos=1, retain=True)
