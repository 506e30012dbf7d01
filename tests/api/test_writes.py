"""Write-back over the API to a real Modbus server: roles, range checks, audit, tenancy."""

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from factoryos.api import Services, create_app
from factoryos.bus.inprocess import InProcessBus
from factoryos.connect.codec import decode
from factoryos.connect.registry import build_drivers
from factoryos.model import Quality, SampleBatch
from factoryos.model.site import parse_site
from factoryos.model.tags import DataType, WordOrder
from factoryos.store.catalog import Catalog, Role
from factoryos.store.duckdb_store import DuckDBStore
from support.asgi import asgi_client
from support.modbus_server import ModbusTestServer
from support.sites import Cell, Equipment, site_yaml

SETPOINT = "plant1/machining/line1/cell1/oven-01/setpoint_c"
MEASURED = "plant1/machining/line1/cell1/oven-01/temp_c"
OVEN = Equipment(
    "oven-01",
    (
        "{name: setpoint_c, unit: degC, range: [20, 250], writable: true,"
        " modbus: {table: holding, address: 0}}",
        "{name: temp_c, unit: degC, modbus: {table: holding, address: 2}}",
    ),
    device="oven-plc",
)


@pytest.fixture
async def modbus_server() -> AsyncIterator[ModbusTestServer]:
    server = ModbusTestServer()
    await server.start()
    yield server
    await server.stop()


@pytest.fixture
async def api(
    tmp_path: Path, modbus_server: ModbusTestServer
) -> AsyncIterator[tuple[httpx.AsyncClient, Services, dict[Role, str]]]:
    text = site_yaml(
        cells=[Cell("machining", "line1", "cell1", (OVEN,))],
        devices=[f"{{name: oven-plc, port: {modbus_server.port}, timeout_s: 0.5}}"],
    )
    site = parse_site(text)
    catalog = Catalog(f"sqlite:///{tmp_path / 'catalog.sqlite'}")
    catalog.create_all()
    ids = catalog.register_site(site)
    catalog.register_site(parse_site(text.replace("tenant: acme", "tenant: globex")))
    store, bus = DuckDBStore(tmp_path / "ts.duckdb"), InProcessBus()
    store.write(SampleBatch.build([ids[SETPOINT]], 1_000, [80.0], [Quality.GOOD]))
    services = Services(catalog, store, bus, writer=build_drivers(site, ids))
    keys = {role: catalog.create_api_key("acme", role, role.label) for role in Role}
    keys[Role.ADMIN] = catalog.create_api_key("globex", Role.ADMIN, "other-tenant")
    async with asgi_client(create_app(services)) as client:
        yield client, services, keys
    store.close()
    catalog.close()


def _auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def test_an_engineer_writes_a_setpoint_and_it_is_audited(
    api: tuple[httpx.AsyncClient, Services, dict[Role, str]], modbus_server: ModbusTestServer
) -> None:
    client, _, keys = api
    answer = await client.post(
        f"/api/tags/{SETPOINT}/write", json={"value": 180.5}, headers=_auth(keys[Role.ENGINEER])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["written"] == 180.5
    assert answer.json()["old_value"] == 80.0
    held = decode(modbus_server.memory.holding[0:2], DataType.FLOAT32, WordOrder.BIG)
    assert held[0] == 180.5
    log = (await client.get("/api/audit/writes", headers=_auth(keys[Role.ENGINEER]))).json()
    assert [(e["tag"], e["old_value"], e["written"], e["outcome"], e["key_name"]) for e in log] == [
        (SETPOINT, 80.0, 180.5, "ok", "engineer")
    ]


@pytest.mark.parametrize(
    ("path", "value", "status", "words", "outcome"),
    [
        (SETPOINT, 300.0, 400, "outside its range", "refused"),
        (MEASURED, 10.0, 400, "not writable", "refused"),
        ("plant1/nope", 10.0, 404, "no tag", None),
    ],
)
async def test_refused_writes_change_nothing_and_are_audited(
    api: tuple[httpx.AsyncClient, Services, dict[Role, str]],
    modbus_server: ModbusTestServer,
    path: str,
    value: float,
    status: int,
    words: str,
    outcome: str | None,
) -> None:
    client, _, keys = api
    engineer = _auth(keys[Role.ENGINEER])
    answer = await client.post(f"/api/tags/{path}/write", json={"value": value}, headers=engineer)
    assert answer.status_code == status
    assert words in answer.json()["detail"]
    assert not modbus_server.memory.holding.any()
    log = (await client.get("/api/audit/writes", headers=engineer)).json()
    assert [e["outcome"] for e in log] == ([outcome] if outcome else [])


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR])
async def test_below_engineer_may_not_write(
    api: tuple[httpx.AsyncClient, Services, dict[Role, str]],
    modbus_server: ModbusTestServer,
    role: Role,
) -> None:
    client, _, keys = api
    answer = await client.post(
        f"/api/tags/{SETPOINT}/write", json={"value": 100.0}, headers=_auth(keys[role])
    )
    assert answer.status_code == 403
    assert not modbus_server.memory.holding.any()


async def test_another_tenant_cannot_write_or_see_the_audit(
    api: tuple[httpx.AsyncClient, Services, dict[Role, str]],
) -> None:
    client, _, keys = api
    await client.post(
        f"/api/tags/{SETPOINT}/write", json={"value": 100.0}, headers=_auth(keys[Role.ENGINEER])
    )
    other = _auth(keys[Role.ADMIN])  # globex's admin: same paths, its own tags
    log = (await client.get("/api/audit/writes", headers=other)).json()
    assert log == []


async def test_a_device_that_does_not_answer_is_a_503_and_audited(
    api: tuple[httpx.AsyncClient, Services, dict[Role, str]], modbus_server: ModbusTestServer
) -> None:
    client, _, keys = api
    await modbus_server.stop()
    engineer = _auth(keys[Role.ENGINEER])
    answer = await client.post(
        f"/api/tags/{SETPOINT}/write", json={"value": 100.0}, headers=engineer
    )
    assert answer.status_code == 503
    assert answer.json()["detail"].startswith("device:")
    log = (await client.get("/api/audit/writes", headers=engineer)).json()
    assert [e["outcome"] for e in log] == ["failed"]


async def test_non_finite_or_malformed_values_are_422(
    api: tuple[httpx.AsyncClient, Services, dict[Role, str]],
) -> None:
    client, _, keys = api
    engineer = _auth(keys[Role.ENGINEER])
    for body in ({"value": "hot"}, {}, {"value": 1, "extra": 2}):
        answer = await client.post(f"/api/tags/{SETPOINT}/write", json=body, headers=engineer)
        assert answer.status_code == 422, body
    raw = await client.post(
        f"/api/tags/{SETPOINT}/write",
        content=b'{"value": NaN}',
        headers={**engineer, "content-type": "application/json"},
    )
    assert raw.status_code == 422
