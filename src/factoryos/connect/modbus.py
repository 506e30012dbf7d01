"""Modbus TCP poller: one per device, reading its read plan on a fixed schedule.

Each poll turns into one :class:`SampleBatch` (engineering values with quality). A device
that stops answering gives BAD samples with NaN values at once, never silence: while it is
down the poller does not touch the network until a capped exponential back-off deadline
passes, so a poll of a dead device costs nothing and pollers run as independent tasks, so
one slow device never delays another.
"""

import asyncio
import logging
import time
from collections.abc import Awaitable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from factoryos.connect.codec import Words, decode, encode, to_engineering
from factoryos.connect.errors import (
    ConfigError,
    ConnectError,
    DeviceError,
    DriverError,
    DriverTimeout,
    ProtocolError,
    WriteError,
)
from factoryos.connect.modbus_plan import ModbusPoint, ReadBlock, build_plan
from factoryos.connect.polling import (
    RECENT_REQUESTS,
    Clock,
    Link,
    PointColumns,
    PollerStats,
    Publish,
    RequestLog,
    RequestRecord,
    next_slot,
    poll_on_schedule,
    raw_for_write,
    run_all,
)
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.tags import ModbusTable

__all__ = [
    "RECENT_REQUESTS",
    "ModbusPoller",
    "PollerStats",
    "RequestRecord",
    "build_pollers",
    "next_slot",
    "run_pollers",
]

log = logging.getLogger(__name__)

_LIBRARY_TIMEOUT_MARGIN_S = 1.0  # pymodbus's own timeout, kept longer than ours


class ModbusPoller:
    """Polls one Modbus TCP device.

    ``poll_once(ts_ns, retry_now=True)`` ignores the reconnect back-off, so a test driving
    polls in lockstep with a simulated clock can retry a recovered device at once.
    """

    def __init__(
        self, device: ModbusTcpDevice, points: Sequence[ModbusPoint], *, max_backoff_s: float = 30.0
    ) -> None:
        self.device = device
        self.points = tuple(points)
        self.plan = build_plan(device, self.points)
        self.stats = PollerStats()
        self._link = Link(device.name, device.poll_interval_s, max_backoff_s, log)
        self._recent = RequestLog()
        self._client: AsyncModbusTcpClient | None = None
        self._failing_blocks: set[int] = set()
        self._columns = PointColumns([p.tag_id for p in self.points], [p.tag for p in self.points])
        self._by_id = {p.tag_id: p for p in self.points}
        self._io = asyncio.Lock()  # polls and writes share one connection

    @property
    def name(self) -> str:
        return self.device.name

    def recent(self) -> list[RequestRecord]:
        """The last requests and their outcomes, oldest first."""
        return self._recent.records()

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
        if self._link.backing_off(retry_now=retry_now):
            self.stats.tally(None, failed=True)
            return self._samples(ts_ns, buffer, failed)
        try:
            async with self._io:
                client = await self._connected(ts_ns)
                error = await self._read_blocks(client, ts_ns, buffer, failed)
        except (ConnectError, DriverTimeout) as exc:
            self._go_down(exc)
            error = exc
        else:
            self._link.came_up()
        self.stats.tally(error, failed=bool(failed.any()))
        return self._samples(ts_ns, buffer, failed)

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = time.time_ns) -> None:
        """Poll every ``device.poll_interval_s`` on a fixed schedule until ``stop`` is set,
        publishing each non-empty batch. A poll that overruns skips the missed slots rather
        than bursting to catch up. ``publish`` is awaited inline: keep it quick (a bounded
        queue put). Closes the connection on the way out."""
        try:
            await poll_on_schedule(
                self.poll_once, self.device.poll_interval_s, publish, stop, clock, self.stats
            )
        finally:
            await self.close()

    async def write(self, tag_id: int, value: float) -> float:
        """Write the engineering ``value`` to the writable tag stored as ``tag_id``.

        Returns the engineering value the device now holds (integer types round to nearest).
        Raises :class:`WriteError` (nothing sent) for an unknown or read-only tag, a
        value that is not finite or outside the tag's range, or a bool that is not 0 or 1;
        :class:`CodecError` for a value its type cannot hold; :class:`ConnectError`,
        :class:`DriverTimeout`, :class:`DeviceError` or :class:`ProtocolError` when the
        device does not take it.
        """
        point = self._by_id.get(tag_id)
        if point is None or not point.tag.writable:
            what = "no tag" if point is None else f"tag {point.tag.name} is not writable; tag"
            raise WriteError(f"device {self.name}: {what} with id {tag_id}")
        tag, address = point.tag, point.tag.modbus
        assert address is not None  # a Modbus point always has its address
        raw = raw_for_write(tag, value)
        order = address.word_order or self.device.word_order
        words = encode([raw], tag.type, order)  # CodecError before anything is sent
        block = ReadBlock(address.table, address.address, len(words), 0)
        ts_ns = time.time_ns()
        async with self._io:
            client = await self._connected(ts_ns)
            await self._send_write(client, block, words, ts_ns)
        log.info("device %s: wrote %s to tag %s", self.name, value, tag.name)
        return float(to_engineering(decode(words, tag.type, order), tag.scale, tag.offset)[0])

    async def _send_write(
        self, client: AsyncModbusTcpClient, block: ReadBlock, words: Words, ts_ns: int
    ) -> None:
        unit = self.device.unit_id
        if block.table is ModbusTable.COIL:
            call = client.write_coil(block.address, bool(words[0]), device_id=unit)
        else:
            call = client.write_registers(block.address, words.tolist(), device_id=unit)
        await self._exchange(call, block, f"write {block.describe()}", ts_ns)

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
        self._link.went_down(exc)

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
        request = f"read {block.describe()}"
        response = await self._exchange(self._call(client, block), block, request, ts_ns)
        return self._words(response, block, request, ts_ns)

    async def _exchange(
        self, call: Awaitable[ModbusPDU], block: ReadBlock, request: str, ts_ns: int
    ) -> ModbusPDU:
        """One request/response within the device timeout, with library errors translated
        and the outcome recorded; an exception response is a :class:`DeviceError`."""
        started = time.monotonic()
        try:
            response = await asyncio.wait_for(call, timeout=self.device.timeout_s)
            if response.isError():
                raise DeviceError(
                    self.name,
                    response.function_code & 0x7F,
                    response.exception_code,
                    str(block.table),
                    block.address,
                    block.count,
                )
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
        return response

    def _call(self, client: AsyncModbusTcpClient, block: ReadBlock) -> Awaitable[ModbusPDU]:
        read = {
            ModbusTable.HOLDING: client.read_holding_registers,
            ModbusTable.INPUT: client.read_input_registers,
            ModbusTable.COIL: client.read_coils,
            ModbusTable.DISCRETE: client.read_discrete_inputs,
        }[block.table]
        return read(block.address, count=block.count, device_id=self.device.unit_id)

    def _words(self, response: ModbusPDU, block: ReadBlock, request: str, ts_ns: int) -> Words:
        values = response.bits if block.table.is_bit else response.registers
        # Bit responses are padded to whole bytes; register responses must match exactly.
        if len(values) < block.count or (not block.table.is_bit and len(values) != block.count):
            bad = ProtocolError(
                f"device {self.name}: asked for {block.count} values of {block.describe()}, "
                f"got {len(values)}"
            )
            self._record(ts_ns, request, str(bad), time.monotonic())
            raise bad
        return np.asarray(values[: block.count], dtype=np.uint16)

    def _record(self, ts_ns: int, request: str, outcome: str, started: float) -> None:
        self._recent.record(ts_ns, request, outcome, started)

    # -- samples ----------------------------------------------------------------------

    def _samples(
        self, ts_ns: int, buffer: Words, failed_blocks: npt.NDArray[np.bool_]
    ) -> SampleBatch:
        bad = failed_blocks[self.plan.block_of_point]
        return self._columns.samples(ts_ns, self.plan.decode(buffer), bad)


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
    await run_all(pollers, publish, stop, clock, prefix="modbus")
