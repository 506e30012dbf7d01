"""The maintenance API over the real app (SQLite catalog, DuckDB store): training on stored
history through HTTP, the registry's versions, promote and rollback, the health answer, the
ONNX download — and the client's mistakes answered 4xx naming what, changing nothing."""

import dataclasses

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from factoryos.api import Services, create_app
from factoryos.apps.maintenance.config import AnomalySpec, MaintenanceSection
from factoryos.apps.maintenance.service import MaintenanceApp
from factoryos.model.samples import SampleBatch
from factoryos.store.catalog import Role
from support.sites import POWER, RPM
from support.tenants import Tenant, acme, globex, services

__all__ = ["acme", "globex", "services"]  # fixtures, used by name

CNC = POWER.rsplit("/", 1)[0]
NAME = f"anomaly/{CNC}"
T0 = 1_767_600_000 * 10**9
URL = "/api/maintenance"


@pytest.fixture
def app(services: Services, acme: Tenant) -> FastAPI:
    rng = np.random.default_rng(0)
    n = 3_000
    power = 20 + rng.normal(size=n)
    rpm = 100 * power + rng.normal(scale=20, size=n)  # speed follows power
    ts = T0 + np.arange(n, dtype=np.int64) * 10**9
    ids = [acme.ids[POWER], acme.ids[RPM]]
    services.store.write(
        SampleBatch.build(
            np.repeat([ids], n, axis=0).ravel(),
            np.repeat(ts, 2),
            np.column_stack([power, rpm]).ravel(),
        )
    )
    spec = AnomalySpec(signals=["power_kw", "spindle_rpm"], family="pca")
    maintenance = MaintenanceApp(
        MaintenanceSection(anomaly={CNC: spec}),
        services.catalog,
        services.store,
        services.bus,
        acme.ids,
        "acme",
    )
    return create_app(dataclasses.replace(services, maintenance=maintenance))


def _window(start_s: int, end_s: int) -> dict[str, str]:
    iso = "2026-01-05T{:02d}:{:02d}:{:02d}Z"
    return {
        "start": iso.format(*_hms(start_s)),
        "end": iso.format(*_hms(end_s)),
    }


def _hms(s: int) -> tuple[int, int, int]:
    base = (T0 // 10**9) % 86_400 + s
    return base // 3600, base % 3600 // 60, base % 60


async def test_train_promote_rollback_and_download(client: httpx.AsyncClient, acme: Tenant) -> None:
    eng = acme.auth(Role.ENGINEER)
    first = await client.post(
        f"{URL}/models/train",
        headers=eng,
        json={"equipment": CNC, **_window(0, 1_500), "promote": True},
    )
    assert first.status_code == 200, first.text
    v1 = first.json()
    assert (v1["name"], v1["version"], v1["status"], v1["family"]) == (NAME, 1, "promoted", "pca")
    assert v1["features"] == [POWER, RPM] and v1["metrics"]["onnx_max_abs_diff"] <= 1e-5
    second = await client.post(
        f"{URL}/models/train", headers=eng, json={"equipment": CNC, **_window(1_500, 2_999)}
    )
    assert second.json()["status"] == "candidate"

    promoted = await client.post(
        f"{URL}/models/promote", headers=eng, json={"name": NAME, "version": 2}
    )
    assert promoted.json()["status"] == "promoted"
    listed = (await client.get(f"{URL}/models", headers=acme.auth())).json()
    assert [(m["version"], m["status"]) for m in listed] == [(2, "promoted"), (1, "retired")]
    back = await client.post(f"{URL}/models/rollback", headers=eng, json={"name": NAME})
    assert back.json()["version"] == 1
    log = (
        await client.get(f"{URL}/models/promotions", params={"name": NAME}, headers=acme.auth())
    ).json()
    assert [(p["version"], p["action"]) for p in log] == [
        (1, "rollback"),
        (2, "promote"),
        (1, "promote"),
    ]
    health = (await client.get(f"{URL}/health", headers=acme.auth())).json()
    assert [(h["equipment"], h["state"], h["model_version"]) for h in health] == [
        (CNC, "warming up", 1)
    ]
    onnx = await client.get(
        f"{URL}/models/artifact", params={"name": NAME, "version": 1}, headers=eng
    )
    assert onnx.status_code == 200 and onnx.headers["content-type"] == "application/octet-stream"
    assert len(onnx.content) > 100


@pytest.mark.parametrize(
    ("path", "body", "status", "says"),
    [
        ("models/train", {"equipment": "plant1/x/y/z/nope"}, 404, "not under maintenance"),
        ("models/train", {"equipment": CNC, **_window(0, 20)}, 409, "needs at least"),
        ("models/train", {"equipment": CNC, "start": "yesterday"}, 400, "start"),
        ("models/train", {"equipment": CNC, "family": "magic"}, 422, "family"),
        ("models/promote", {"name": NAME, "version": 7}, 400, "no version 7"),
        ("models/rollback", {"name": NAME}, 400, "no version is in use"),
    ],
)
async def test_mistakes_are_4xx_and_change_nothing(
    client: httpx.AsyncClient,
    acme: Tenant,
    path: str,
    body: dict[str, object],
    status: int,
    says: str,
) -> None:
    r = await client.post(f"{URL}/{path}", headers=acme.auth(Role.ENGINEER), json=body)
    assert r.status_code == status, r.text
    assert says in r.text
    assert (await client.get(f"{URL}/models", headers=acme.auth())).json() == []


async def test_roles_and_tenants(client: httpx.AsyncClient, acme: Tenant, globex: Tenant) -> None:
    body = {"equipment": CNC, **_window(0, 1_500)}
    as_operator = await client.post(
        f"{URL}/models/train", headers=acme.auth(Role.OPERATOR), json=body
    )
    assert as_operator.status_code == 403
    other = await client.get(f"{URL}/health", headers=globex.auth())
    assert other.status_code == 404  # globex has no maintenance configured here
