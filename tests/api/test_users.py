"""People: login, refresh rotation, revocation, roles per tenant, platform operators, and
attempts to forge, replay or stretch tokens."""

import base64
import json
import logging
import time

import jwt
import pytest
from httpx import AsyncClient

from factoryos.api import Services
from factoryos.api.tokens import ALGORITHM, TokenConfigError, TokenIssuer
from factoryos.store.catalog import Role
from factoryos.store.users import Users
from support.sites import POWER

PASSWORD = "correct horse battery"


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def login(client: AsyncClient, username: str, password: str = PASSWORD) -> dict[str, str]:
    r = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    tokens: dict[str, str] = r.json()
    return tokens


@pytest.fixture
def users(services: Services, acme, globex) -> Users:
    u = services.users
    u.create("alice", PASSWORD, tenant="acme", role=Role.ADMIN)
    u.create("bob", PASSWORD, tenant="acme", role=Role.VIEWER)
    u.create("gina", PASSWORD, tenant="globex", role=Role.ADMIN)
    u.create("olga", PASSWORD, tenant=None)  # platform operator
    return u


async def test_login_gives_tokens_that_reach_the_tenant_data(client: AsyncClient, users) -> None:
    tokens = await login(client, "bob")
    assert tokens["token_type"] == "bearer" and tokens["expires_in"] == 900
    me = (await client.get("/api/me", headers=bearer(tokens["access_token"]))).json()
    assert me == {"tenant": "acme", "role": "viewer", "key_name": "user bob",
                  "platform_operator": False}  # fmt: skip
    r = await client.get("/api/tags", headers=bearer(tokens["access_token"]))
    assert r.status_code == 200 and POWER in {t["path"] for t in r.json()}
    r = await client.get("/api/keys", headers=bearer(tokens["access_token"]))
    assert r.status_code == 403 and "admin" in r.json()["detail"]


async def test_wrong_password_unknown_user_and_disabled_user_look_the_same(
    client: AsyncClient, services: Services, users
) -> None:
    bob = (await client.get("/api/me")).status_code  # no credential: 401
    assert bob == 401
    answers = []
    for name, password in (("bob", "wrong password!"), ("nobody", PASSWORD)):
        r = await client.post("/api/auth/login", json={"username": name, "password": password})
        answers.append((r.status_code, r.json()["detail"]))
    user = services.users.in_tenant(services.catalog.tenant_id("acme") or 0)[1]
    services.users.update(user.tenant_id or 0, user.id, disabled=True)
    r = await client.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    answers.append((r.status_code, r.json()["detail"]))
    assert len(set(answers)) == 1 and answers[0][0] == 401


async def test_refresh_rotates_and_a_replayed_refresh_token_revokes_its_family(
    client: AsyncClient, users
) -> None:
    first = await login(client, "bob")
    r = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert r.status_code == 200
    second = r.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert (await client.get("/api/me", headers=bearer(second["access_token"]))).status_code == 200
    # the first refresh token again: someone has a copy, so the whole family ends
    again = await client.post("/api/auth/refresh", json={"refresh_token": first["refresh_token"]})
    assert again.status_code == 401
    latest = await client.post("/api/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert latest.status_code == 401


async def test_logout_logout_all_and_a_new_password_revoke_tokens_at_once(
    client: AsyncClient, users
) -> None:
    one, two = await login(client, "bob"), await login(client, "bob")
    r = await client.post("/api/auth/logout", json={"refresh_token": one["refresh_token"]})
    assert r.status_code == 204
    r = await client.post("/api/auth/refresh", json={"refresh_token": one["refresh_token"]})
    assert r.status_code == 401
    assert (await client.get("/api/me", headers=bearer(two["access_token"]))).status_code == 200
    r = await client.post("/api/auth/logout-all", headers=bearer(two["access_token"]))
    assert r.status_code == 204
    for token in (one["access_token"], two["access_token"]):  # within their 15 minutes
        assert (await client.get("/api/me", headers=bearer(token))).status_code == 401
    three = await login(client, "bob")
    change = {"current_password": PASSWORD, "new_password": "another good passphrase"}
    wrong = {**change, "current_password": "not the password"}
    r = await client.post("/api/auth/password", json=wrong, headers=bearer(three["access_token"]))
    assert r.status_code == 403
    r = await client.post("/api/auth/password", json=change, headers=bearer(three["access_token"]))
    assert r.status_code == 204
    assert (await client.get("/api/me", headers=bearer(three["access_token"]))).status_code == 401
    await login(client, "bob", "another good passphrase")


async def test_an_admin_manages_only_their_tenant_and_grants_no_more_than_their_role(
    client: AsyncClient, services: Services, users
) -> None:
    alice = bearer((await login(client, "alice"))["access_token"])
    gina = bearer((await login(client, "gina"))["access_token"])
    new = {"username": "carl", "password": PASSWORD, "role": "engineer"}
    r = await client.post("/api/users", json=new, headers=alice)
    assert r.status_code == 201
    carl = r.json()
    assert (await client.post("/api/users", json=new, headers=alice)).status_code == 409
    assert {u["username"] for u in (await client.get("/api/users", headers=gina)).json()} == {
        "gina"
    }
    for body in ({"role": "viewer"}, {"disabled": True}, {"password": "x" * 20}):
        r = await client.patch(f"/api/users/{carl['id']}", json=body, headers=gina)
        assert r.status_code == 404  # another tenant's user does not exist for gina
    carl_token = bearer((await login(client, "carl"))["access_token"])
    r = await client.post(
        "/api/users", json={**new, "username": "dan", "role": "admin"}, headers=carl_token
    )
    assert r.status_code == 403  # an engineer is no admin
    r = await client.patch(f"/api/users/{carl['id']}", json={"role": "viewer"}, headers=alice)
    assert r.json()["role"] == "viewer"
    assert (await client.get("/api/me", headers=carl_token)).status_code == 401  # role changed


async def test_a_platform_operator_manages_tenants_and_sees_no_tenant_data(
    client: AsyncClient, users
) -> None:
    olga = bearer((await login(client, "olga"))["access_token"])
    me = (await client.get("/api/me", headers=olga)).json()
    assert me["platform_operator"] is True and me["tenant"] is None
    body = {"name": "initech", "admin_username": "ida", "admin_password": PASSWORD}
    r = await client.post("/api/tenants", json=body, headers=olga)
    assert r.status_code == 201
    assert (await client.post("/api/tenants", json=body, headers=olga)).status_code == 409
    names = {t["name"] for t in (await client.get("/api/tenants", headers=olga)).json()}
    assert {"acme", "globex", "initech"} <= names
    for url in ("/api/assets", "/api/tags", f"/api/last?tag={POWER}", "/api/keys", "/api/users"):
        r = await client.get(url, headers=olga)
        assert r.status_code == 403 and "platform operators see no" in r.json()["detail"], url
    ida = bearer((await login(client, "ida"))["access_token"])
    assert (await client.get("/api/me", headers=ida)).json()["role"] == "admin"
    for tenant_user in (ida, bearer((await login(client, "alice"))["access_token"])):
        assert (await client.get("/api/tenants", headers=tenant_user)).status_code == 403


async def test_forged_expired_and_misused_tokens_are_refused(
    client: AsyncClient, services: Services, users
) -> None:
    tokens = await login(client, "alice")
    access = tokens["access_token"]
    head, payload, signature = access.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=="))
    bad = []
    # another role or user in the payload, the old signature
    for change in ({"sub": "4"}, {"ver": claims["ver"] + 1}, {"exp": claims["exp"] + 10**6}):
        forged = base64.urlsafe_b64encode(json.dumps({**claims, **change}).encode())
        bad.append(f"{head}.{forged.decode().rstrip('=')}.{signature}")
    bad.append(jwt.encode({**claims}, "another secret" * 4, algorithm=ALGORITHM))
    none_head = base64.urlsafe_b64encode(b'{"alg":"none","typ":"JWT"}').decode().rstrip("=")
    bad.append(f"{none_head}.{payload}.")
    expired = {**claims, "iat": int(time.time()) - 2000, "exp": int(time.time()) - 1000}
    bad.append(jwt.encode(expired, _secret(services), algorithm=ALGORITHM))
    bad.append(jwt.encode({**claims, "typ": "refresh"}, _secret(services), algorithm=ALGORITHM))
    bad.append(tokens["refresh_token"])  # a refresh token is no access token
    bad.append(access[:-2] + ("AA" if access[-2:] != "AA" else "BB"))
    for token in bad:
        r = await client.get("/api/me", headers=bearer(token))
        assert r.status_code == 401, token
    assert (await client.get("/api/me", headers=bearer(access))).status_code == 200


async def test_logins_are_limited_per_username(client: AsyncClient, users) -> None:
    for _ in range(5):
        r = await client.post("/api/auth/login", json={"username": "bob", "password": "guess" * 3})
        assert r.status_code == 401
    r = await client.post("/api/auth/login", json={"username": "bob", "password": PASSWORD})
    assert r.status_code == 429  # even the right password, until the window passes
    assert int(r.headers["retry-after"]) > 0


def test_weak_secrets_and_passwords_are_refused(services: Services, acme) -> None:
    with pytest.raises(TokenConfigError, match="at least 32 bytes"):
        TokenIssuer("short")
    from factoryos.store.catalog import CatalogInputError

    with pytest.raises(CatalogInputError, match="password: use 12"):
        services.users.create("weak", "123456", tenant="acme")
    with pytest.raises(CatalogInputError, match="username"):
        services.users.create("no spaces please", PASSWORD, tenant="acme")


def _secret(services: Services) -> str:
    assert services.tokens is not None
    secret: str = services.tokens._secret
    return secret


async def test_logins_credentials_config_and_exports_are_audited(
    client: AsyncClient, services: Services, users, acme, site_text
) -> None:
    await client.post("/api/auth/login", json={"username": "bob", "password": "not it at all"})
    alice = bearer((await login(client, "alice"))["access_token"])
    r = await client.post("/api/keys", json={"name": "scada", "role": "viewer"}, headers=alice)
    key_id = r.json()["id"]
    await client.delete(f"/api/keys/{key_id}", headers=alice)
    body = {"username": "eve", "password": PASSWORD, "role": "operator"}
    await client.post("/api/users", json=body, headers=alice)
    r = await client.post(
        "/api/sites",
        content=site_text("acme").encode(),
        headers={"Content-Type": "application/yaml"} | alice,
    )
    assert r.status_code == 200, r.text
    params = {"tag": POWER, "start": "2024-05-01T12:00:00Z", "end": "2024-05-01T13:00:00Z"}
    assert (await client.get("/api/export", params=params, headers=alice)).status_code == 200
    entries = services.catalog.audit.entries(limit=100)
    seen = {(e.action, e.actor, e.target) for e in entries}
    assert ("login_failed", None, "bob") in seen
    assert ("login", "user alice", "alice") in seen
    assert ("key_created", "user alice", "scada") in seen
    assert ("key_revoked", "user alice", str(key_id)) in seen
    assert ("user_created", "user alice", "eve") in seen
    assert ("config_change", "user alice", "site plant1") in seen
    assert ("export", "user alice", POWER) in seen
    assert services.catalog.audit.verify().ok


async def test_no_secret_reaches_the_logs(
    client: AsyncClient, users, acme, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        await client.post("/api/auth/login", json={"username": "bob", "password": "wrong guess!"})
        tokens = await login(client, "alice")
        alice = bearer(tokens["access_token"])
        r = await client.post("/api/keys", json={"name": "k", "role": "viewer"}, headers=alice)
        key = r.json()["key"]
        await client.get("/api/me", headers={"X-API-Key": key})
        await client.post("/api/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
        await client.get("/api/me", headers=bearer("fos_" + "q" * 40))
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert "logged in" in text and "failed login" in text  # the log did record the events
    for secret in (PASSWORD, "wrong guess!", tokens["access_token"], tokens["refresh_token"], key):
        assert secret not in text
