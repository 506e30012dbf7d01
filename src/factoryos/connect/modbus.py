"""Modbus TCP poller: one per device, reading its read plan on a fixed schedule.

Each poll turns into one :class:`SampleBatch` (engineering values with quality). A device
that stops answering gives BAD samples with NaN values at once, never silence: while it is
down the poller does not touch the network until a capped exponential back-off deadline
passes, so a poll of a dead device costs nothing and pollers run as independent tasks, so
one slow device never delays another.
"""

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from factoryos.connect.codec import Words, to_engineering
from factoryos.connect.errors import (
    ConfigError,
    ConnectError,
    DeviceError,
    DriverError,
    DriverTimeout,
    ProtocolError,
)
from factoryos.connect.modbus_plan import ModbusPoint, ReadBlock, build_plan
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.quality import QUALITY_DTYPE, Quality
from factoryos.model.samples import TAG_ID_DTYPE, TS_DTYPE, SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.tags import ModbusTable

log = logging.getLogger(__name__)

Publish = Callable[[SampleBatch], Awaitable[None]]
Clock = Callable[[], int]

RECENT_REQUESTS = 20
_NO_QUALITY = 0xFF  # "nothing stored yet": differs from every real quality
_LIBRARY_TIMEOUT_MARGIN_S = 1.0  # pymodbus's own timeout, kept longer than ours


@dataclass
class PollerStats:
    """Counters of one poller. A failure is a poll in which any point came out BAD."""

    polls: int = 0
    failures: int = 0
    consecutive_failures: int = 0
    missed_slots: int = 0
    last_error: str | None = None
    connected: bool = False


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request (or connection attempt) to the device, for diagnostics."""

    ts_ns: int  # the poll time it belonged to
    request: str
    outcome: str  # "ok" or the error
    elapsed_s: float


class ModbusPoller:
    """Polls one Modbus TCP device.

    ``poll_once(ts_ns, retry_now=True)`` ignores the reconnect back-off, so a test driving
    polls in lockstep with a simulated clock can retry a recovered device at once.
    """

    def __init__(
        self, device: ModbusTcpDevice, points: Sequence[ModbusPoint], *, max_backoff_s: float = 30.0
    ) -> None:
        if max_backoff_s <= 0:
            raise ConfigError(f"device {device.name}: max_backoff_s must be > 0")
        self.device = device
        self.points = tuple(points)
        self.plan = build_plan(device, self.points)
        self.stats = PollerStats()
        self._max_backoff_s = max_backoff_s
        self._recent: deque[RequestRecord] = deque(maxlen=RECENT_REQUESTS)
        self._client: AsyncModbusTcpClient | None = None
        self._down = False
        self._down_polls = 0
        self._backoff_s = 0.0
        self._retry_at = 0.0  # time.monotonic() after which a down device is tried again
        self._failing_blocks: set[int] = set()
        self._columns()

    def _columns(self) -> None:
        tags = [p.tag for p in self.points]
        self._tag_ids = np.array([p.tag_id for p in self.points], dtype=TAG_ID_DTYPE)
        self._scale = np.array([t.scale for t in tags], dtype=np.float64)
        self._offset = np.array([t.offset for t in tags], dtype=np.float64)
        self._low = np.array([t.range[0] if t.range else -np.inf for t in tags])
        self._high = np.array([t.range[1] if t.range else np.inf for t in tags])
        # A negative deadband means "store every poll".
        self._deadband = np.array([-1.0 if t.deadband is None else t.deadband for t in tags])
        self._last_value = np.full(len(tags), np.nan)
        self._last_quality = np.full(len(tags), _NO_QUALITY, dtype=QUALITY_DTYPE)

    @property
    def name(self) -> str:
        return self.device.name

    def recent(self) -> list[RequestRecord]:
        """The last requests and their outcomes, oldest first."""
        return list(self._recent)

    async def poll_once(self, ts_ns: int, *, retry_now: bool = False) -> SampleBatch:
        """Read every point once; all samples carry ``ts_ns``. Never raises for device
        trouble: failed points come back BAD with NaN, and the error lands in ``stats``.
        Blocks read before a device stops answering mid-poll keep their good values.
        ``retry_now`` reconnects a down device even before its back-off deadline."""
        self.stats.polls += 1
        buffer = np.zeros(self.plan.buffer_size, dtype=np.uint16)
        failed = np.ones(len(self.plan.blocks), dtype=np.bool_)
        if not self.plan.blocks:
            return SampleBatch.empty()
        if self._down and not retry_now and time.monotonic() < self._retry_at:
            self._down_polls += 1
            self._tally(None, failed=True)
            return self._samples(ts_ns, buffer, failed)
        try:
            client = await self._connected(ts_ns)
            error = await self._read_blocks(client, ts_ns, buffer, failed)
        except (ConnectError, DriverTimeout) as exc:
            self._go_down(exc)
            error = exc
        else:
            self._come_up()
        self._tally(error, failed=bool(failed.any()))
        return self._samples(ts_ns, buffer, failed)

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = time.time_ns) -> None:
        """Poll every ``device.poll_interval_s`` on a fixed schedule until ``stop`` is set,
        publishing each non-empty batch. A poll that overruns skips the missed slots rather
        than bursting to catch up. ``publish`` is awaited inline: keep it quick (a bounded
        queue put). Closes the connection on the way out."""
        loop = asyncio.get_running_loop()
        interval = self.device.poll_interval_s
        slot = loop.time()
        try:
            while not stop.is_set():
                batch = await self.poll_once(clock())
                if len(batch):
                    await publish(batch)
                slot, missed = next_slot(slot, interval, loop.time())
                self.stats.missed_slots += missed
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), slot - loop.time())
        finally:
            await self.close()

    async def close(self) -> None:
        """Close the connection; the next poll connects again."""
        if self._client is not None:
            self._client.close()
            self._client = None
        self.stats.connected = False

    # -- connection -------------------------------------------------------------------

    async def _connected(self, ts_ns: int) -> AsyncModbusTcpClient:
        if self._client is not None:
            if self._client.connected:
                return self._client
            # Dropped since the last poll (device restart, idle timeout): reconnect now.
            await self.close()
        d = self.device
        client = AsyncModbusTcpClient(
            d.host,
            port=d.port,
            name=f"factoryos-{d.name}",
            timeout=d.timeout_s + _LIBRARY_TIMEOUT_MARGIN_S,
            retries=0,
            reconnect_delay=0,  # no library reconnect loop: back-off is ours
        )
        started = time.monotonic()
        try:
            ok = await asyncio.wait_for(client.connect(), d.timeout_s)
            reason = "refused or unreachable"
        except TimeoutError:
            ok, reason = False, f"no answer within {d.timeout_s} s"
        request = f"connect {d.host}:{d.port}"
        if not ok:
            client.close()
            error = ConnectError(f"cannot connect to {d.host}:{d.port} ({reason})")
            self._record(ts_ns, request, str(error), started)
            raise error
        self._record(ts_ns, request, "ok", started)
        self._client = client
        self.stats.connected = True
        return client

    def _go_down(self, exc: DriverError) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.stats.connected = False
        if self._down:
            self._down_polls += 1
            self._backoff_s = min(2 * self._backoff_s, self._max_backoff_s)
        else:
            log.warning("device %s down: %s", self.name, exc)
            self._down, self._down_polls = True, 1
            self._backoff_s = min(self.device.poll_interval_s, self._max_backoff_s)
        # Slack so a retry due at the next scheduled poll is not missed by jitter.
        self._retry_at = time.monotonic() + 0.9 * self._backoff_s

    def _come_up(self) -> None:
        if self._down:
            log.info("device %s recovered after %d polls", self.name, self._down_polls)
        self._down, self._down_polls, self._backoff_s = False, 0, 0.0

    # -- requests ---------------------------------------------------------------------

    async def _read_blocks(
        self, client: AsyncModbusTcpClient, ts_ns: int, buffer: Words, failed: npt.NDArray[np.bool_]
    ) -> DriverError | None:
        """Fill ``buffer`` block by block; a block the device refuses stays failed and the
        others go on. Returns the last such error; raises when the device stops answering."""
        error: DriverError | None = None
        for i, block in enumerate(self.plan.blocks):
            try:
                words = await self._request(client, block, ts_ns)
            except (DeviceError, ProtocolError) as exc:
                error = exc
                if i not in self._failing_blocks:
                    self._failing_blocks.add(i)
                    log.warning("%s", exc)
                continue
            buffer[block.offset : block.offset + block.count] = words
            failed[i] = False
            if i in self._failing_blocks:
                self._failing_blocks.discard(i)
                log.info("device %s: %s readable again", self.name, block.describe())
        return error

    async def _request(self, client: AsyncModbusTcpClient, block: ReadBlock, ts_ns: int) -> Words:
        started = time.monotonic()
        request = f"read {block.describe()}"
        try:
            response = await asyncio.wait_for(
                self._call(client, block), timeout=self.device.timeout_s
            )
            words = self._words(response, block)
        except DriverError as exc:
            self._record(ts_ns, request, str(exc), started)
            raise
        except TimeoutError as exc:
            error = DriverTimeout(f"no answer to {request} within {self.device.timeout_s} s")
            self._record(ts_ns, request, str(error), started)
            raise error from exc
        except (ConnectionException, OSError) as exc:
            lost = ConnectError(f"connection lost during {request}: {exc}")
            self._record(ts_ns, request, str(lost), started)
            raise lost from exc
        except ModbusException as exc:
            bad = ProtocolError(f"device {self.name}: {request} failed: {exc}")
            self._record(ts_ns, request, str(bad), started)
            raise bad from exc
        self._record(ts_ns, request, "ok", started)
        return words

    def _call(self, client: AsyncModbusTcpClient, block: ReadBlock) -> Awaitable[ModbusPDU]:
        read = {
            ModbusTable.HOLDING: client.read_holding_registers,
            ModbusTable.INPUT: client.read_input_registers,
            ModbusTable.COIL: client.read_coils,
            ModbusTable.DISCRETE: client.read_discrete_inputs,
        }[block.table]
        return read(block.address, count=block.count, device_id=self.device.unit_id)

    def _words(self, response: ModbusPDU, block: ReadBlock) -> Words:
        if response.isError():
            raise DeviceError(
                self.name,
                response.function_code & 0x7F,
                response.exception_code,
                str(block.table),
                block.address,
                block.count,
            )
        values = response.bits if block.table.is_bit else response.registers
        # Bit responses are padded to whole bytes; register responses must match exactly.
        if len(values) < block.count or (not block.table.is_bit and len(values) != block.count):
            raise ProtocolError(
                f"device {self.name}: asked for {block.count} values of {block.describe()}, "
                f"got {len(values)}"
            )
        return np.asarray(values[: block.count], dtype=np.uint16)

    def _record(self, ts_ns: int, request: str, outcome: str, started: float) -> None:
        elapsed = time.monotonic() - started
        self._recent.append(RequestRecord(ts_ns, request, outcome, elapsed))

    # -- samples ----------------------------------------------------------------------

    def _tally(self, error: DriverError | None, *, failed: bool) -> None:
        if not failed:
            self.stats.consecutive_failures = 0
            return
        self.stats.failures += 1
        self.stats.consecutive_failures += 1
        if error is not None:
            self.stats.last_error = str(error)

    def _samples(
        self, ts_ns: int, buffer: Words, failed_blocks: npt.NDArray[np.bool_]
    ) -> SampleBatch:
        values = to_engineering(self.plan.decode(buffer), self._scale, self._offset)
        bad = failed_blocks[self.plan.block_of_point]
        values[bad] = np.nan
        outside = (values < self._low) | (values > self._high)
        quality = np.where(
            bad, Quality.BAD, np.where(outside, Quality.UNCERTAIN, Quality.GOOD)
        ).astype(QUALITY_DTYPE)
        keep = self._deadband_keep(values, quality)
        return SampleBatch(
            self._tag_ids[keep],
            np.full(int(keep.sum()), ts_ns, dtype=TS_DTYPE),
            values[keep],
            quality[keep],
        )

    def _deadband_keep(
        self, values: npt.NDArray[np.float64], quality: npt.NDArray[np.uint8]
    ) -> npt.NDArray[np.bool_]:
        """Which samples to store: quality changed, or moved beyond the deadband since the
        last stored value; remembers the stored ones."""
        moved = np.abs(values - self._last_value) > self._deadband
        keep = np.asarray(
            (quality != self._last_quality) | moved | (self._deadband < 0), dtype=np.bool_
        )
        self._last_value[keep] = values[keep]
        self._last_quality[keep] = quality[keep]
        return keep


def next_slot(previous: float, interval: float, now: float) -> tuple[float, int]:
    """The next poll slot after ``previous`` that is still ahead of ``now``, and how many
    slots were skipped to get there."""
    slot = previous + interval
    if slot > now:
        return slot, 0
    missed = int((now - slot) // interval) + 1
    return slot + missed * interval, missed


def build_pollers(
    site: SiteFile, tag_ids: Mapping[str, int], *, max_backoff_s: float = 30.0
) -> list[ModbusPoller]:
    """One poller per Modbus TCP device that serves at least one tag with a Modbus address.

    ``tag_ids`` maps each tag's Unified Namespace path to its storage id.
    """
    points: dict[str, list[ModbusPoint]] = {}
    for ref in site.tags():
        device = ref.equipment.device
        if ref.tag.modbus is None or device is None:
            continue
        if ref.path not in tag_ids:
            raise ConfigError(f"tag {ref.path} has a Modbus address but no tag id")
        points.setdefault(device, []).append(ModbusPoint(tag_ids[ref.path], ref.tag))
    return [
        ModbusPoller(d, points[d.name], max_backoff_s=max_backoff_s)
        for d in site.devices
        if d.protocol == "modbus_tcp" and d.name in points
    ]


async def run_pollers(
    pollers: Sequence[ModbusPoller],
    publish: Publish,
    stop: asyncio.Event,
    clock: Clock = time.time_ns,
) -> None:
    """Run every poller as its own task until ``stop`` is set; a dead or slow device only
    ever delays its own poller."""
    async with asyncio.TaskGroup() as tasks:
        for poller in pollers:
            tasks.create_task(poller.run(publish, stop, clock), name=f"modbus-{poller.name}")
