"""The alarms API over a running alarm processor: live list, commands and their errors, who
may do what, the history with filters and paging, KPIs, and the audit trail."""

import asyncio
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest

from factoryos.api import Services, create_app
from factoryos.api.params import iso_time
from factoryos.apps.alarms import LimitRule, Priority, StateRule
from factoryos.apps.alarms.config import AlarmConfig, AlarmInfo
from factoryos.apps.alarms.processor import AlarmProcessor
from factoryos.model.samples import SampleBatch
from factoryos.store.alarm_log import AlarmLog
from factoryos.store.catalog import Role
from support.asgi import asgi_client
from support.sites import POWER, TEMP
from support.tenants import Tenant

S = 1_000_000_000


@dataclass
class Alarmed:
    client: httpx.AsyncClient
    processor: AlarmProcessor
    services: Services
    acme: Tenant

    async def publish(self, path: str, value: float) -> None:
        tag = self.acme.ids[path]
        await self.services.bus.publish(SampleBatch.build([tag], [time.time_ns()], [value]))

    async def wait_state(self, name: str, state: str) -> None:
        deadline = time.monotonic() + 3
        while self.processor.live(name).status.state != state:
            assert time.monotonic() < deadline, f"{name} never became {state}"
            await asyncio.sleep(0.01)

    async def post(self, path: str, role: Role = Role.OPERATOR, **body: object) -> httpx.Response:
        return await self.client.post(path, json=body or None, headers=self.acme.auth(role))

    async def get(self, path: str, role: Role = Role.VIEWER, **params: object) -> httpx.Response:
        return await self.client.get(path, params=params, headers=self.acme.auth(role))


def _config(acme: Tenant) -> AlarmConfig:
    rules = [
        LimitRule(name="Power H", tag_id=acme.ids[POWER], level="H", setpoint=40.0,
                  priority=Priority.HIGH),
        StateRule(name="Temp stuck", tag_id=acme.ids[TEMP], value=0.0, priority=Priority.LOW),
    ]  # fmt: skip
    info = {
        "Power H": AlarmInfo("Power H", POWER, "plant1/machining/line1/cell1/cnc-01", True, "hot"),
        "Temp stuck": AlarmInfo(
            "Temp stuck", TEMP, "plant1/machining/line1/cell1/cnc-02", True, ""
        ),
    }
    return AlarmConfig(rules, info, max_shelve_s=3600)


@pytest.fixture
async def alarmed(services: Services, acme: Tenant, globex: Tenant) -> AsyncIterator[Alarmed]:
    tenant = services.catalog.tenant_id("acme")
    assert tenant is not None
    processor = AlarmProcessor(_config(acme), services.bus, AlarmLog(services.catalog), tenant)
    stop = asyncio.Event()
    task = asyncio.create_task(processor.run(stop))
    await asyncio.wait_for(processor.ready.wait(), 5)  # restored from the history
    app = create_app(dataclasses.replace(services, alarms=processor))
    async with asgi_client(app) as c:
        yield Alarmed(c, processor, services, acme)
    stop.set()
    await asyncio.wait_for(task, 5)


async def test_the_live_list_shows_state_priority_and_last_value(alarmed: Alarmed) -> None:
    await alarmed.publish(POWER, 45.5)
    await alarmed.wait_state("Power H", "active_unacked")

    answer = await alarmed.get("/api/alarms")

    assert answer.status_code == 200
    power, temp = answer.json()["alarms"]
    assert power["name"] == "Power H"
    assert (power["state"], power["priority"], power["active"], power["acked"]) == (
        "active_unacked",
        "high",
        True,
        False,
    )
    assert power["last_value"] == 45.5 and power["last_time"].endswith("Z")
    assert power["equipment"] == "plant1/machining/line1/cell1/cnc-01"
    assert (temp["state"], temp["acked"], temp["last_value"]) == ("normal", True, None)


async def test_commands_return_the_new_status_and_are_audited(alarmed: Alarmed) -> None:
    await alarmed.publish(POWER, 45.0)
    await alarmed.wait_state("Power H", "active_unacked")

    acked = await alarmed.post("/api/alarms/Power H/ack", comment="on it")
    shelved = await alarmed.post("/api/alarms/Power H/shelve", duration_s=600, reason="tuning")
    unshelved = await alarmed.post("/api/alarms/Power H/unshelve")
    removed = await alarmed.post("/api/alarms/Temp stuck/out-of-service", reason="sensor out")
    returned = await alarmed.post("/api/alarms/Temp stuck/return-to-service")

    assert acked.json()["state"] == "active_acked"
    assert shelved.json()["state"] == "shelved" and shelved.json()["shelved_until"]
    # Still above the limit when unshelved: annunciated again as a new activation.
    assert unshelved.json()["state"] == "active_unacked"
    assert removed.json()["state"] == "out_of_service"
    assert returned.json()["state"] == "normal"
    audit = alarmed.services.catalog.audit.entries(limit=10)
    actions = [(e.action, e.target, e.actor) for e in reversed(audit)]
    assert actions[-5:] == [
        ("alarm_acknowledge", "alarm Power H", "operator-key"),
        ("alarm_shelve", "alarm Power H", "operator-key"),
        ("alarm_unshelve", "alarm Power H", "operator-key"),
        ("alarm_out_of_service", "alarm Temp stuck", "operator-key"),
        ("alarm_return_to_service", "alarm Temp stuck", "operator-key"),
    ]


@pytest.mark.parametrize(
    ("path", "body", "status"),
    [
        ("/api/alarms/nope/ack", {}, 404),
        ("/api/alarms/Temp stuck/ack", {}, 409),  # nothing to acknowledge
        ("/api/alarms/Temp stuck/unshelve", {}, 409),  # not shelved
        ("/api/alarms/Temp stuck/return-to-service", {}, 409),  # in service
        ("/api/alarms/Temp stuck/shelve", {"reason": "x"}, 422),  # no end
        ("/api/alarms/Temp stuck/shelve", {"reason": "x", "duration_s": 7200}, 422),  # > max
        ("/api/alarms/Temp stuck/shelve", {"reason": "x", "duration_s": -1}, 422),
        ("/api/alarms/Temp stuck/shelve", {"reason": "x", "until": "2020-01-01T00:00:00Z"}, 422),
        ("/api/alarms/Temp stuck/shelve", {"reason": "x", "until": "tomorrow"}, 422),
        ("/api/alarms/Temp stuck/shelve", {"duration_s": 60}, 422),  # no reason
        ("/api/alarms/Temp stuck/out-of-service", {}, 422),  # no reason
        ("/api/alarms/Temp stuck/ack", {"coment": "typo"}, 422),
    ],
)
async def test_bad_commands_are_refused_clearly(
    alarmed: Alarmed, path: str, body: dict[str, object], status: int
) -> None:
    answer = await alarmed.post(path, **body)

    assert answer.status_code == status, answer.text
    assert answer.json()["detail"]


async def test_viewers_see_but_cannot_command(alarmed: Alarmed) -> None:
    await alarmed.publish(POWER, 45.0)
    await alarmed.wait_state("Power H", "active_unacked")

    refused = await alarmed.post("/api/alarms/Power H/ack", role=Role.VIEWER)
    nobody = await alarmed.client.get("/api/alarms")

    assert refused.status_code == 403
    assert nobody.status_code == 401
    assert alarmed.processor.live("Power H").status.state == "active_unacked"


async def test_another_tenant_has_no_alarms(alarmed: Alarmed, globex: Tenant) -> None:
    answer = await alarmed.client.get("/api/alarms", headers=globex.auth())
    command = await alarmed.client.post("/api/alarms/Power H/ack", headers=globex.auth(Role.ADMIN))

    assert answer.status_code == 404 and "no alarms configured" in answer.json()["detail"]
    assert command.status_code == 404
    assert alarmed.processor.live("Power H").status.state == "normal"


async def test_history_filters_and_pages(alarmed: Alarmed) -> None:
    for value in (45.0, 10.0, 46.0, 11.0, 47.0):
        await alarmed.publish(POWER, value)
        await asyncio.sleep(0.002)
    await alarmed.wait_state("Power H", "active_unacked")
    await alarmed.post("/api/alarms/Power H/ack", comment="seen")

    pages, before = [], None
    while True:
        params: dict[str, object] = {"alarm": "Power H", "limit": 2}
        if before is not None:
            params["before"] = before
        page = (await alarmed.get("/api/alarms/history", **params)).json()
        pages.append([e["kind"] for e in page["events"]])
        before = page["next_before"]
        if before is None:
            break
    acks = (await alarmed.get("/api/alarms/history", kind="acknowledged")).json()["events"]
    urgent = (await alarmed.get("/api/alarms/history", priority_min="urgent")).json()["events"]

    assert pages == [
        ["acknowledged", "activated"],
        ["cleared", "activated"],
        ["cleared", "activated"],
    ]
    assert [(e["user"], e["comment"], e["state"]) for e in acks] == [
        ("operator-key", "seen", "active_acked")
    ]
    assert urgent == []
    bad = await alarmed.get(
        "/api/alarms/history", start="2025-01-02T00:00:00Z", end="2025-01-01T00:00:00Z"
    )
    assert bad.status_code == 400


async def test_kpis_count_activations_and_chattering(alarmed: Alarmed) -> None:
    start = time.time_ns()
    for value in (45.0, 10.0, 46.0, 11.0, 47.0):
        await alarmed.publish(POWER, value)
        await asyncio.sleep(0.002)
    await alarmed.wait_state("Power H", "active_unacked")
    deadline = time.monotonic() + 3
    while len((await alarmed.get("/api/alarms/history")).json()["events"]) < 5:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)

    answer = await alarmed.get("/api/alarms/kpi", start=iso_time(start - 60 * S))

    assert answer.status_code == 200, answer.text
    kpi = answer.json()
    assert kpi["total"] == 3
    assert kpi["chattering"] == ["Power H"]  # 3 activations within 60 s
    assert kpi["top"] == [["Power H", 3]]
    assert kpi["per_10min_max"] == 3
    too_long = await alarmed.get("/api/alarms/kpi", start="2020-01-01T00:00:00Z")
    assert too_long.status_code == 400


async def test_extreme_paging_and_ranges_are_client_errors(alarmed: Alarmed) -> None:
    h = alarmed.acme.auth()
    huge = await alarmed.client.get("/api/alarms/history", params={"before": 2**63}, headers=h)
    assert huge.status_code == 422
    old = {"start": "1677-09-22T00:00:00Z", "end": "1677-09-23T00:00:00Z"}
    ancient = await alarmed.client.get("/api/alarms/kpi", params=old, headers=h)
    assert ancient.status_code in (200, 400), ancient.text


async def test_commands_while_alarms_are_not_running_are_refused(alarmed: Alarmed) -> None:
    alarmed.processor.ready.clear()  # as while restoring at start, or after stopping
    try:
        answer = await alarmed.post("/api/alarms/Power H/ack")
        listing = await alarmed.client.get("/api/alarms", headers=alarmed.acme.auth())
    finally:
        alarmed.processor.ready.set()
    assert answer.status_code == 503 and "try again" in answer.json()["detail"]
    assert listing.status_code == 503
