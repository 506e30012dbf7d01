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
from functools import partial

import numpy as np
from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException
from pymodbus.pdu import ModbusPDU

from factoryos.connect.block_poller import BlockPoller
from factoryos.connect.codec import Words, decode, encode, to_engineering
from factoryos.connect.errors import (
    ConnectError,
    DeviceError,
    DriverError,
    DriverTimeout,
    ProtocolError,
)
from factoryos.connect.modbus_plan import ReadBlock, ReadPlan, build_plan
from factoryos.connect.points import Point, device_points
from factoryos.connect.polling import (
    RECENT_REQUESTS,
    PollerStats,
    RequestRecord,
    next_slot,
    raw_for_write,
    run_all,
)
from factoryos.model.devices import ModbusTcpDevice
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


class ModbusPoller(BlockPoller[ModbusTcpDevice, ReadBlock, AsyncModbusTcpClient]):
    """Polls one Modbus TCP device (see :class:`~factoryos.connect.block_poller.BlockPoller`)."""

    buffer_dtype = np.uint16
    block_errors = (DeviceError, ProtocolError)

    def __init__(
        self, device: ModbusTcpDevice, points: Sequence[Point], *, max_backoff_s: float = 30.0
    ) -> None:
        points = tuple(points)
        plan = build_plan(device, points)
        super().__init__(device, points, plan, max_backoff_s=max_backoff_s, logger=log)
        self.plan: ReadPlan = plan
        self._client: AsyncModbusTcpClient | None = None

    async def write(self, tag_id: int, value: float) -> float:
        """Write the engineering ``value`` to the writable tag stored as ``tag_id``.

        Returns the engineering value the device now holds (integer types round to nearest).
        Raises :class:`WriteError` (nothing sent) for an unknown or read-only tag, a
        value that is not finite or outside the tag's range, or a bool that is not 0 or 1;
        :class:`CodecError` for a value its type cannot hold; :class:`ConnectError`,
        :class:`DriverTimeout`, :class:`DeviceError` or :class:`ProtocolError` when the
        device does not take it.
        """
        point = self._writable(tag_id)
        tag, address = point.tag, point.tag.modbus
        assert address is not None  # a Modbus point always has its address
        raw = raw_for_write(tag, value)
        order = address.word_order or self.device.word_order
        words = encode([raw], tag.type, order)  # CodecError before anything is sent
        block = ReadBlock(address.table, address.address, len(words), 0)
        ts_ns = time.time_ns()
        async with self._io:
            client = await self._connect(ts_ns)
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
        await self._drop()

    # -- connection -------------------------------------------------------------------

    async def _connect(self, ts_ns: int) -> AsyncModbusTcpClient:
        if self._client is not None:
            if self._client.connected:
                return self._client
            # Dropped since the last poll (device restart, idle timeout): reconnect now.
            await self._drop()
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

    async def _drop(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        self.stats.connected = False

    # -- requests ---------------------------------------------------------------------

    async def _read_block(
        self, client: AsyncModbusTcpClient, block: ReadBlock, ts_ns: int
    ) -> Words:
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


def build_pollers(
    site: SiteFile, tag_ids: Mapping[str, int], *, max_backoff_s: float = 30.0
) -> list[ModbusPoller]:
    """One poller per Modbus TCP device that serves at least one tag with a Modbus address.

    ``tag_ids`` maps each tag's Unified Namespace path to its storage id.
    """
    return [
        ModbusPoller(d, points, max_backoff_s=max_backoff_s)
        for d, points in device_points(site, tag_ids, ModbusTcpDevice)
    ]


run_pollers = partial(run_all, prefix="modbus")
"""Run every poller as its own task until ``stop`` is set (:func:`polling.run_all`)."""
