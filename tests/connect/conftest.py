from collections.abc import AsyncIterator

import pytest

from support.modbus_server import ModbusTestServer, SilentServer


@pytest.fixture
async def modbus_server() -> AsyncIterator[ModbusTestServer]:
    server = ModbusTestServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def silent_server() -> AsyncIterator[SilentServer]:
    server = SilentServer()
    await server.start()
    yield server
    await server.stop()
