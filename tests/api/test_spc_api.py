"""The SPC API over the real app (catalog on SQLite, DuckDB store, two tenants): the
characteristics, a chart of tag samples with its violations, capability with intervals,
inspection results posted by operators raising alarms at once, acknowledgement, roles,
tenant scoping, the audit log, and bad input answered 4xx naming the field (never 5xx).

SPC is configured for acme's plant only: globex sees none of it.
"""

import json
import math
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx
import numpy as np
import pytest
from fastapi import FastAPI

from factoryos.api import Services, create_app
from factoryos.apps.trace.spc.config import SpcSection
from factoryos.apps.trace.spc.service import SpcService
from factoryos.model.samples import SampleBatch
from factoryos.store.alarm_log import AlarmLog
from factoryos.store.catalog import Role
from support.sites import TEMP
from support.tenants import Tenant, acme, globex, services

__all__ = ["acme", "globex", "services"]  # fixtures, used by name

S = 1_000_000_000
T0 = 1_714_564_800 * S  # 2024-05-01T12:00:00Z
RANGE = {"start": "2024-05-01T12:00:00.000Z", "end": "2024-05-01T13:00:00Z"}
CNC1 = "plant1/machining/line1/cell1/cnc-01"
CNC2 = "plant1/machining/line1/cell1/cnc-02"
URL = "/api/spc"
SPC = {
    "characteristics": {
        "temp": {
            "description": "CNC-02 temperature",
            "equipment": CNC2,
            "source": {"tag": "temp_c"},
            "chart": "xbar_r",
            "subgroup": {"size": 5},
            "spec": {"lsl": 45, "usl": 55, "target": 50, "unit": "degC"},
        },
        "defects": {
            "equipment": CNC1,
            "source": "inspection",
            "chart": "p",
            "limits": {"p": 0.02},
            "lot": "inspection",
            "priority": "high",
        },
        "bore": {"equipment": CNC1, "source": "inspection", "chart": "xbar_s",
                 "subgroup": {"size": 3}, "rules": {"set": "nelson", "tests": [1, 2]}},
    }
}  # fmt: skip
TEMPS = 50 + np.random.default_rng(3).normal(0, 1, 200)
TEMPS[100:105] += 8  # subgroup 20 far above the others


@pytest.fixture
def app(services: Services, acme: Tenant, globex: Tenant) -> FastAPI:
    ids = np.full(TEMPS.size, acme.ids[TEMP])
    services.store.write(SampleBatch.build(ids, T0 + np.arange(TEMPS.size) * S, TEMPS))
    spc = SpcService(
        SpcSection.model_validate(SPC), services.catalog, services.store, acme.ids, "acme"
    )
    return create_app(replace(services, spc=spc))


async def _get(client: httpx.AsyncClient, path: str, t: Tenant, **params: Any) -> Any:
    r = await client.get(f"{URL}{path}", params=params, headers=t.auth(Role.VIEWER))
    assert r.status_code == 200, r.text
    return r.json()


async def _post(client: httpx.AsyncClient, name: str, t: Tenant, body: dict[str, Any]) -> Any:
    r = await client.post(
        f"{URL}/characteristics/{name}/inspections", json=body, headers=t.auth(Role.OPERATOR)
    )
    assert r.status_code == 201, r.text
    return r.json()


async def test_characteristics_describe_the_configuration(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    found = {c["name"]: c for c in await _get(client, "/characteristics", acme)}
    assert list(found) == ["temp", "defects", "bore"]
    temp = found["temp"]
    assert (temp["source"], temp["tag"], temp["chart"], temp["subgroup_size"]) == (
        "tag", f"{CNC2}/temp_c", "xbar_r", 5,
    )  # fmt: skip
    assert temp["spec"] == {"lsl": 45.0, "usl": 55.0, "target": 50.0, "unit": "degC"}
    assert temp["limits"]["source"] == "trial" and temp["rule_set"] == "western_electric"
    assert [r["code"] for r in temp["rules"]] == ["WE1", "WE2", "WE3", "WE4"]
    assert found["defects"]["limits"] == {
        "source": "entered", "baseline_start": None, "baseline_end": None,
        "mean": None, "sigma": None, "p": 0.02, "c": None, "u": None,
    }  # fmt: skip
    assert (found["defects"]["lot"], found["defects"]["priority"]) == ("inspection", "high")
    assert [r["code"] for r in found["bore"]["rules"]] == ["N1", "N2"]
    assert all(c["active_alarms"] == 0 for c in found.values())


async def test_the_chart_of_a_tag_with_its_violations(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    chart = await _get(client, "/characteristics/temp/chart", acme, **RANGE)

    location, spread = chart["location"], chart["spread"]
    assert chart["problem"] is None and chart["phase"] == "phase I"
    assert (location["kind"], spread["kind"], chart["unit"]) == ("xbar", "r", "degC")
    assert len(location["time"]) == len(location["value"]) == len(location["ucl"]) == 40
    assert len(spread["value"]) == 40 and len(chart["lots"]) == 40
    assert location["time"][0] == "2024-05-01T12:00:04.000Z"
    assert location["value"][20] == pytest.approx(float(TEMPS[100:105].mean()))
    assert location["center"][0] == pytest.approx(float(TEMPS.mean()))
    out = [v for v in chart["violations"] if v["rule"] == "WE1" and v["role"] == "location"]
    assert [(v["index"], v["time"], v["chart"]) for v in out] == [
        (20, "2024-05-01T12:01:44.000Z", "xbar")
    ]
    assert out[0]["description"] == "one point beyond 3σ"
    assert (out[0]["equipment"], out[0]["lot"]) == (CNC2, None)
    assert chart["truncated_at"] is None


async def test_capability_with_intervals_and_histogram(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    cap = await _get(client, "/characteristics/temp/capability", acme, confidence=0.9, **RANGE)

    assert cap["n"] == 200 and cap["confidence"] == 0.9
    assert cap["within_method"] == "R̄/d2"
    for name in ("cp", "cpk", "pp", "ppk"):
        assert cap[name]["low"] < cap[name]["value"] < cap[name]["high"], name
    assert cap["pp"]["value"] == pytest.approx(10 / (6 * float(TEMPS.std(ddof=1))))
    assert sum(cap["histogram"]["counts"]) == 200
    assert len(cap["histogram"]["edges"]) == len(cap["histogram"]["counts"]) + 1
    assert cap["out_of_control"] >= 1 and "in control" in cap["notes"][0]

    r = await client.get(
        f"{URL}/characteristics/defects/capability", headers=acme.auth(Role.VIEWER)
    )
    assert r.status_code == 409 and "variables chart" in r.json()["detail"]


async def test_posted_results_chart_and_alarm_with_their_lot(
    client: httpx.AsyncClient, services: Services, acme: Tenant
) -> None:
    for i in range(5):
        posted = await _post(
            client, "defects", acme,
            {"time": f"2024-05-01T12:0{i}:00Z", "lot": f"L{i}", "defectives": 2,
             "sample_size": 100},
        )  # fmt: skip
        assert posted["alarms"] == []
    posted = await _post(
        client, "defects", acme,
        {"time": "2024-05-01T12:06:00.000Z", "lot": "L6", "defectives": 30, "sample_size": 100,
         "equipment": CNC2, "comment": "short shots"},
    )  # fmt: skip

    result = posted["result"]
    assert (result["lot"], result["count"], result["equipment"]) == ("L6", 30, CNC2)
    assert result["inspector"] == "operator-key" and result["comment"] == "short shots"
    (alarm,) = posted["alarms"]
    assert (alarm["rule"], alarm["time"], alarm["lot"], alarm["equipment"]) == (
        "WE1", "2024-05-01T12:06:00.000Z", "L6", CNC2,
    )  # fmt: skip
    assert (alarm["state"], alarm["value"]) == ("active", 0.3)

    chart = await _get(client, "/characteristics/defects/chart", acme, **RANGE)
    assert chart["location"]["value"] == [0.02] * 5 + [0.3]
    assert chart["phase"] == "phase II" and chart["lots"] == ["L0", "L1", "L2", "L3", "L4", "L6"]
    assert chart["location"]["center"] == [0.02] * 6 and chart["spread"] is None

    tenant = services.catalog.tenant_id("acme")
    assert tenant is not None
    (activation,) = [
        r for r in AlarmLog(services.catalog).query(tenant).records if r.kind == "activated"
    ]
    assert activation.alarm == "spc:defects"
    assert activation.priority == 3 and "lot L6" in (activation.comment or "")
    assert services.catalog.audit.entries(tenant)[0].action == "spc_inspection"


async def test_acknowledging_an_alarm(
    client: httpx.AsyncClient, services: Services, acme: Tenant, globex: Tenant
) -> None:
    body = {"time": "2024-05-01T12:00:00.000Z", "lot": "L1", "defectives": 40, "sample_size": 100}
    (alarm,) = (await _post(client, "defects", acme, body))["alarms"]
    at = f"{URL}/alarms/{alarm['id']}/ack"

    assert (await client.post(at, headers=acme.auth(Role.VIEWER))).status_code == 403
    assert (await client.post(at, headers=globex.auth(Role.OPERATOR))).status_code == 404
    r = await client.post(at, json={"comment": "mould vent cleaned"},
                          headers=acme.auth(Role.OPERATOR))  # fmt: skip
    assert r.status_code == 200, r.text
    acked = r.json()
    assert (acked["state"], acked["acked_by"], acked["comment"]) == (
        "acknowledged", "operator-key", "mould vent cleaned",
    )  # fmt: skip
    again = await client.post(at, headers=acme.auth(Role.OPERATOR))
    assert again.status_code == 409 and "acknowledged already" in again.json()["detail"]
    missing = await client.post(f"{URL}/alarms/999999/ack", headers=acme.auth(Role.OPERATOR))
    assert missing.status_code == 404

    listed = await _get(client, "/alarms", acme, state="acknowledged")
    assert [a["id"] for a in listed["alarms"]] == [alarm["id"]]
    assert (await _get(client, "/alarms", acme, state="active"))["alarms"] == []
    tenant = services.catalog.tenant_id("acme")
    assert services.catalog.audit.entries(tenant)[0].action == "spc_alarm_acknowledge"


async def test_alarms_list_filters_and_pages(client: httpx.AsyncClient, acme: Tenant) -> None:
    for minute in range(3):
        body = {"time": f"2024-05-01T12:0{minute}:00Z", "defectives": 40, "sample_size": 100}
        await _post(client, "defects", acme, body)
    first = await _get(client, "/alarms", acme, characteristic="defects", limit=2)
    rest = await _get(client, "/alarms", acme, before=first["next_before"])
    every = first["alarms"] + rest["alarms"]
    ids = [a["id"] for a in every]
    assert len(first["alarms"]) == 2 and ids == sorted(ids, reverse=True)
    assert rest["next_before"] is None
    # Every point is beyond 3σ; from the second on, two of three are beyond 2σ as well.
    assert sorted((a["time"][14:16], a["rule"]) for a in every) == [
        ("00", "WE1"), ("01", "WE1"), ("01", "WE2"), ("02", "WE1"), ("02", "WE2"),
    ]  # fmt: skip
    assert (await _get(client, "/alarms", acme, characteristic="temp"))["alarms"] == []
    found = {c["name"]: c for c in await _get(client, "/characteristics", acme)}
    assert found["defects"]["active_alarms"] == 5


async def test_roles_and_tenants(client: httpx.AsyncClient, acme: Tenant, globex: Tenant) -> None:
    body = {"values": [1.0, 2.0, 3.0]}
    url = f"{URL}/characteristics/bore/inspections"
    assert (await client.post(url, json=body, headers=acme.auth(Role.VIEWER))).status_code == 403
    for path in ("/characteristics", "/alarms", "/characteristics/temp/chart"):
        r = await client.get(f"{URL}{path}", headers=globex.auth(Role.ADMIN))
        assert r.status_code == 404 and "no SPC configured" in r.json()["detail"]
    assert (await client.get(f"{URL}/characteristics")).status_code == 401
    r = await client.get(f"{URL}/characteristics/nope/chart", headers=acme.auth(Role.VIEWER))
    assert r.status_code == 404 and "nope" in r.json()["detail"]


@pytest.mark.parametrize(
    ("name", "body", "field"),
    [
        ("bore", {"values": [1.0, 2.0]}, "values"),
        ("bore", {"values": [1.0, 2.0, 3.0], "defects": 1}, "defects"),
        ("bore", {"values": [1.0, 2.0, math.nan]}, "values"),
        ("bore", {"values": [1.0, 2.0, 3.0], "time": "yesterday"}, "time"),
        ("bore", {"values": [1.0, 2.0, 3.0], "time": "2999-01-01T00:00:00Z"}, "time"),
        ("bore", {"values": [1.0, 2.0, 3.0], "colour": "red"}, "colour"),
        ("bore", {"values": [1.0, 2.0, 3.0], "equipment": "plant1/nowhere"}, "equipment"),
        ("defects", {"defectives": 3}, "sample_size"),
        ("defects", {"defectives": -1, "sample_size": 10}, "defectives"),
        ("defects", {"defectives": 11, "sample_size": 10}, "defectives"),
        ("temp", {"values": [1.0] * 5}, "characteristic"),
    ],
)
async def test_bad_results_are_refused_naming_the_field(
    client: httpx.AsyncClient, acme: Tenant, name: str, body: dict[str, Any], field: str
) -> None:
    r = await client.post(
        f"{URL}/characteristics/{name}/inspections",
        content=json.dumps(body).encode(),  # NaN as the non-standard literal clients send
        headers={**acme.auth(Role.OPERATOR), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert field in [str(part) for e in r.json()["detail"] for part in e["loc"]]
    chart = await _get(client, f"/characteristics/{name}/chart", acme, **RANGE)
    if name != "temp":
        assert chart["location"] is None and chart["problem"] == "no data in the range"


@pytest.mark.parametrize(
    ("params", "name"),
    [
        ({"start": "2024-05-01", "end": "2024-05-02T00:00:00Z"}, "start"),
        ({"start": "2024-05-01T12:00:00.000Z", "end": "2024-05-01T11:00:00Z"}, "end"),
        ({"start": "2024-01-01T00:00:00Z", "end": "2024-03-01T00:00:00Z"}, "end"),
    ],
)
async def test_bad_ranges_name_the_parameter(
    client: httpx.AsyncClient, acme: Tenant, params: dict[str, str], name: str
) -> None:
    for what in ("chart", "capability"):
        r = await client.get(
            f"{URL}/characteristics/temp/{what}", params=params, headers=acme.auth(Role.VIEWER)
        )
        assert r.status_code == 400 and r.json()["detail"].startswith(f"{name}:"), r.text


HOSTILE = ("' OR 1=1 --", "%", "_", "\\", "a\x00b", "x" * 8_000, "工厂/🏭\u202e")


async def test_hostile_strings_get_4xx_or_are_kept_as_data(
    client: httpx.AsyncClient, acme: Tenant
) -> None:
    op = acme.auth(Role.OPERATOR)
    for payload in HOSTILE:
        for url, params in (
            (f"{URL}/characteristics/{quote(payload, safe='')}/chart", RANGE),
            (f"{URL}/characteristics/temp/chart", {"start": payload}),
            (f"{URL}/alarms", {"characteristic": payload}),
        ):
            r = await client.get(url, params=params, headers=op)
            assert 400 <= r.status_code < 500 or r.json().get("alarms") == [], (url, r.text)
        for field in ("lot", "comment", "equipment", "time"):
            body = {"values": [1.0, 2.0, 3.0], "time": "2024-05-01T12:00:00.000Z", field: payload}
            r = await client.post(f"{URL}/characteristics/bore/inspections", json=body, headers=op)
            assert r.status_code < 500, (field, payload[:20], r.text)
            if r.status_code == 201:
                assert r.json()["result"][field] == payload  # kept verbatim, never run
