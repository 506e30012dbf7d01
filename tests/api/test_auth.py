"""Credentials and roles: every /api route but health needs a key; roles are enforced."""

import re

import pytest
from fastapi import FastAPI
from httpx import AsyncClient

from factoryos.api import Services, create_app
from factoryos.api.app import route_keys
from factoryos.api.authz import RULES, WS, Open
from factoryos.api.ratelimit import FailureLimiter
from factoryos.store.catalog import Role
from support.sites import POWER

PUBLIC = {path for (_, path), access in RULES.items() if access is Open.PUBLIC}


def api_calls(app: FastAPI) -> list[tuple[str, str]]:
    """(method, url) of every HTTP operation under /api, path parameters filled in.

    Walks the OpenAPI description (FastAPI's public view of all included routers), so a
    route added later is covered without touching this test.
    """
    calls = []
    for path, operations in app.openapi()["paths"].items():
        if path.startswith("/api"):
            url = re.sub(r"\{[^}]+\}", "1", path)
            calls += [(method.upper(), url) for method in sorted(operations)]
    return calls


def test_the_walk_finds_the_routes(app: FastAPI) -> None:
    urls = {url for _, url in api_calls(app)}
    assert {"/api/me", "/api/assets", "/api/history/raw", "/api/last", "/api/keys"} <= urls


def test_every_route_has_exactly_one_access_rule(app: FastAPI) -> None:
    """The access table covers every operation of the OpenAPI schema, the WebSocket and the
    web routes, and names no route that does not exist (a stale rule hides a typo)."""
    documented = {
        (method.upper(), path)
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    ruled = {(method, re.sub(r"\{(\w+):\w+\}", r"{\1}", path)) for method, path in RULES}
    assert documented - ruled == set()  # OpenAPI writes {path:path} as {path}
    assert set(route_keys(app)) == RULES.keys()
    assert (WS, "/api/live") in RULES


def test_an_app_with_a_route_missing_from_the_table_is_refused(services: Services) -> None:
    from factoryos.api.routes import health

    @health.router.get("/unruled-probe")
    def probe() -> None: ...

    try:
        with pytest.raises(RuntimeError, match="GET', '/api/unruled-probe'"):
            create_app(services)
    finally:
        health.router.routes.pop()


async def test_every_api_route_but_health_needs_a_credential(
    app: FastAPI, client: AsyncClient, acme
) -> None:
    app.state.credential_limiter = FailureLimiter(10**6, 60)  # this test sends ~80 bad keys
    for method, url in api_calls(app):
        if url in PUBLIC:
            continue
        for headers in ({}, {"Authorization": "Bearer fos_wrong"}, {"X-API-Key": "nope"}):
            r = await client.request(method, url, headers=headers)
            assert r.status_code == 401, (method, url, headers, r.text)
            assert r.headers["www-authenticate"] == "Bearer"
            assert "key" in r.json()["detail"] or "credential" in r.json()["detail"]


async def test_health_needs_no_credential(client: AsyncClient) -> None:
    r = await client.get("/api/health")
    assert r.status_code == 200
    assert r.json()["status"] == "ok"


async def test_docs_and_openapi_are_served(client: AsyncClient) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "/static/vendor/swagger-ui/swagger-ui-bundle.js" in docs.text
    assert "cdn" not in docs.text.lower()
    spec = (await client.get("/openapi.json")).json()
    assert "/api/history/agg" in spec["paths"]
    assert {"HTTPBearer", "APIKeyHeader"} <= set(spec["components"]["securitySchemes"])


@pytest.mark.parametrize("header", ["bearer", "x-api-key"])
async def test_both_credential_headers_work(client: AsyncClient, acme, header: str) -> None:
    key = acme.key(Role.OPERATOR)
    headers = {"Authorization": f"Bearer {key}"} if header == "bearer" else {"X-API-Key": key}
    r = await client.get("/api/me", headers=headers)
    assert r.status_code == 200
    assert r.json() == {
        "tenant": "acme",
        "role": "operator",
        "key_name": "operator-key",
        "platform_operator": False,
    }


ADMIN_CALLS = [("GET", "/api/keys"), ("POST", "/api/keys"), ("DELETE", "/api/keys/1")]


@pytest.mark.parametrize("role", [Role.VIEWER, Role.OPERATOR, Role.ENGINEER])
async def test_admin_routes_refuse_others(client: AsyncClient, acme, role: Role) -> None:
    for method, url in ADMIN_CALLS:
        body = {"name": "x", "role": "viewer"} if method == "POST" else None
        r = await client.request(method, url, headers=acme.auth(role), json=body)
        assert r.status_code == 403, (method, url, r.text)
        assert "admin" in r.json()["detail"]


async def test_engineer_route_refuses_operators(client: AsyncClient, acme, site_text) -> None:
    body = site_text("acme").encode()
    headers = {"Content-Type": "application/yaml"}
    for role in (Role.VIEWER, Role.OPERATOR):
        r = await client.post("/api/sites", content=body, headers=headers | acme.auth(role))
        assert r.status_code == 403
    r = await client.post("/api/sites", content=body, headers=headers | acme.auth(Role.ENGINEER))
    assert r.status_code == 200, r.text
    assert r.json() == {"site": "plant1", "tenant": "acme", "tags": 3}


async def test_bad_site_file_is_400_naming_the_field(client: AsyncClient, acme, site_text) -> None:
    bad = site_text("acme").replace("unit: kW", "unti: kW").encode()
    r = await client.post(
        "/api/sites",
        content=bad,
        headers={"Content-Type": "application/yaml"} | acme.auth(Role.ADMIN),
    )
    assert r.status_code == 400
    assert "unti" in r.json()["detail"]
    assert ":14:" in r.json()["detail"] or "line" in r.json()["detail"]


async def test_admin_manages_keys_and_secrets_are_shown_once(
    client: AsyncClient, services: Services, acme
) -> None:
    admin = acme.auth(Role.ADMIN)
    r = await client.post("/api/keys", headers=admin, json={"name": "hmi", "role": "operator"})
    assert r.status_code == 201, r.text
    created = r.json()
    assert created["key"].startswith("fos_")
    assert created["role"] == "operator"

    me = await client.get("/api/me", headers={"X-API-Key": created["key"]})
    assert me.json()["key_name"] == "hmi"

    listed = (await client.get("/api/keys", headers=admin)).json()
    assert "hmi" in [k["name"] for k in listed]
    assert all("key" not in k for k in listed)
    assert created["key"] not in (await client.get("/api/keys", headers=admin)).text

    assert (await client.delete(f"/api/keys/{created['id']}", headers=admin)).status_code == 204
    assert (await client.get("/api/me", headers={"X-API-Key": created["key"]})).status_code == 401
    assert (await client.delete("/api/keys/99999", headers=admin)).status_code == 404
    huge = await client.delete(f"/api/keys/{10**30}", headers=admin)
    assert huge.status_code == 422
    assert "key_id" in huge.text


async def test_bad_key_requests_are_4xx_naming_the_field(client: AsyncClient, acme) -> None:
    admin = acme.auth(Role.ADMIN)
    r = await client.post("/api/keys", headers=admin, json={"name": "x", "role": "root"})
    assert r.status_code == 422
    assert "role" in r.text
    naive = {"name": "x", "role": "viewer", "expires_at": "2099-01-01T00:00:00"}
    r = await client.post("/api/keys", headers=admin, json=naive)
    assert r.status_code == 422
    assert "expires_at" in r.text
    past = {"name": "x", "role": "viewer", "expires_at": "2000-01-01T00:00:00Z"}
    r = await client.post("/api/keys", headers=admin, json=past)
    assert r.status_code == 400
    assert "expires_at" in r.json()["detail"]


async def test_unknown_tag_is_404_not_500(client: AsyncClient, acme) -> None:
    for url in (
        "/api/tags/plant1/nope",
        "/api/history/raw?tag=plant1/nope",
        "/api/history/agg?tag=plant1/nope",
        f"/api/last?tag={POWER}&tag=plant1/nope",
    ):
        r = await client.get(url, headers=acme.auth())
        assert r.status_code == 404, url
        assert "plant1/nope" in r.json()["detail"]


async def test_a_client_guessing_credentials_is_slowed_down(client: AsyncClient, acme) -> None:
    for i in range(30):
        r = await client.get("/api/me", headers={"Authorization": f"Bearer fos_guess{i}"})
        assert r.status_code == 401
    r = await client.get("/api/me", headers={"Authorization": "Bearer fos_guess99"})
    assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
    valid = await client.get("/api/me", headers={"X-API-Key": acme.key(Role.VIEWER)})
    assert valid.status_code == 200  # the address's valid keys still work (NAT, proxies)
    assert (await client.get("/api/health")).status_code == 200
