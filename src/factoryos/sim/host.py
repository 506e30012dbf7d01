"""Runs a virtual factory with a Modbus server per device, fast or in real time."""

import asyncio
import logging
from types import TracebackType

from factoryos.model.devices import ModbusTcpDevice
from factoryos.sim.factory import VirtualFactory
from factoryos.sim.modbus import ModbusDeviceServer

log = logging.getLogger(__name__)

#: Most steps taken at once to catch up after the event loop was held up; beyond that the
#: simulated clock falls behind the wall clock rather than racing to catch up.
MAX_CATCH_UP_STEPS = 10


class SimulatorHost:
    """The factory plus one :class:`ModbusDeviceServer` per device of its site.

    Servers listen where the site's devices say; to serve elsewhere (free ports in tests),
    build the factory from a site rewritten with :func:`factoryos.sim.sites.with_ports`.
    Use as ``async with SimulatorHost(factory) as host: ...`` to start and stop all.
    """

    def __init__(self, factory: VirtualFactory) -> None:
        self.factory = factory
        self.servers = {
            d.name: ModbusDeviceServer(factory, d)
            for d in factory.site.devices
            if isinstance(d, ModbusTcpDevice)
        }

    async def start_all(self) -> None:
        """Start every device server; if one fails, stop those started and re-raise."""
        try:
            for server in self.servers.values():
                await server.start()
        except BaseException:
            await self.stop_all()
            raise

    async def stop_all(self) -> None:
        for server in self.servers.values():
            await server.stop()

    async def __aenter__(self) -> "SimulatorHost":
        await self.start_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop_all()

    def sync_all(self) -> None:
        for server in self.servers.values():
            server.sync()

    def advance(self, n_steps: int) -> None:
        """Fast mode: advance the factory ``n_steps`` at full speed, then sync registers."""
        self.factory.advance(n_steps)
        self.sync_all()

    async def run_realtime(self, stop_event: asyncio.Event) -> None:
        """Step once per ``step_s`` of wall time and sync registers, until ``stop_event``."""
        loop = asyncio.get_running_loop()
        step_s = self.factory.step_s
        due = loop.time() + step_s
        behind = False
        while not stop_event.is_set():
            try:
                await asyncio.wait_for(stop_event.wait(), timeout=max(0.0, due - loop.time()))
                return
            except TimeoutError:
                pass
            late = int((loop.time() - due) // step_s) + 1
            was_behind, behind = behind, late > MAX_CATCH_UP_STEPS
            if behind and not was_behind:
                log.warning("simulator fell %d steps behind real time; skipping ahead", late)
            elif was_behind and not behind:
                log.info("simulator back in step with real time")
            n = min(late, MAX_CATCH_UP_STEPS)
            self.advance(n)
            due = loop.time() + step_s if behind else due + n * step_s
