"""What the Modbus and S7 pollers share: a read plan fetched block by block on a schedule.

A poll connects if need be, reads every block of the device's read plan into one buffer and
decodes all points from it (:class:`PointColumns` turns them into samples). A block the
device refuses stays BAD while the others go on; a device that stops answering makes the
rest of the poll BAD and starts the back-off of its :class:`Link`. Polls and writes share
one connection under one lock. A protocol fills in how to connect, read one block and drop
the connection.
"""

import asyncio
import logging
import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any, Generic, Protocol, TypeVar

import numpy as np
import numpy.typing as npt

from factoryos.connect.codec import Floats
from factoryos.connect.errors import ConnectError, DriverError, DriverTimeout, WriteError
from factoryos.connect.points import Point
from factoryos.connect.polling import (
    Clock,
    Link,
    PointColumns,
    PollerStats,
    Publish,
    RequestLog,
    RequestRecord,
    poll_on_schedule,
)
from factoryos.model.samples import SampleBatch

Buffer = npt.NDArray[Any]  # the poll buffer: Modbus registers, S7 bytes


class Block(Protocol):
    """One read request of a plan."""

    @property
    def offset(self) -> int: ...  # where its data starts in the poll buffer

    def describe(self) -> str: ...


class PolledDevice(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def poll_interval_s(self) -> float: ...


BlockT = TypeVar("BlockT", bound=Block)
BlockT_co = TypeVar("BlockT_co", bound=Block, covariant=True)
DeviceT = TypeVar("DeviceT", bound=PolledDevice)
ClientT = TypeVar("ClientT")


class ReadPlan(Protocol[BlockT_co]):
    """The requests that fetch a device's points, and how to decode what they return."""

    @property
    def blocks(self) -> tuple[BlockT_co, ...]: ...

    @property
    def block_of_point(self) -> npt.NDArray[np.intp]: ...  # for each point, its block

    @property
    def buffer_size(self) -> int: ...

    def decode(self, buffer: Buffer) -> Floats: ...


class BlockPoller(ABC, Generic[DeviceT, BlockT, ClientT]):
    """Polls one device by its read plan; ``ClientT`` is the protocol's connection.

    ``poll_once(ts_ns, retry_now=True)`` ignores the reconnect back-off, so a test driving
    polls in lockstep with a simulated clock can retry a recovered device at once.
    """

    buffer_dtype: type[np.unsignedinteger[Any]]
    block_errors: tuple[type[DriverError], ...]  # a block refused: the others go on

    def __init__(
        self,
        device: DeviceT,
        points: Sequence[Point],
        plan: ReadPlan[BlockT],
        *,
        max_backoff_s: float,
        logger: logging.Logger,
    ) -> None:
        self.device = device
        self.points = tuple(points)
        self.plan = plan
        self.stats = PollerStats()
        self._log = logger
        self._link = Link(device.name, device.poll_interval_s, max_backoff_s, logger)
        self._recent = RequestLog()
        self._columns = PointColumns(self.points)
        self._by_id = {p.tag_id: p for p in self.points}
        self._io = asyncio.Lock()  # a poll and a write never interleave on the connection
        self._failing_blocks: set[int] = set()

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
        buffer = np.zeros(self.plan.buffer_size, dtype=self.buffer_dtype)
        failed = np.ones(len(self.plan.blocks), dtype=np.bool_)
        if not self.plan.blocks:
            return SampleBatch.empty()
        if self._link.backing_off(retry_now=retry_now):
            self.stats.tally(None, failed=True)
            return self._samples(ts_ns, buffer, failed)
        async with self._io:
            try:
                client = await self._connect(ts_ns)
                error = await self._read_blocks(client, ts_ns, buffer, failed)
            except (ConnectError, DriverTimeout) as exc:
                await self._drop()
                self._link.went_down(exc)
                error = exc
            else:
                self._link.came_up()
        self.stats.tally(error, failed=bool(failed.any()))
        return self._samples(ts_ns, buffer, failed)

    async def run(self, publish: Publish, stop: asyncio.Event, clock: Clock = time.time_ns) -> None:
        """Poll every ``device.poll_interval_s`` on a fixed schedule until ``stop`` is set,
        publishing each non-empty batch (see :func:`~factoryos.connect.polling.poll_on_schedule`).
        ``publish`` is awaited inline: keep it quick (a bounded queue put). Closes the
        connection on the way out."""
        try:
            await poll_on_schedule(
                self.poll_once, self.device.poll_interval_s, publish, stop, clock, self.stats
            )
        finally:
            await self.close()

    @abstractmethod
    async def close(self) -> None:
        """Close the connection; the next poll or write connects again."""

    @abstractmethod
    async def _connect(self, ts_ns: int) -> ClientT:
        """The open connection, connecting first if there is none (:class:`ConnectError`)."""

    @abstractmethod
    async def _read_block(self, client: ClientT, block: BlockT, ts_ns: int) -> Buffer:
        """The data of one block, exactly as long as the block."""

    @abstractmethod
    async def _drop(self) -> None:
        """Forget a connection that failed; the next poll connects again."""

    def _writable(self, tag_id: int) -> Point:
        """The writable point stored as ``tag_id``; :class:`WriteError` if there is none."""
        point = self._by_id.get(tag_id)
        if point is None:
            raise WriteError(f"device {self.name}: no tag with id {tag_id}")
        if not point.tag.writable:
            raise WriteError(f"device {self.name}: tag {point.tag.name} is not writable")
        return point

    async def _read_blocks(
        self, client: ClientT, ts_ns: int, buffer: Buffer, failed: npt.NDArray[np.bool_]
    ) -> DriverError | None:
        """Fill ``buffer`` block by block; a block the device refuses stays failed and the
        others go on. Returns the last such error; raises when the device stops answering."""
        error: DriverError | None = None
        for i, block in enumerate(self.plan.blocks):
            try:
                data = await self._read_block(client, block, ts_ns)
            except self.block_errors as exc:
                error = exc
                if i not in self._failing_blocks:
                    self._failing_blocks.add(i)
                    self._log.warning("%s", exc)
                continue
            buffer[block.offset : block.offset + len(data)] = data
            failed[i] = False
            if i in self._failing_blocks:
                self._failing_blocks.discard(i)
                self._log.info("device %s: %s readable again", self.name, block.describe())
        return error

    def _samples(
        self, ts_ns: int, buffer: Buffer, failed_blocks: npt.NDArray[np.bool_]
    ) -> SampleBatch:
        bad = failed_blocks[self.plan.block_of_point]
        return self._columns.samples(ts_ns, self.plan.decode(buffer), bad)
