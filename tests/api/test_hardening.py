"""HTTP hardening: body limits, security headers, no cookie credentials (CSRF)."""

from httpx import AsyncClient

from factoryos.api.hardening import MAX_BODY_BYTES
from factoryos.store.catalog import Role


async def test_every_response_has_the_security_headers(client: AsyncClient, acme) -> None:
    for url, headers in (("/api/health", {}), ("/api/tags", acme.auth()), ("/", {})):
        r = await client.get(url, headers=headers)
        assert r.headers["x-content-type-options"] == "nosniff", url
        assert r.headers["x-frame-options"] == "DENY", url
        assert r.headers["referrer-policy"] == "no-referrer", url
    assert (await client.get("/api/tags", headers=acme.auth())).headers["cache-control"] == (
        "no-store"
    )
    assert "script-src 'self'" in (await client.get("/")).headers["content-security-policy"]


async def test_an_oversized_body_is_refused_before_it_is_read(client: AsyncClient, acme) -> None:
    big = b"x" * (MAX_BODY_BYTES + 1)
    r = await client.post("/api/sites", content=big, headers=acme.auth(Role.ENGINEER))
    assert r.status_code == 413 and "at most" in r.json()["detail"]

    async def chunks():  # no Content-Length: counted while it arrives
        for _ in range(MAX_BODY_BYTES // 2**20 + 2):
            yield b"y" * 2**20

    r = await client.post("/api/sites", content=chunks(), headers=acme.auth(Role.ENGINEER))
    assert r.status_code == 413


async def test_a_cookie_is_never_a_credential(client: AsyncClient, acme) -> None:
    """A browser sends cookies with a forged cross-site request; they must authenticate
    nothing (CSRF). Only the Authorization / X-API-Key headers do."""
    key = acme.key(Role.ADMIN)
    for name in ("Authorization", "X-API-Key", "session", "token", "access_token"):
        client.cookies.set(name, key)
    r = await client.post("/api/keys", json={"name": "csrf", "role": "viewer"})
    assert r.status_code == 401
    client.cookies.clear()
