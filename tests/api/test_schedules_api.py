"""The scheduling API over the real app (SQLite catalog, two tenants): the example plan
solved in the background and read back (KPIs, the rules compared, Gantt bars, dispatch
lists, CSV and JSON), a pin that moves a lot where the planner put it, a breakdown repaired
with the moves reported, an infeasible plan with its reasons, work orders' maintenance
windows kept free — and the client's mistakes answered 4xx naming the field, other tenants'
jobs not found, viewers reading only."""

import asyncio
import csv
import io
from collections.abc import AsyncIterator
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest

from factoryos.api import Services, create_app
from factoryos.apps.scheduling.export import CSV_FIELDS
from factoryos.store.catalog import Role
from support.asgi import asgi_client
from support.plans import example, hard
from support.tenants import Tenant, acme, globex, services

__all__ = ["acme", "globex", "services"]  # fixtures, used by name

URL = "/api/schedules"
CNC1 = "plant1/machining/line1/cell1/cnc-01"  # acme's equipment (tests/support/sites.py)


@pytest.fixture
async def client(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    async with asgi_client(create_app(services)) as c:
        yield c
    services.scheduling.close()


async def _submit(
    client: httpx.AsyncClient, t: Tenant, document: dict[str, Any], **kw: Any
) -> dict[str, Any]:
    body = {"document": document, "time_limit": 2, "workers": 2, **kw}
    r = await client.post(URL, json=body, headers=t.auth(Role.ENGINEER))
    assert r.status_code == 202, r.text
    job: dict[str, Any] = r.json()
    assert job["status"] in ("queued", "running", "done", "infeasible")
    return job


async def _wait(client: httpx.AsyncClient, t: Tenant, job_id: str) -> dict[str, Any]:
    for _ in range(300):
        r = await client.get(f"{URL}/{job_id}", headers=t.auth())
        assert r.status_code == 200, r.text
        job: dict[str, Any] = r.json()
        if job["status"] not in ("queued", "running"):
            return job
        await asyncio.sleep(0.1)
    raise AssertionError(f"job {job_id} still {job['status']} after 30 s")


async def _solved(client: httpx.AsyncClient, t: Tenant) -> dict[str, Any]:
    job = await _wait(client, t, (await _submit(client, t, example(), name="week 49"))["id"])
    assert job["status"] == "done", job
    return job


def _bar(job: dict[str, Any], op: str, lot: int = 0) -> dict[str, Any]:
    (bar,) = [b for b in job["result"]["bars"] if b["op"] == op and b["lot"] == lot]
    return bar


async def test_the_example_is_solved_and_read_back(client: httpx.AsyncClient, acme: Tenant) -> None:
    job = await _solved(client, acme)
    assert (job["name"], job["kind"], job["parent"], job["timezone"]) == (
        "week 49", "solve", None, "Europe/Berlin",
    )  # fmt: skip
    assert job["machines"] == ["saw-1", "cnc-1", "cnc-2", "deburr"]
    assert job["modes"]["SO-1001/1"] == ["cnc-1", "cnc-2"]
    result = job["result"]
    assert result["method"] == "cp-sat" and result["status"] in ("optimal", "feasible")
    kpis = result["kpis"]
    for key in ("makespan_end", "makespan_hours", "weighted_tardiness_hours", "late_orders"):
        assert key in kpis
    assert set(kpis["utilisation"]) == set(job["machines"])
    methods = [m["method"] for m in result["comparison"]]
    assert methods == ["cp-sat", "spt", "lpt", "mwkr", "edd", "fifo"]
    assert [m["method"] for m in result["comparison"] if m["start"]] == [result["best_rule"]]
    best = min(m["objective"] for m in result["comparison"][1:])
    assert result["comparison"][0]["objective"] <= best  # CP-SAT starts from the best rule
    assert job["progress"] and job["progress"][-1]["objective"] == result["objective"][0]
    # every lot of every operation is on the chart, and nothing sits in downtime
    bars = result["bars"]
    assert len(bars) == len(result["schedule"]["machines"]["saw-1"]) + sum(
        len(v) for m, v in result["schedule"]["machines"].items() if m != "saw-1"
    )
    assert {b["order"] for b in bars} == {f"SO-100{i}" for i in range(1, 6)}
    spans = [(d["machine"], d["start"], d["end"]) for d in result["downtime"]]
    assert any(reason["reason"] == "WO-17 spindle bearing" for reason in result["downtime"])
    for b in bars:
        for machine, a, z in spans:
            assert not (b["machine"] == machine and _t(b["start"]) < _t(z) and _t(b["end"]) > _t(a))
        assert _t(b["changeover_start"]) <= _t(b["start"]) <= _t(b["setup_end"]) <= _t(b["end"])

    listed = (await client.get(URL, headers=acme.auth())).json()
    assert [(j["id"], j["status"]) for j in listed] == [(job["id"], "done")]

    lists = await client.get(f"{URL}/{job['id']}/dispatch", headers=acme.auth())
    assert lists.status_code == 200 and list(lists.json()) == job["machines"]
    one = await client.get(
        f"{URL}/{job['id']}/dispatch", params={"machine": "deburr"}, headers=acme.auth()
    )
    rows = one.json()["deburr"]
    assert [r["position"] for r in rows] == list(range(1, len(rows) + 1))
    assert [r["start"] for r in rows] == sorted(r["start"] for r in rows)

    exported = await client.get(f"{URL}/{job['id']}/export.csv", headers=acme.auth())
    assert exported.status_code == 200 and exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(exported.text)))
    assert tuple(exported.text.splitlines()[0].split(",")) == CSV_FIELDS
    assert len(table) == len(bars)
    as_json = (await client.get(f"{URL}/{job['id']}/export.json", headers=acme.auth())).json()
    assert as_json["id"] == job["id"] and as_json["kpis"] == kpis


def _said(r: httpx.Response) -> str:
    """The answer's problems as the page shows them: ``loc.joined: msg``."""
    detail = r.json()["detail"]
    if isinstance(detail, str):
        return detail
    return "; ".join(".".join(map(str, d["loc"])) + ": " + d["msg"] for d in detail)


def _t(iso: str) -> datetime:
    return datetime.fromisoformat(iso)


async def test_a_pin_moves_the_lot_there_and_reports_the_moves(
    client: httpx.AsyncClient, services: Services, acme: Tenant
) -> None:
    job = await _solved(client, acme)
    before = _bar(job, "SO-1003/0")  # housing: cnc-1 or cnc-2
    start = _t(job["origin"]) + timedelta(days=1, hours=4, minutes=30)  # Tuesday 10:30
    body = {"op": "SO-1003/0", "lot": 0, "machine": "cnc-2", "start": start.isoformat()}
    r = await client.post(f"{URL}/{job['id']}/pin", json=body, headers=acme.auth(Role.ENGINEER))
    assert r.status_code == 202, r.text
    pinned = await _wait(client, acme, r.json()["id"])
    assert (pinned["status"], pinned["kind"], pinned["parent"]) == ("done", "pin", job["id"])
    assert "pinned SO-1003/0 lot 0 on cnc-2" in pinned["note"]
    after = _bar(pinned, "SO-1003/0")
    assert (after["machine"], _t(after["start"]), after["pinned"]) == ("cnc-2", start, True)
    (move,) = [m for m in pinned["moves"] if m["op"] == "SO-1003/0"]
    assert (move["before"]["machine"], move["after"]["machine"]) == (before["machine"], "cnc-2")
    assert _t(move["after"]["start"]) == start

    # pinned again on top of the pin: both pins hold
    monday = _t(job["origin"]) + timedelta(hours=1)
    body = {"op": "SO-1002/0", "lot": 0, "machine": "saw-1", "start": monday.isoformat()}
    r = await client.post(f"{URL}/{pinned['id']}/pin", json=body, headers=acme.auth(Role.ENGINEER))
    twice = await _wait(client, acme, r.json()["id"])
    assert twice["status"] == "done", twice
    assert _t(_bar(twice, "SO-1002/0")["start"]) == monday
    assert (_bar(twice, "SO-1003/0")["machine"], _t(_bar(twice, "SO-1003/0")["start"])) == (
        "cnc-2", start,
    )  # fmt: skip

    # a pin into a break has no schedule: the reasons say which pin and what it hits
    body = {"op": "SO-1002/0", "lot": 0, "machine": "saw-1",
            "start": (monday + timedelta(hours=2, minutes=30)).isoformat()}  # fmt: skip
    r = await client.post(f"{URL}/{job['id']}/pin", json=body, headers=acme.auth(Role.ENGINEER))
    stuck = await _wait(client, acme, r.json()["id"])
    assert stuck["status"] == "infeasible"
    assert stuck["reasons"][0].startswith("pinned SO-1002/0 lot 0 on saw-1")
    assert any("overlaps break" in reason for reason in stuck["reasons"])

    # every planner's action is in the audit log, newest first
    audit = services.catalog.audit.entries(services.catalog.tenant_id("acme"))
    assert [(e.action, e.target, e.actor) for e in audit][:4] == [
        ("schedule_pin", stuck["id"], "engineer-key"),
        ("schedule_pin", twice["id"], "engineer-key"),
        ("schedule_pin", pinned["id"], "engineer-key"),
        ("schedule_submit", job["id"], "engineer-key"),
    ]
    assert f'"parent":"{job["id"]}"' in audit[0].detail


async def test_a_breakdown_is_repaired_and_the_moves_reported(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    job = await _solved(client, acme)
    origin = _t(job["origin"])
    down = (origin + timedelta(hours=1), origin + timedelta(hours=8))  # 07:00-14:00 Monday
    params = {"machine": "cnc-2", "start": down[0].isoformat(), "end": down[1].isoformat()}
    r = await client.post(
        f"{URL}/{job['id']}/reschedule",
        json={"kind": "breakdown", "params": params},
        headers=acme.auth(Role.ENGINEER),
    )
    assert r.status_code == 202, r.text
    repaired = await _wait(client, acme, r.json()["id"])
    assert repaired["status"] == "done", repaired
    assert repaired["kind"] == "reschedule" and "breakdown of cnc-2" in repaired["note"]
    assert isinstance(repaired["moves"], list) and repaired["moves"]
    for b in repaired["result"]["bars"]:
        if b["machine"] == "cnc-2":
            assert _t(b["end"]) <= down[0] or _t(b["changeover_start"]) >= down[1], b
    shaded = [d for d in repaired["result"]["downtime"] if d["reason"] == "breakdown"]
    assert [(d["machine"], _t(d["start"]), _t(d["end"])) for d in shaded] == [("cnc-2", *down)]

    late = await client.post(
        f"{URL}/{job['id']}/reschedule",
        json={"kind": "late_material", "params": {"order": "SO-1004",
              "release": (origin + timedelta(days=1)).isoformat()}},
        headers=acme.auth(Role.ENGINEER),
    )  # fmt: skip
    assert late.status_code == 202, late.text
    done = await _wait(client, acme, late.json()["id"])
    assert done["status"] == "done"
    assert all(_t(b["start"]) >= origin + timedelta(days=1)
               for b in done["result"]["bars"] if b["order"] == "SO-1004")  # fmt: skip

    rush = {"id": "SO-2001", "product": "frame", "quantity": 5, "due": "2026-12-01T12:00"}
    r = await client.post(
        f"{URL}/{job['id']}/reschedule",
        json={"kind": "rush_order", "params": {"order": rush}},
        headers=acme.auth(Role.ENGINEER),
    )
    assert r.status_code == 202, r.text
    rushed = await _wait(client, acme, r.json()["id"])
    assert rushed["status"] == "done"
    assert {b["op"] for b in rushed["result"]["bars"] if b["order"] == "SO-2001"} == {
        "SO-2001/0",
        "SO-2001/1",
    }


INFEASIBLE = {
    "start": "2026-11-30T06:00",
    "calendars": {"day": {"shifts": [{"name": "day", "start": "06:00", "end": "14:00"}]}},
    "machines": [{"name": "press", "calendar": "day"}],
    "orders": [
        {"id": "BIG", "product": "slab", "routing": [{"machines": {"press": {"run": 600}}}]}
    ],
}


async def test_an_infeasible_plan_says_why(client: httpx.AsyncClient, acme: Tenant) -> None:
    job = await _wait(client, acme, (await _submit(client, acme, INFEASIBLE))["id"])
    assert job["status"] == "infeasible" and job["result"] is None
    assert any("BIG step 1" in r and "press" in r for r in job["reasons"]), job["reasons"]
    r = await client.get(f"{URL}/{job['id']}/export.csv", headers=acme.auth())
    assert r.status_code == 409 and "no schedule" in r.text


async def test_work_order_windows_are_kept_free(client: httpx.AsyncClient, acme: Tenant) -> None:
    eng = acme.auth(Role.ENGINEER)
    wo = {"equipment": CNC1, "title": "spindle", "due": "2099-01-01T00:00:00Z"}
    order = (await client.post("/api/maintenance/workorders", json=wo, headers=eng)).json()
    window = {"window_start": "2098-12-30T06:00:00Z", "window_end": "2098-12-30T10:00:00Z"}
    r = await client.post(
        f"/api/maintenance/workorders/{order['id']}/assign",
        json={"version": order["version"], "assignee": "maria", **window},
        headers=eng,
    )
    assert r.status_code == 200, r.text
    document = {
        "start": "2098-12-30T00:00:00Z",
        "machines": [{"name": "cnc-1", "equipment": CNC1}],
        "orders": [
            {"id": f"O{i}", "product": "p", "routing": [{"machines": {"cnc-1": {"run": 120}}}]}
            for i in range(4)
        ],
    }
    job = await _wait(client, acme, (await _submit(client, acme, document, work_orders=True))["id"])
    assert job["status"] == "done", job
    (kept,) = job["maintenance"]
    assert kept["machine"] == "cnc-1" and kept["reason"].startswith(order["number"])
    a, z = _t(kept["start"]), _t(kept["end"])
    assert (a.hour, z.hour) == (6, 10)
    for b in job["result"]["bars"]:
        assert _t(b["end"]) <= a or _t(b["start"]) >= z, b
    plain = await _wait(client, acme, (await _submit(client, acme, document))["id"])
    assert plain["maintenance"] == []
    assert any(_t(b["start"]) < z and _t(b["end"]) > a for b in plain["result"]["bars"])


def _broken(**changes: Any) -> dict[str, Any]:
    doc = example()
    for path, value in changes.items():
        where: Any = doc
        *parents, last = path.split("__")
        for p in parents:
            where = where[int(p)] if p.isdigit() else where[p]
        if value is None:
            del where[last]
        else:
            where[int(last) if last.isdigit() else last] = value
    return doc


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"document": _broken(orders__0__product="widget")}, "orders[0].product"),
        ({"document": _broken(start=None)}, "start"),
        ({"document": _broken(machines__1__calendar="night")}, "machines[1].calendar"),
        ({"document": _broken(orders__1__quantity=-3)}, "orders[1].quantity"),
        ({"document": _broken(objective={"terms": {"stability": 1}})}, "stability"),
        ({"document": [1, 2]}, "document"),
        ({"text": "start: 2026-11-30T06:00\nmachines: []\norders: []\n"}, "line 2"),
        ({"text": "start: [unclosed"}, "text"),
        ({"document": example(), "text": "x: 1"}, "document"),
        ({"document": example(), "time_limit": 301}, "time_limit"),
        ({"document": example(), "workers": 0}, "workers"),
    ],
)
async def test_bad_documents_are_422_naming_the_field(
    client: httpx.AsyncClient, acme: Tenant, body: dict[str, Any], says: str
) -> None:
    r = await client.post(URL, json=body, headers=acme.auth(Role.ENGINEER))
    assert r.status_code == 422, r.text
    assert says in _said(r)
    assert (await client.get(URL, headers=acme.auth())).json() == []


AT = "2026-12-01T07:00"
LATER = "2026-12-01T09:00"


@pytest.mark.parametrize(
    ("path", "body", "says"),
    [
        ("pin", {"op": "SO-9/0", "machine": "cnc-1", "start": AT}, "op"),
        ("pin", {"op": "SO-1003/7", "machine": "cnc-1", "start": AT}, "steps"),
        ("pin", {"op": "SO-1002/0", "machine": "cnc-2", "start": AT}, "machine"),
        ("pin", {"op": "SO-1002/0", "lot": 3, "machine": "saw-1", "start": AT}, "lot"),
        ("pin", {"op": "SO-1002/0", "machine": "saw-1", "start": "2026-11-01T07:00"}, "start"),
        ("pin", {"op": "SO-1002/0", "machine": "saw-1", "start": "soon"}, "start"),
        (
            "pin",
            {"op": "SO-1003/0", "machine": "cnc-1", "start": AT.replace("12-01", "11-30")},
            "release",
        ),
        ("reschedule", {"kind": "flood", "params": {}}, "kind"),
        (
            "reschedule",
            {"kind": "breakdown", "params": {"machine": "lathe", "start": AT, "end": LATER}},
            "params.machine",
        ),
        ("reschedule", {"kind": "breakdown", "params": {"machine": "saw-1"}}, "params.start"),
        (
            "reschedule",
            {"kind": "breakdown", "params": {"machine": "saw-1", "start": LATER, "end": AT}},
            "params.end",
        ),
        (
            "reschedule",
            {"kind": "late_material", "params": {"order": "SO-9", "release": LATER}},
            "params.order",
        ),
        (
            "reschedule",
            {"kind": "rush_order", "params": {"order": {"id": "R1", "product": "gizmo"}}},
            "params.order.product",
        ),
        (
            "reschedule",
            {"kind": "rush_order", "params": {"order": {"id": "SO-1001", "product": "frame"}}},
            "params.order",
        ),
    ],
)
async def test_bad_pins_and_disruptions_are_422_naming_the_field(
    client: httpx.AsyncClient, acme: Tenant, path: str, body: dict[str, Any], says: str
) -> None:
    job = await _solved(client, acme)
    r = await client.post(f"{URL}/{job['id']}/{path}", json=body, headers=acme.auth(Role.ENGINEER))
    assert r.status_code == 422, r.text
    assert says in _said(r)
    assert len((await client.get(URL, headers=acme.auth())).json()) == 1  # no new job


async def test_unknown_jobs_other_tenants_and_roles(
    client: httpx.AsyncClient, acme: Tenant, globex: Tenant
) -> None:
    job = await _solved(client, acme)
    for url in ("", "/export.csv", "/export.json", "/dispatch"):
        assert (await client.get(f"{URL}/nope{url}", headers=acme.auth())).status_code == 404
        r = await client.get(f"{URL}/{job['id']}{url}", headers=globex.auth())
        assert r.status_code == 404, (url, r.text)
    pin = {"op": "SO-1002/0", "machine": "saw-1", "start": "2026-12-01T07:00"}
    for path, body in (("pin", pin), ("reschedule", {"kind": "late_material"}), ("cancel", None)):
        r = await client.post(
            f"{URL}/{job['id']}/{path}", json=body, headers=globex.auth(Role.ENGINEER)
        )
        assert r.status_code in (404, 422) and "globex" not in r.text, (path, r.text)
        if body is not None and path == "pin":
            assert r.status_code == 404
    assert (await client.get(URL, headers=globex.auth())).json() == []
    at = f"{URL}/{job['id']}/dispatch"
    r = await client.get(at, params={"machine": "x"}, headers=acme.auth())
    assert r.status_code == 400 and "machine" in r.text

    for role in (Role.VIEWER, Role.OPERATOR):
        r = await client.post(URL, json={"document": example()}, headers=acme.auth(role))
        assert r.status_code == 403, r.text
        r = await client.post(f"{URL}/{job['id']}/pin", json=pin, headers=acme.auth(role))
        assert r.status_code == 403
        r = await client.post(f"{URL}/{job['id']}/cancel", headers=acme.auth(role))
        assert r.status_code == 403
    assert (await client.get(f"{URL}/{job['id']}", headers=acme.auth(Role.VIEWER))).is_success


async def test_cancel_and_the_queue(client: httpx.AsyncClient, acme: Tenant) -> None:
    slow = {"document": hard(), "time_limit": 20, "workers": 1}
    eng = acme.auth(Role.ENGINEER)
    ids = [(await client.post(URL, json=slow, headers=eng)).json()["id"] for _ in range(3)]
    third = (await client.get(f"{URL}/{ids[2]}", headers=eng)).json()
    assert third["status"] == "queued"  # two solves at once
    r = await client.post(f"{URL}/{ids[2]}/cancel", headers=eng)
    assert r.status_code == 200 and r.json()["status"] == "cancelled"
    r = await client.post(f"{URL}/{ids[2]}/pin", json={"op": "J0/0", "machine": "m0",
                          "start": "2026-01-01T07:00:00Z"}, headers=eng)  # fmt: skip
    assert r.status_code == 409 and "no schedule" in r.text
    running = await client.get(f"{URL}/{ids[0]}", headers=eng)
    assert running.json()["status"] in ("queued", "running")
    for job_id in ids[:2]:
        assert (await client.post(f"{URL}/{job_id}/cancel", headers=eng)).json()["cancelled"]
    for job_id in ids[:2]:
        done = await _wait(client, acme, job_id)
        assert (done["status"], done["cancelled"]) == ("done", True)
        taken = _t(done["finished"]) - _t(done["created"])
        assert taken < timedelta(seconds=15)  # stopped at once, with its best so far
        assert done["result"]["bars"]  # CP-SAT's best, or the rule's start if it had none
