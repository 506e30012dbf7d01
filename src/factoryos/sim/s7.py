"""Siemens S7 server of one site device, its memory filled from the virtual factory.

python-snap7's pure-Python server speaks ISO-on-TCP like a PLC. Each data block, and the
M, I and Q areas, that the device's tags use is one byte array sized to the end of its
highest tag (a read beyond it gets "invalid address", as from a real PLC);
:meth:`S7FactoryServer.sync` rewrites them from the factory under the server's area locks,
so a client never sees half a step. Writes are refused: the simulated PLC is read-only.
"""

import asyncio
import contextlib
import logging
import socket
import threading
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from snap7.datatypes import S7Area as WireArea
from snap7.error import S7Error
from snap7.server import Server
from snap7.type import SrvArea

from factoryos.connect.s7_plan import encode_bytes, set_bit, size_of
from factoryos.model.devices import S7Device
from factoryos.model.site import TagRef
from factoryos.model.tags import DataType, S7Area
from factoryos.sim.errors import SimConfigError, SimServerError
from factoryos.sim.factory import VirtualFactory
from factoryos.sim.registers import Quantizer

log = logging.getLogger(__name__)

_SRV_AREA = {
    S7Area.DB: SrvArea.DB,
    S7Area.M: SrvArea.MK,
    S7Area.I: SrvArea.PE,
    S7Area.Q: SrvArea.PA,
}

AreaKey = tuple[S7Area, int]  # (area, data block number; 0 outside DB)


@dataclass(frozen=True, slots=True)
class _Binding:
    path: str
    dtype: DataType
    area: AreaKey
    offset: int
    bit: int


class _Plc(Server):
    """snap7's server, read-only, dropping its clients' connections when stopped.

    snap7 notices a stop only after a client's next request or a 5 s receive timeout, so a
    poller could still be answered after "the PLC went down"; a real PLC drops them at once.
    """

    def __init__(self) -> None:
        super().__init__(log=False)
        self._sockets: set[socket.socket] = set()
        self._sockets_lock = threading.Lock()

    def _handle_client(self, client_socket: socket.socket, address: tuple[str, int]) -> None:
        with self._sockets_lock:
            self._sockets.add(client_socket)
        try:
            super()._handle_client(client_socket, address)
        finally:
            with self._sockets_lock:
                self._sockets.discard(client_socket)

    def _write_to_memory_area(
        self, area: WireArea, db_number: int, start: int, write_data: bytearray
    ) -> bool:
        return False  # answered as a write error: the simulated PLC is read-only

    def halt(self) -> None:
        """Drop every client connection, then stop listening (blocking, under a second)."""
        with self._sockets_lock:
            sockets = list(self._sockets)
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        self.stop()


class S7FactoryServer:
    """Serves one S7 device of the factory's site on its ``host:port`` (any rack and slot).

    ``tags`` defaults to every simulated tag with an S7 address whose equipment names
    this device.
    """

    def __init__(
        self, factory: VirtualFactory, device: S7Device, tags: Sequence[TagRef] | None = None
    ) -> None:
        self.factory = factory
        self.device = device
        refs = (
            [r for r in factory.tag_refs() if r.equipment.device == device.name and r.tag.s7]
            if tags is None
            else list(tags)
        )
        self._bindings = [self._bind(ref) for ref in refs]
        self._quantizer = Quantizer([ref.tag for ref in refs])
        groups: dict[DataType, list[int]] = {}
        for i, b in enumerate(self._bindings):
            groups.setdefault(b.dtype, []).append(i)
        self._groups = list(groups.items())
        sizes: dict[AreaKey, int] = {}
        for b in self._bindings:
            sizes[b.area] = max(sizes.get(b.area, 0), b.offset + size_of(b.dtype))
        # Registered with the server by reference: sync() rewrites them in place.
        self._memory = {key: bytearray(size) for key, size in sizes.items()}
        self._server: _Plc | None = None
        self.sync()

    def _bind(self, ref: TagRef) -> _Binding:
        a = ref.tag.s7
        if a is None:
            raise SimConfigError(f"tag {ref.path} has no S7 address")
        if (a.area == S7Area.DB) != (a.db > 0):
            raise SimConfigError(f"tag {ref.path}: a db number goes with area DB, and only there")
        return _Binding(ref.path, ref.tag.type, (a.area, a.db), a.offset, a.bit or 0)

    @property
    def address(self) -> tuple[str, int]:
        return self.device.host, self.device.port

    @property
    def running(self) -> bool:
        return self._server is not None

    def areas(self) -> list[AreaKey]:
        """The (area, db) memory areas served, in no particular order."""
        return list(self._memory)

    def memory(self, area: S7Area, db: int = 0) -> bytes:
        """A copy of one area's current bytes."""
        return bytes(self._memory[(area, db)])

    def sync(self) -> None:
        """Rewrite every area from the factory's current values."""
        fresh = {key: bytearray(len(mem)) for key, mem in self._memory.items()}
        raw = self._quantizer.raw([self.factory.signal_of(b.path) for b in self._bindings])
        for dtype, idx in self._groups:
            if dtype == DataType.BOOL:
                for i in idx:
                    b = self._bindings[i]
                    area = fresh[b.area]
                    area[b.offset] = set_bit(area[b.offset], b.bit, raw[i] == 1.0)
                continue
            width = size_of(dtype)
            data = encode_bytes(raw[idx], dtype).reshape(len(idx), width)
            for i, value in zip(idx, data, strict=True):
                b = self._bindings[i]
                fresh[b.area][b.offset : b.offset + width] = value.tobytes()
        for key, mem in self._memory.items():
            with self._locked(key):
                mem[:] = fresh[key]

    @contextlib.contextmanager
    def _locked(self, key: AreaKey) -> Iterator[None]:
        server = self._server
        if server is None:
            yield
            return
        area, index = _SRV_AREA[key[0]], key[1]
        server.lock_area(area, index)
        try:
            yield
        finally:
            server.unlock_area(area, index)

    async def start(self) -> None:
        """Listen on the device's address; raises :class:`SimServerError` if it cannot."""
        if self._server is not None:
            return
        server = _Plc()
        for (area, db), mem in self._memory.items():
            server.register_area(_SRV_AREA[area], db, mem)
        host, port = self.address
        try:
            server.start_to(host, port)
        except (S7Error, OSError, ValueError) as exc:
            raise SimServerError(
                f"device {self.device.name}: cannot listen on {host}:{port}: {exc}"
            ) from exc
        self._server = server
        log.info("device %s serving S7 on %s:%d", self.device.name, host, port)

    async def stop(self) -> None:
        """Drop every client connection and close the listening socket."""
        server, self._server = self._server, None
        if server is not None:
            await asyncio.to_thread(server.halt)
            log.info("device %s stopped", self.device.name)
