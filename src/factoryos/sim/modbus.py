"""Modbus TCP server of one site device, its registers filled from the virtual factory.

The registers live in a snapshot rebuilt by :meth:`ModbusDeviceServer.sync`; a read copies
the current snapshot into pymodbus's datastore just before pymodbus answers (through the
device ``action`` hook), so a client always sees one consistent step. Writes are refused:
the simulated PLC is read-only.
"""

import logging
from dataclasses import dataclass

from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType as SimDataType
from pymodbus.simulator import SimData, SimDevice

from factoryos.connect.codec import encode
from factoryos.model.devices import ModbusTcpDevice
from factoryos.model.tags import DataType, ModbusTable, Tag, WordOrder
from factoryos.sim.errors import SimServerError
from factoryos.sim.factory import VirtualFactory
from factoryos.sim.registers import Quantizer

log = logging.getLogger(__name__)

_TABLE_OF_FUNCTION = {
    1: ModbusTable.COIL,
    5: ModbusTable.COIL,
    15: ModbusTable.COIL,
    2: ModbusTable.DISCRETE,
    4: ModbusTable.INPUT,
    **{fc: ModbusTable.HOLDING for fc in (3, 6, 16, 22, 23)},
}
# pymodbus SimDevice takes its four blocks in this order.
_BLOCK_ORDER = (ModbusTable.COIL, ModbusTable.DISCRETE, ModbusTable.HOLDING, ModbusTable.INPUT)


@dataclass(frozen=True, slots=True)
class _Binding:
    path: str
    tag: Tag
    table: ModbusTable
    address: int
    word_order: WordOrder


def _pack_bits(bits: list[int]) -> list[int]:
    """Bits to 16-bit words, bit 0 in the least significant bit (pymodbus's layout)."""
    words = [0] * ((len(bits) + 15) // 16)
    for i, bit in enumerate(bits):
        if bit:
            words[i // 16] |= 1 << (i % 16)
    return words


class ModbusDeviceServer:
    """Serves one device of the factory's site on its ``host:port`` and ``unit_id``.

    Addresses from 0 to the end of the highest tag of each table are readable (gaps read
    0); beyond that a read gets ILLEGAL_ADDRESS, as from a real PLC.
    """

    def __init__(self, factory: VirtualFactory, device: ModbusTcpDevice) -> None:
        self.factory = factory
        self.device = device
        self._bindings = [
            _Binding(
                ref.path,
                ref.tag,
                ref.tag.modbus.table,
                ref.tag.modbus.address,
                ref.tag.modbus.word_order or device.word_order,
            )
            for ref in factory.tag_refs()
            if ref.equipment.device == device.name and ref.tag.modbus is not None
        ]
        self._quantizer = Quantizer([b.tag for b in self._bindings])
        # Bindings encoded together: one codec call per (type, word order).
        encodings: dict[tuple[DataType, WordOrder], list[int]] = {}
        for i, b in enumerate(self._bindings):
            encodings.setdefault((b.tag.type, b.word_order), []).append(i)
        self._encodings = list(encodings.items())
        self._size = dict.fromkeys(ModbusTable, 0)
        for b in self._bindings:
            end = b.address + (1 if b.table.is_bit else b.tag.type.words)
            self._size[b.table] = max(self._size[b.table], end)
        self._snapshot: dict[ModbusTable, list[int]] = {}
        self._server: ModbusTcpServer | None = None
        self.sync()

    @property
    def address(self) -> tuple[str, int]:
        return self.device.host, self.device.port

    @property
    def running(self) -> bool:
        return self._server is not None

    def sync(self) -> None:
        """Rewrite every register from the factory's current values."""
        tables = {t: [0] * self._size[t] for t in ModbusTable}
        raw = self._quantizer.raw([self.factory.signal_of(b.path) for b in self._bindings])
        for (dtype, order), idx in self._encodings:
            words = encode(raw[idx], dtype, order).reshape(len(idx), dtype.words).tolist()
            for i, w in zip(idx, words, strict=True):
                b = self._bindings[i]
                tables[b.table][b.address : b.address + len(w)] = w
        for t in (ModbusTable.COIL, ModbusTable.DISCRETE):
            tables[t] = _pack_bits(tables[t])
        self._snapshot = tables

    def registers(self, table: ModbusTable) -> list[int]:
        """The current snapshot of one table (bit tables packed 16 bits a word)."""
        return list(self._snapshot[table])

    async def start(self) -> None:
        """Listen on the device's address; raises :class:`SimServerError` if it cannot."""
        if self._server is not None:
            return
        server = ModbusTcpServer(self._sim_device(), address=self.address)
        try:
            await server.serve_forever(background=True)
        except (RuntimeError, OSError) as exc:
            await server.shutdown()  # type: ignore[no-untyped-call]  # pymodbus leaves it untyped
            raise SimServerError(
                f"device {self.device.name}: cannot listen on {self.device.host}:"
                f"{self.device.port}: {exc}"
            ) from exc
        self._server = server
        log.info("device %s serving on %s:%d", self.device.name, *self.address)

    async def stop(self) -> None:
        """Close the listening socket and every client connection."""
        server, self._server = self._server, None
        if server is not None:
            await server.shutdown()  # type: ignore[no-untyped-call]
            log.info("device %s stopped", self.device.name)

    def _sim_device(self) -> SimDevice:
        coils, discrete, holding, inputs = (self._block(t) for t in _BLOCK_ORDER)
        blocks = (coils, discrete, holding, inputs)
        return SimDevice(self.device.unit_id, simdata=blocks, action=self._action)

    def _block(self, table: ModbusTable) -> list[SimData]:
        size = self._size[table]
        if table.is_bit:
            count = max(16, (size + 15) // 16 * 16)
            return [SimData(0, count=count, values=False, datatype=SimDataType.BITS)]
        if size == 0:
            return [SimData(0, datatype=SimDataType.INVALID)]
        return [SimData(0, count=size, values=0, datatype=SimDataType.REGISTERS, readonly=True)]

    async def _action(
        self,
        function_code: int,
        start_address: int,
        address: int,
        count: int,
        registers: list[int],
        values: list[int] | list[bool] | None,
    ) -> ExcCodes | None:
        if values is not None:
            return ExcCodes.ILLEGAL_FUNCTION
        table = _TABLE_OF_FUNCTION[function_code]
        snapshot = self._snapshot[table]
        if table.is_bit:
            registers[: len(snapshot)] = snapshot
        else:
            offset = address - start_address
            registers[offset : offset + count] = snapshot[offset : offset + count]
        return None
