"""Siemens S7 poller: one per PLC, reading its read plan on a fixed schedule, and writing
setpoints back.

Talks ISO-on-TCP with python-snap7's native asyncio client (no worker thread; every call
runs under our own timeout). Each poll turns into one :class:`SampleBatch`; a PLC that stops
answering gives BAD samples with NaN at once, and while it is down the poller does not touch
the network until a capped exponential back-off deadline passes, so a dead PLC costs
nothing and never delays another poller. Scaling, range, deadband and back-off are shared
with the other drivers (:mod:`factoryos.connect.polling`).
"""

import asyncio
import contextlib
import logging
import time
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, TypeVar

import numpy as np
from snap7.async_client import AsyncClient
from snap7.error import (
    S7ConnectionError,
    S7Error,
    S7PacketLostError,
    S7StalePacketError,
    S7TimeoutError,
)
from snap7.type import Area

from factoryos.connect.block_poller import BlockPoller
from factoryos.connect.codec import to_engineering
from factoryos.connect.errors import ConnectError, DriverError, DriverTimeout, ProtocolError
from factoryos.connect.points import Point, device_points
from factoryos.connect.polling import raw_for_write
from factoryos.connect.s7_plan import (
    PDU_SIZE,
    Bytes,
    S7ReadBlock,
    S7ReadPlan,
    build_s7_plan,
    decode_bytes,
    describe,
    encode_bytes,
    set_bit,
)
from factoryos.model.devices import S7Device
from factoryos.model.site import SiteFile
from factoryos.model.tags import DataType, S7Area

log = logging.getLogger(__name__)

T = TypeVar("T")

_AREA = {S7Area.DB: Area.DB, S7Area.M: Area.MK, S7Area.I: Area.PE, S7Area.Q: Area.PA}


class S7Poller(BlockPoller[S7Device, S7ReadBlock, AsyncClient]):
    """Polls one S7 PLC (S7-300/400/1200/1500, LOGO!, or snap7's server); see
    :class:`~factoryos.connect.block_poller.BlockPoller`.

    Reads are planned for a ``pdu_size`` PDU (240 bytes, which every S7 CPU accepts).
    """

    buffer_dtype = np.uint8
    block_errors = (ProtocolError,)

    def __init__(
        self,
        device: S7Device,
        points: Sequence[Point],
        *,
        max_backoff_s: float = 30.0,
        pdu_size: int = PDU_SIZE,
    ) -> None:
        points = tuple(points)
        plan = build_s7_plan(device, points, pdu_size=pdu_size)
        super().__init__(device, points, plan, max_backoff_s=max_backoff_s, logger=log)
        self.plan: S7ReadPlan = plan
        # One client for the poller's life: snap7 logs each new one, and reconnects reuse it.
        self._client = AsyncClient()

    async def close(self) -> None:
        """Close the connection; the next poll or write connects again."""
        async with self._io:
            await self._drop()

    async def write(self, tag_id: int, value: float) -> float:
        """Write the engineering ``value`` to the writable tag stored as ``tag_id``.

        Returns the engineering value the PLC now holds (an integer type rounds to
        nearest). Raises :class:`WriteError` (nothing sent) for an unknown or read-only
        tag, a value that is not finite or outside the tag's range, or a bool that is not
        0 or 1; :class:`CodecError` for a value its type cannot hold; :class:`ConnectError`,
        :class:`DriverTimeout` or :class:`ProtocolError` if the PLC did not take it. A bool
        is written as its whole byte, read just before: the PLC must not change the other
        bits of that byte in between.
        """
        point = self._writable(tag_id)
        tag, a = point.tag, point.tag.s7
        assert a is not None  # an S7 point always has its address (checked by the plan)
        raw = raw_for_write(tag, value)
        is_bit = tag.type == DataType.BOOL
        data = b"" if is_bit else encode_bytes([raw], tag.type).tobytes()  # CodecError here
        ts_ns = time.time_ns()
        async with self._io:
            try:
                await self._connect(ts_ns)
                if is_bit:
                    current = await self._read(ts_ns, a.area, a.db, a.offset, 1)
                    data = bytes([set_bit(int(current[0]), a.bit or 0, raw == 1.0)])
                await self._write(ts_ns, a.area, a.db, a.offset, data)
            except (ConnectError, DriverTimeout):
                await self._drop()  # the next poll reconnects and reports the outage
                raise
        log.info("device %s: wrote %s to tag %s", self.name, value, tag.name)
        held = np.array([raw]) if is_bit else decode_bytes(np.frombuffer(data, np.uint8), tag.type)
        return float(to_engineering(held, tag.scale, tag.offset)[0])

    # -- connection -------------------------------------------------------------------

    async def _connect(self, ts_ns: int) -> AsyncClient:
        client = self._client
        if client.get_connected():
            return client
        # Never connected, or dropped since the last poll (PLC restart): connect now.
        await self._drop()
        d = self.device
        started = time.monotonic()
        request = f"connect {d.address}"
        try:
            await asyncio.wait_for(client.connect(d.host, d.rack, d.slot, d.port), d.timeout_s)
        except TimeoutError:
            reason = f"no answer within {d.timeout_s} s"
        except (S7Error, OSError) as exc:
            reason = str(exc) or type(exc).__name__
        else:
            self._recent.record(ts_ns, request, "ok", started)
            self.stats.connected = True
            return client
        await self._drop()
        error = ConnectError(f"cannot connect to {d.address} ({reason})")
        self._recent.record(ts_ns, request, str(error), started)
        raise error

    async def _drop(self) -> None:
        self.stats.connected = False
        # snap7's disconnect swallows its own errors; bound it in case the peer stalls.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._client.disconnect(), self.device.timeout_s)

    # -- requests ---------------------------------------------------------------------

    async def _read_block(self, client: AsyncClient, block: S7ReadBlock, ts_ns: int) -> Bytes:
        return await self._read(ts_ns, block.area, block.db, block.start, block.size)

    async def _read(self, ts_ns: int, area: S7Area, db: int, start: int, size: int) -> Bytes:
        request = f"read {describe(area, db, start, size)}"
        data = await self._call(
            ts_ns, request, self._client.read_area(_AREA[area], db, start, size)
        )
        if not isinstance(data, bytearray) or len(data) != size:
            length = len(data) if isinstance(data, bytearray) else type(data).__name__
            raise ProtocolError(f"device {self.name}: {request} returned {length} bytes")
        return np.frombuffer(bytes(data), dtype=np.uint8)

    async def _write(self, ts_ns: int, area: S7Area, db: int, start: int, data: bytes) -> None:
        request = f"write {describe(area, db, start, len(data))}"
        await self._call(
            ts_ns, request, self._client.write_area(_AREA[area], db, start, bytearray(data))
        )

    async def _call(self, ts_ns: int, request: str, call: Coroutine[Any, Any, T]) -> T:
        """Await one snap7 request under the device timeout, translating its errors."""
        started = time.monotonic()
        timeout = self.device.timeout_s
        error: DriverError
        try:
            result = await asyncio.wait_for(call, timeout)
        except (TimeoutError, S7TimeoutError) as exc:
            error = DriverTimeout(f"no answer to {request} within {timeout} s")
            cause: Exception = exc
        except (S7StalePacketError, S7PacketLostError, S7ConnectionError, OSError) as exc:
            # A lost or out-of-step answer leaves the stream unusable: reconnect.
            error, cause = ConnectError(f"connection lost during {request}: {exc}"), exc
        except S7Error as exc:  # S7ProtocolError: the PLC refused this request only
            error, cause = ProtocolError(f"device {self.name}: {request} refused: {exc}"), exc
        else:
            self._recent.record(ts_ns, request, "ok", started)
            return result
        self._recent.record(ts_ns, request, str(error), started)
        raise error from cause


def build_s7_drivers(
    site: SiteFile, tag_ids: Mapping[str, int], *, max_backoff_s: float = 30.0
) -> list[S7Poller]:
    """One poller per S7 device that serves at least one tag with an S7 address.

    ``tag_ids`` maps each tag's Unified Namespace path to its storage id.
    """
    return [
        S7Poller(d, points, max_backoff_s=max_backoff_s)
        for d, points in device_points(site, tag_ids, S7Device)
    ]
