"""Test peers: a real pymodbus TCP server over numpy memory, and a server that never answers."""

import asyncio
from dataclasses import dataclass, field
from typing import cast

import numpy as np
import numpy.typing as npt
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

REGISTERS = 200  # reading at or past this address gets an "illegal data address" answer
BITS = 64

# Function code → table name in our memory, for reads and for writes.
_TABLE_OF_FC = {1: "coil", 2: "discrete", 3: "holding", 4: "input"}
_WRITES_OF_FC = {5: "coil", 15: "coil", 6: "holding", 16: "holding"}


@dataclass
class Memory:
    """What the server answers; tests write here, every read request copies it out."""

    holding: npt.NDArray[np.uint16] = field(default_factory=lambda: np.zeros(REGISTERS, np.uint16))
    input: npt.NDArray[np.uint16] = field(default_factory=lambda: np.zeros(REGISTERS, np.uint16))
    coil: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(BITS, np.bool_))
    discrete: npt.NDArray[np.bool_] = field(default_factory=lambda: np.zeros(BITS, np.bool_))

    def registers(self, table: str) -> list[int]:
        data = getattr(self, table)
        if data.dtype == np.bool_:  # bit tables are kept 16 bits per register, bit 0 first
            return [int(x) for x in np.packbits(data, bitorder="little").view("<u2")]
        return [int(x) for x in data]


class ModbusTestServer:
    """A pymodbus TCP server on 127.0.0.1 serving :class:`Memory` for unit id 0 (any)."""

    def __init__(self, memory: Memory | None = None) -> None:
        self.memory = memory or Memory()
        self.port = 0
        self.requests = 0
        self._server: ModbusTcpServer | None = None

    async def _sync(
        self,
        function_code: int,
        _start: int,
        address: int,
        _count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        self.requests += 1
        written = _WRITES_OF_FC.get(function_code)
        if written is not None and values is not None:  # keep what a client writes
            getattr(self.memory, written)[address : address + len(values)] = values
            return None
        table = _TABLE_OF_FC.get(function_code)
        if table is not None:
            words = self.memory.registers(table)
            registers[: len(words)] = words
        return None

    def _device(self) -> SimDevice:
        def bits() -> list[SimData]:
            return [SimData(0, count=BITS, values=False, datatype=DataType.BITS)]

        def regs() -> list[SimData]:
            return [SimData(0, count=REGISTERS, values=0, datatype=DataType.REGISTERS)]

        return SimDevice(id=0, simdata=(bits(), bits(), regs(), regs()), action=self._sync)

    async def start(self) -> None:
        """Listen on ``self.port`` (a free one the first time)."""
        self._server = ModbusTcpServer(self._device(), address=("127.0.0.1", self.port))
        await self._server.serve_forever(background=True)
        listener = cast(asyncio.Server, self._server.transport)
        self.port = listener.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            await self._server.shutdown()  # type: ignore[no-untyped-call]
            self._server = None
            await asyncio.sleep(0.05)  # let the closed connections reach the clients


class SilentServer:
    """Accepts connections and reads requests but never answers: a hung device."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._writers: list[asyncio.StreamWriter] = []

    async def _swallow(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.append(writer)
        while await reader.read(1024):
            pass

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._swallow, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for writer in self._writers:
            writer.close()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
