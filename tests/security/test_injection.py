"""SQL injection and hostile strings in every query and path parameter of every operation
(walked from the OpenAPI description) and in every string field of the JSON bodies, sent
by acme's admin, with the catalog on SQLite and on the real PostgreSQL.

Every answer: no 5xx; nothing of globex (its tag, its value); a hostile tag path matches
nothing. Afterwards both tenants' catalog and store answer exactly as before, and the key
names stored through the API come back verbatim (kept as data, never run as SQL).
"""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi import FastAPI

from factoryos.api import Services
from factoryos.api.ratelimit import FailureLimiter
from factoryos.store.catalog import Role, TagInfo
from store.test_migrations import pg_url
from support.sites import POWER, site_yaml
from support.tally import Tally
from support.tenants import (
    SECRET_TAG,
    SECRET_VALUE,
    Tenant,
    acme,
    app,
    client,
    globex,
    open_services,
    plant_secret,
)

__all__ = ["acme", "app", "client", "globex", "pg_url"]  # fixtures, used by name

PAYLOADS = (
    "' OR 1=1 --",
    "' OR '1'='1",
    '"; DROP TABLE tags; --',
    "'; DROP TABLE api_keys; --",
    "%' UNION SELECT key_hash, name, 1, 1 FROM api_keys --",
    "1; SELECT pg_sleep(0) --",
    "%",
    "_",
    "\\",
    "a\x00b",
    "x" * 8_000,
    "工厂/ﾀｸﾞ/🏭\u202e\ufeff\u0301",
)
"""Quotes that close a literal, stacked statements, UNION, LIKE wildcards, an escape, a NUL
byte, a very long string and unicode (wide, half-width, emoji, RTL override, BOM, a lone
combining mark)."""

RANGE = {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T13:00:00Z"}
GOOD = {
    "tag": POWER,
    "path": POWER,
    "key_id": "999999",
    "user_id": "999999",
    "name": "no-such-alarm",
    "order_id": "999999",
    "version": "1",
    "job_id": "0123456789abcdef",
    "handle": "88.123/none",
    "event_id": "urn:uuid:00000000-0000-4000-8000-000000000000",
    "id": "urn:epc:id:sgtin:0614141.107346.2017",
    "alarm_id": "999999",
    "period": "2025-01",
    "line": "housings",
    "lot": "urn:epc:class:lgtin:4012345.012345.H1-A",
}
"""A valid value for each required parameter, so the hostile one reaches the query (ids
that exist nowhere: a walk must not revoke the key it calls with)."""
GOOD_BODIES: dict[str, Any] = {
    "POST /api/auth/login": {"username": "alice", "password": "a long enough password"},
    "POST /api/auth/refresh": {"refresh_token": "fos_not_a_token"},
    "POST /api/auth/logout": {"refresh_token": "fos_not_a_token"},
    "POST /api/auth/password": {"current_password": "old", "new_password": "a long new password"},
    "POST /api/users": {"username": "bob", "password": "a long enough password"},
    "PATCH /api/users/{user_id}": {"role": "viewer"},
    "POST /api/tenants": {"name": "t", "admin_username": "a", "admin_password": "x" * 12},
    "POST /api/keys": {"name": "k", "role": "viewer"},
    "POST /api/sites": site_yaml("acme"),
    "POST /api/tags/{path}/write": {"value": 1.0},
    "POST /api/alarms/{name}/ack": {"comment": "seen"},
    "POST /api/alarms/{name}/shelve": {"reason": "maintenance", "duration_s": 60},
    "POST /api/alarms/{name}/unshelve": {"comment": "done"},
    "POST /api/alarms/{name}/out-of-service": {"reason": "sensor swap"},
    "POST /api/alarms/{name}/return-to-service": {"comment": "back"},
    "POST /api/oee/reasons": {
        "equipment": POWER,
        "stop_start": "2024-05-01T12:00:00Z",
        "code": 1,
        "comment": "belt",
    },
    "POST /api/maintenance/workorders": {
        "equipment": "plant1/machining/line1/cell1/cnc-01",
        "title": "replace filter",
        "suggested_action": "swap it",
        "due": "2099-01-01T00:00:00Z",
        "evidence": "pressure drop",
    },
    "POST /api/maintenance/workorders/{order_id}/assign": {
        "version": 1,
        "assignee": "maria",
        "window_start": "2098-12-30T06:00:00Z",
        "window_end": "2098-12-30T10:00:00Z",
        "comment": "c",
    },
    "POST /api/maintenance/workorders/{order_id}/start": {"version": 1, "comment": "c"},
    "POST /api/maintenance/workorders/{order_id}/close": {
        "version": 1,
        "failure_code": "BRD",
        "cause": "clogged",
        "comment": "c",
    },
    "POST /api/maintenance/workorders/{order_id}/cancel": {"version": 1, "reason": "dup"},
    "POST /api/maintenance/models/train": {"equipment": POWER, "start": "2024-05-01T12:00:00Z"},
    "POST /api/maintenance/models/promote": {"name": "anomaly/x", "version": 1},
    "POST /api/maintenance/models/rollback": {"name": "anomaly/x"},
    "POST /api/schedules": {
        "document": {
            "start": "2024-05-01T06:00:00Z",
            "machines": [{"name": "m1"}],
            "orders": [{"id": "o1", "product": "p", "routing": [{"machines": {"m1": {"run": 1}}}]}],
        },
        "time_limit": 1,
        "workers": 1,
        "name": "what-if",
    },
    "POST /api/schedules/{job_id}/pin": {
        "op": "o1/0",
        "lot": 0,
        "machine": "m1",
        "start": "2024-05-01T07:00:00Z",
    },
    "POST /api/epcis/capture": {
        "@context": "https://ref.gs1.org/standards/epcis/2.0.0/epcis-context.jsonld",
        "type": "EPCISDocument",
        "schemaVersion": "2.0",
        "creationDate": "2024-05-01T12:00:00Z",
        "epcisBody": {"eventList": []},
    },
    "POST /api/identifiers/allocations": {"prefix": "88.123", "tenant": "acme", "description": "d"},
    "POST /api/identifiers/prefixes": {"prefix": "88.123.4", "description": "a line"},
    "PUT /api/identifiers/{handle}": {"type": "product", "name": "pump", "twin": "plant1/a"},
    "POST /api/resolve": {"handles": ["88.123/none", "88.1/a b"]},
    "POST /api/schedules/{job_id}/reschedule": {
        "kind": "breakdown",
        "params": {"machine": "m1", "start": "2024-05-01T07:00:00Z", "end": "2024-05-01T08:00:00Z"},
    },
    "POST /api/spc/characteristics/{name}/inspections": {
        "time": "2024-05-01T12:00:00Z",
        "lot": "L-4711",
        "equipment": "plant1/machining/line1/cell1/cnc-01",
        "values": [10.1, 10.2],
        "comment": "gauge 7",
    },
    "POST /api/spc/alarms/{alarm_id}/ack": {"comment": "checked the gauge"},
    "POST /api/energy/carbon/reports": {"period": "2025-01"},
}
"""A valid body for each operation that takes one; its string fields get the payloads."""
LOOKUPS = {"tag", "path", "prefix"}
"""Parameters naming tags: a payload there must match nothing (no payload is a real path;
``%`` and ``_`` would match every path if LIKE wildcards were not escaped)."""


@dataclass(frozen=True)
class Attack:
    """One input of one operation: ``where`` is query, path or body; ``name`` its name."""

    label: str
    method: str
    path: str
    params: tuple[tuple[str, str, bool], ...]
    where: str
    name: str

    def request(self, payload: str) -> dict[str, Any]:
        """httpx arguments: valid values everywhere, ``payload`` in this input."""
        url = self.path
        for where, name, _ in self.params:
            if where == "path":
                value = payload if name == self.name else GOOD[name]
                url = url.replace("{" + name + "}", quote(value, safe=""))
        query = {n: GOOD[n] for w, n, required in self.params if w == "query" and required}
        if any(n == "start" for _, n, _ in self.params):
            query |= RANGE
        if self.where == "query":
            query[self.name] = payload
        body = GOOD_BODIES.get(self.label)
        if self.where == "body":
            body = {**body, self.name: payload}
        kwargs: dict[str, Any] = {"method": self.method, "url": url, "params": query}
        if isinstance(body, str):
            kwargs |= {"content": body.encode(), "headers": {"Content-Type": "application/yaml"}}
        elif body is not None:
            kwargs["json"] = body
        return kwargs


def attacks(app: FastAPI) -> Iterator[Attack]:
    """Every parameter and body string field of every operation of the description."""
    for path, operations in app.openapi()["paths"].items():
        for method, op in operations.items():
            label = f"{method.upper()} {path}"
            params = tuple(
                (p["in"], p["name"], p.get("required", False)) for p in op.get("parameters", [])
            )
            missing = [n for _, n, required in params if required and n not in GOOD]
            assert not missing, f"{label}: add a valid value for {missing} to GOOD"
            assert "requestBody" not in op or label in GOOD_BODIES, f"{label}: add to GOOD_BODIES"
            inputs = [(where, name) for where, name, _ in params]
            body = GOOD_BODIES.get(label)
            if isinstance(body, dict):
                inputs += [
                    ("body", field) for field, value in body.items() if isinstance(value, str)
                ]
            for where, name in inputs:
                yield Attack(label, method.upper(), path, params, where, name)


@pytest.fixture(params=["sqlite", "postgresql"])
def services(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Services]:
    url = request.getfixturevalue("pg_url") if request.param == "postgresql" else None
    with open_services(url or f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as services:
        yield services


@pytest.fixture
def secret(services: Services, globex: Tenant) -> TagInfo:
    return plant_secret(services, globex)


async def snapshot(client: httpx.AsyncClient, tenants: list[Tenant]) -> list[Any]:
    """What the catalog and store answer each tenant (tree, tags, history, last values),
    and globex's keys."""
    answers = []
    for tenant in tenants:
        for url, params in (
            ("/api/assets", {}),
            ("/api/tags", {}),
            ("/api/history/raw", {"tag": POWER, **RANGE}),
            ("/api/last", {"tag": POWER}),
        ):
            r = await client.get(url, params=params, headers=tenant.auth())
            assert r.status_code == 200, (url, r.text)
            answers.append(r.json())
    keys = await client.get("/api/keys", headers=tenants[1].auth(Role.ADMIN))
    return [*answers, keys.json()]


def judge(attack: Attack, r: httpx.Response) -> str | None:
    """What is wrong with the answer to a payload in ``attack``'s input, if anything."""
    if r.status_code >= 500:
        return f"server error {r.status_code}"
    if "globex" in r.text or SECRET_TAG in r.text or str(SECRET_VALUE) in r.text:
        return "globex's data in the answer"
    if attack.where != "body" and attack.name in LOOKUPS and r.status_code < 300 and r.json():
        return "a hostile tag path matched"  # a filter (the audit log's) may answer []
    return None


@pytest.mark.usefixtures("secret")
async def test_hostile_strings_in_every_input_break_leak_and_change_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    acme: Tenant,
    globex: Tenant,
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # every hostile login must reach the user table, not the failed-login limiter before it
    app.state.login_limiter = FailureLimiter(10**6, 60)
    before = await snapshot(client, [acme, globex])
    tally = Tally(f"injection-{request.node.callspec.params['services']}")
    stored: set[str] = set()
    for attack in attacks(app):
        tally.notes[f"{attack.where} inputs"] += 1
        for payload in PAYLOADS:
            r = await client.request(**attack.request(payload), headers=acme.auth(Role.ADMIN))
            tally.sent(attack.label, r.status_code)
            problem = judge(attack, r)
            if problem is not None:
                tally.fail(
                    f"{attack.label} {attack.name}={payload[:40]!r}: {problem}: {r.text[:200]}"
                )
            if attack.label == "POST /api/keys" and r.status_code == 201:
                stored.add(payload)
    after = await snapshot(client, [acme, globex])
    tally.report(tmp_path_factory)

    assert not tally.failures, tally.verdict()
    assert after == before
    keys = await client.get("/api/keys", headers=acme.auth(Role.ADMIN))
    assert stored <= {k["name"] for k in keys.json()}
    assert '"; DROP TABLE tags; --' in stored
    with_inputs = {a.label for a in attacks(app)}
    assert tally.operations == with_inputs
    assert len(with_inputs) > 15
