"""The work-order API over the real app (catalog on SQLite, two tenants): the life cycle
through HTTP with roles, optimistic concurrency, the audit log, the windows scheduling
reads, and bad input answered 4xx naming the field, changing nothing.

The configured service is the one of ``Services.maintenance`` (its ``maintenance.work_orders``
settings).
"""

import dataclasses
from typing import Any

import httpx
import pytest

from factoryos.api import Services, create_app
from factoryos.apps.maintenance.config import MaintenanceSection
from factoryos.apps.maintenance.orders import OrdersConfig
from factoryos.apps.maintenance.service import MaintenanceApp
from factoryos.store.catalog import Role
from support.asgi import asgi_client
from support.tenants import Tenant, acme, globex, services

__all__ = ["acme", "globex", "services"]  # fixtures, used by name

CNC1 = "plant1/machining/line1/cell1/cnc-01"
CNC2 = "plant1/machining/line1/cell1/cnc-02"
URL = "/api/maintenance/workorders"
DUE = "2099-01-01T00:00:00.000Z"  # as answers write it
W_START, W_END = "2098-12-30T06:00:00.000Z", "2098-12-30T10:00:00.000Z"


async def _open(client: httpx.AsyncClient, t: Tenant, **kw: Any) -> dict[str, Any]:
    body = {"equipment": CNC1, "title": "replace coolant filter", "due": DUE, **kw}
    r = await client.post(URL, json=body, headers=t.auth(Role.ENGINEER))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


async def test_the_life_cycle_through_the_api_is_logged_and_audited(
    client: httpx.AsyncClient, services: Services, acme: Tenant
) -> None:
    o = await _open(client, acme, suggested_action="swap filter F2", evidence="pressure drop")
    assert (o["status"], o["version"], o["source"], o["number"]) == (
        "open", 1, "manual", f"WO-{o['id']:06d}",
    )  # fmt: skip
    assert (o["due"], o["overdue"], o["evidence_count"]) == (DUE, False, 1)

    eng, op = acme.auth(Role.ENGINEER), acme.auth(Role.OPERATOR)
    at = f"{URL}/{o['id']}"
    body = {"version": 1, "assignee": "maria", "window_start": W_START, "window_end": W_END}
    r = await client.post(f"{at}/assign", json=body, headers=eng)
    assert r.status_code == 200, r.text
    assert r.json()["window"] == {"start": W_START, "end": W_END}
    r = await client.post(f"{at}/start", json={"version": 2, "comment": "on site"}, headers=op)
    assert r.status_code == 200, r.text
    close = {"version": 3, "failure_code": "BRD", "cause": "clogged filter"}
    r = await client.post(f"{at}/close", json=close, headers=eng)
    assert r.status_code == 200, r.text
    assert (r.json()["status"], r.json()["failure_code"], r.json()["version"]) == (
        "closed", "BRD", 4,
    )  # fmt: skip

    detail = (await client.get(at, headers=acme.auth())).json()
    assert [(t["action"], t["user"]) for t in detail["log"]] == [
        ("open", "engineer-key"),
        ("assign", "engineer-key"),
        ("start", "operator-key"),
        ("close", "engineer-key"),
    ]
    assert detail["evidence"][0]["summary"] == "pressure drop"
    tenant_id = services.catalog.tenant_id("acme")
    audit = services.catalog.audit.entries(tenant_id)
    assert [(e.action, e.target) for e in audit][:4] == [
        (f"work_order_{a}", o["number"]) for a in ("close", "start", "assign", "open")
    ]
    assert '"failure_code":"BRD"' in audit[0].detail


async def test_roles_viewer_reads_operator_starts_engineer_plans(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    o = await _open(client, acme)
    at = f"{URL}/{o['id']}"
    assert (await client.get(URL, headers=acme.auth())).status_code == 200
    body = {"equipment": CNC1, "title": "x", "due": DUE}
    assert (await client.post(URL, json=body, headers=acme.auth(Role.OPERATOR))).status_code == 403
    assign = {"version": 1, "assignee": "m"}
    r = await client.post(f"{at}/assign", json=assign, headers=acme.auth(Role.OPERATOR))
    assert r.status_code == 403 and "engineer" in r.json()["detail"]
    await client.post(f"{at}/assign", json=assign, headers=acme.auth(Role.ENGINEER))
    r = await client.post(f"{at}/start", json={"version": 2}, headers=acme.auth(Role.VIEWER))
    assert r.status_code == 403
    r = await client.post(f"{at}/start", json={"version": 2}, headers=acme.auth(Role.OPERATOR))
    assert r.status_code == 200
    cancel = {"version": 3, "reason": "x"}
    r = await client.post(f"{at}/cancel", json=cancel, headers=acme.auth(Role.OPERATOR))
    assert r.status_code == 403
    assert (await client.get(at, headers=acme.auth())).json()["status"] == "in_progress"


async def test_a_stale_version_is_409_and_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    o = await _open(client, acme)
    at, eng = f"{URL}/{o['id']}", acme.auth(Role.ENGINEER)
    first = await client.post(f"{at}/assign", json={"version": 1, "assignee": "maria"}, headers=eng)
    assert first.status_code == 200
    second = await client.post(f"{at}/assign", json={"version": 1, "assignee": "jon"}, headers=eng)
    assert second.status_code == 409
    assert second.json()["detail"].startswith("version: work order")
    now = (await client.get(at, headers=acme.auth())).json()
    assert (now["assignee"], now["version"], len(now["log"])) == ("maria", 2, 2)


async def test_tenants_never_reach_each_others_orders(
    client: httpx.AsyncClient, acme: Tenant, globex: Tenant
) -> None:
    o = await _open(client, acme)
    at = f"{URL}/{o['id']}"
    assert (await client.get(at, headers=globex.auth())).status_code == 404
    r = await client.post(
        f"{at}/cancel", json={"version": 1, "reason": "x"}, headers=globex.auth(Role.ADMIN)
    )
    assert r.status_code == 404
    assert (await client.get(URL, headers=globex.auth())).json()["orders"] == []
    assert (await client.get(at, headers=acme.auth())).json()["status"] == "open"


async def test_list_filters_and_pages(client: httpx.AsyncClient, acme: Tenant) -> None:
    ids = [(await _open(client, acme, equipment=eq))["id"] for eq in (CNC1, CNC2, CNC1, CNC2, CNC1)]
    await client.post(
        f"{URL}/{ids[0]}/cancel", json={"version": 1, "reason": "dup"},
        headers=acme.auth(Role.ENGINEER),
    )  # fmt: skip

    async def listed(**params: Any) -> dict[str, Any]:
        r = await client.get(URL, params=params, headers=acme.auth())
        assert r.status_code == 200, r.text
        out: dict[str, Any] = r.json()
        return out

    page = await listed(limit=2)
    assert [o["id"] for o in page["orders"]] == [ids[4], ids[3]]
    page = await listed(limit=2, before=page["next_before"])
    assert [o["id"] for o in page["orders"]] == [ids[2], ids[1]]
    cnc1_open = await listed(equipment=CNC1, status="open")
    assert [o["id"] for o in cnc1_open["orders"]] == [ids[4], ids[2]]
    both = await listed(status=["open", "cancelled"], source="manual", equipment=CNC1)
    assert len(both["orders"]) == 3


async def test_scheduling_reads_the_windows(client: httpx.AsyncClient, acme: Tenant) -> None:
    o = await _open(client, acme)
    body = {"version": 1, "assignee": "m", "window_start": W_START, "window_end": W_END}
    await client.post(f"{URL}/{o['id']}/assign", json=body, headers=acme.auth(Role.ENGINEER))
    await _open(client, acme, equipment=CNC2)  # no window: nothing to keep free

    params = {"start": "2098-12-29T00:00:00Z", "end": "2099-01-05T00:00:00Z"}
    r = await client.get("/api/maintenance/windows", params=params, headers=acme.auth())
    assert r.status_code == 200, r.text
    assert r.json() == [
        {
            "equipment": CNC1, "start": W_START, "end": W_END, "order_id": o["id"],
            "number": o["number"], "status": "assigned", "title": "replace coolant filter",
        }
    ]  # fmt: skip
    r = await client.get(
        "/api/maintenance/windows", params={**params, "equipment": CNC2}, headers=acme.auth()
    )
    assert r.json() == []
    r = await client.get(
        "/api/maintenance/windows", params={"start": params["end"], "end": params["start"]},
        headers=acme.auth(),
    )  # fmt: skip
    assert r.status_code == 400 and r.json()["detail"].startswith("end: must be after start")


@pytest.mark.parametrize(
    ("path", "body", "status", "names"),
    [
        ("", {"equipment": CNC1, "title": "t", "due": "tomorrow"}, 422,
         '"due"],"msg":"Value error, not an ISO'),
        ("", {"equipment": CNC1, "title": "t", "due": "2001-01-01T00:00:00Z"}, 422, "due: is in"),
        ("", {"equipment": "plant1/none", "title": "t", "due": DUE}, 400, "equipment: no equip"),
        ("", {"equipment": CNC1, "title": "", "due": DUE}, 422, "title"),
        ("", {"equipment": CNC1, "title": "t", "due": DUE, "x": 1}, 422, "x"),
        ("/{id}/assign", {"version": 1, "assignee": "m", "window_start": W_END,
                          "window_end": W_START}, 422, "window_end: must be after"),
        ("/{id}/assign", {"version": 1, "assignee": "m", "window_start": W_START}, 422,
         "window_end: give"),
        ("/{id}/assign", {"version": 1, "assignee": "   "}, 400, "assignee"),
        ("/{id}/start", {"version": 1}, 409, "cannot start when open"),
        ("/{id}/close", {"version": 1, "failure_code": "BRD", "cause": "c"}, 409,
         "cannot close when open"),
        ("/{id}/cancel", {"version": 0, "reason": "r"}, 422, "version"),
        ("/{id}/cancel", {"version": 7, "reason": "r"}, 409, "version: work order"),
        ("/999999/cancel", {"version": 1, "reason": "r"}, 404, "no work order 999999"),
        ("/99999999999999999999/start", {"version": 1}, 422, "order_id"),
    ],
)  # fmt: skip
async def test_bad_input_is_refused_naming_the_field_and_changes_nothing(
    client: httpx.AsyncClient,
    services: Services,
    acme: Tenant,
    path: str,
    body: dict[str, Any],
    status: int,
    names: str,
) -> None:
    o = await _open(client, acme)
    before = (await client.get(URL, headers=acme.auth())).json()
    audited = len(services.catalog.audit.entries(limit=1000))

    r = await client.post(
        URL + path.format(id=o["id"]), json=body, headers=acme.auth(Role.ENGINEER)
    )

    assert r.status_code == status, r.text
    assert names in r.text
    assert (await client.get(URL, headers=acme.auth())).json() == before
    assert len(services.catalog.audit.entries(limit=1000)) == audited


async def test_an_unknown_failure_code_names_the_configured_catalog(
    services: Services, acme: Tenant
) -> None:
    config = OrdersConfig(failure_codes={"SPB": "spindle bearing", "TLW": "tool wear"})
    app = MaintenanceApp(
        MaintenanceSection(work_orders=config),
        services.catalog, services.store, services.bus, {}, "acme",
    )  # fmt: skip
    wired = dataclasses.replace(services, maintenance=app)
    async with asgi_client(create_app(wired)) as client:
        codes = await client.get("/api/maintenance/failure-codes", headers=acme.auth())
        assert codes.json() == [
            {"code": "SPB", "text": "spindle bearing"},
            {"code": "TLW", "text": "tool wear"},
        ]
        o = await _open(client, acme)
        at, eng = f"{URL}/{o['id']}", acme.auth(Role.ENGINEER)
        await client.post(f"{at}/assign", json={"version": 1, "assignee": "m"}, headers=eng)
        await client.post(f"{at}/start", json={"version": 2}, headers=eng)
        bad = {"version": 3, "failure_code": "BRD", "cause": "c"}
        r = await client.post(f"{at}/close", json=bad, headers=eng)
        assert r.status_code == 400
        assert r.json()["detail"] == "failure_code: 'BRD' is not in the catalog (SPB, TLW)"
        good = {**bad, "failure_code": "SPB"}
        assert (await client.post(f"{at}/close", json=good, headers=eng)).status_code == 200
