"""Two tenants with identical tag paths never see each other's metadata or data."""

import numpy as np
from httpx import AsyncClient

from factoryos.api import Services
from factoryos.model.samples import SampleBatch
from factoryos.model.site import parse_site
from factoryos.store.catalog import Role
from support.sites import POWER

T0 = 1_714_564_800 * 10**9
RANGE = {"start": "2024-05-01T12:00:00Z", "end": "2024-05-01T13:00:00Z"}


def write(services: Services, tag_id: int, value: float) -> None:
    services.store.write(SampleBatch.build(np.full(3, tag_id), T0 + np.arange(3), [value] * 3))


async def test_same_path_answers_each_tenant_with_its_own_data(
    client: AsyncClient, services: Services, acme, globex
) -> None:
    assert acme.ids[POWER] != globex.ids[POWER]
    write(services, acme.ids[POWER], 1.0)
    write(services, globex.ids[POWER], 2.0)
    for tenant, value in ((acme, 1.0), (globex, 2.0)):
        raw = await client.get(
            "/api/history/raw", params={"tag": POWER, **RANGE}, headers=tenant.auth()
        )
        assert raw.json()["value"] == [value] * 3
        agg = await client.get(
            "/api/history/agg",
            params={"tag": POWER, **RANGE, "agg": "max", "every": "1h"},
            headers=tenant.auth(),
        )
        assert agg.json()["columns"]["max"] == [value]
        last = await client.get("/api/last", params={"tag": POWER}, headers=tenant.auth())
        assert last.json()[0]["value"] == value


async def test_guessing_another_tenants_tag_ids_finds_nothing(
    client: AsyncClient, services: Services, acme, globex
) -> None:
    write(services, globex.ids[POWER], 2.0)
    secret = str(globex.ids[POWER])
    for url, params in (
        ("/api/history/raw", {"tag": secret, **RANGE}),
        ("/api/history/agg", {"tag": secret, **RANGE}),
        ("/api/last", {"tag": secret}),
        (f"/api/tags/{secret}", {}),
    ):
        r = await client.get(url, params=params, headers=acme.auth())
        assert r.status_code == 404, (url, r.text)


async def test_metadata_is_scoped_to_the_tenant(
    client: AsyncClient, services: Services, acme, globex
) -> None:
    extra = (await client.get("/api/tags", headers=globex.auth())).json()
    assert len(extra) == 3
    services.catalog.register_site(
        parse_site(
            "site: {name: plant2, tenant: globex, areas: [{name: a, lines: [{name: l, cells: "
            "[{name: c, equipment: [{name: e, tags: [{name: t}]}]}]}]}]}"
        )
    )
    acme_tags = [t["path"] for t in (await client.get("/api/tags", headers=acme.auth())).json()]
    globex_tags = [t["path"] for t in (await client.get("/api/tags", headers=globex.auth())).json()]
    assert "plant2/a/l/c/e/t" in globex_tags
    assert "plant2/a/l/c/e/t" not in acme_tags
    assert len(acme_tags) == 3

    tree = (await client.get("/api/assets", headers=acme.auth())).json()
    assert [s["path"] for s in tree] == ["plant1"]
    r = await client.get("/api/tags/plant2/a/l/c/e/t", headers=acme.auth())
    assert r.status_code == 404
    r = await client.get("/api/tags", params={"prefix": "plant2"}, headers=acme.auth())
    assert r.json() == []


async def test_keys_of_another_tenant_are_invisible(client: AsyncClient, acme, globex) -> None:
    mine = (await client.get("/api/keys", headers=acme.auth(Role.ADMIN))).json()
    theirs = (await client.get("/api/keys", headers=globex.auth(Role.ADMIN))).json()
    assert {k["id"] for k in mine}.isdisjoint(k["id"] for k in theirs)
    r = await client.delete(f"/api/keys/{theirs[0]['id']}", headers=acme.auth(Role.ADMIN))
    assert r.status_code == 404
    assert (await client.get("/api/me", headers=globex.auth(Role.ADMIN))).status_code == 200


async def test_an_engineer_cannot_register_a_site_in_another_tenant(
    client: AsyncClient, acme, globex, site_text
) -> None:
    r = await client.post(
        "/api/sites",
        content=site_text("globex").encode(),
        headers={"Content-Type": "application/yaml"} | acme.auth(Role.ENGINEER),
    )
    assert r.status_code == 403
    assert "site.tenant" in r.json()["detail"]


SECRET_VALUE = 987654.321
SECRET_TAG = "plant9/a/l/c/e/globex_secret"


async def test_no_route_returns_or_changes_another_tenants_data(
    app, client: AsyncClient, services: Services, acme, globex
) -> None:
    """Every operation of the OpenAPI schema, called by acme's admin with globex's paths
    and ids (tags, keys, users) filled in, answers nothing of globex and changes nothing of
    globex: a route added later is walked too."""
    services.catalog.register_site(
        parse_site(
            "site: {name: plant9, tenant: globex, areas: [{name: a, lines: [{name: l, cells: "
            "[{name: c, equipment: [{name: e, tags: [{name: globex_secret}]}]}]}]}]}"
        )
    )
    secret_id = services.catalog.find_tag(services.catalog.tenant_id("globex") or 0, SECRET_TAG)
    assert secret_id is not None
    for tag_id in (globex.ids[POWER], secret_id.id):
        write(services, tag_id, SECRET_VALUE)
    user = services.users.create("gus", "a long enough password", tenant="globex")
    keys_before = (await client.get("/api/keys", headers=globex.auth(Role.ADMIN))).json()
    guesses = {
        "tag": [SECRET_TAG, str(secret_id.id)],
        "path": [SECRET_TAG, str(secret_id.id)],
        "key_id": [str(k["id"]) for k in keys_before],
        "user_id": [str(user.id)],
    }
    bodies = {
        "/api/keys": {"name": "x", "role": "viewer"},
        "/api/users/{user_id}": {"role": "viewer", "disabled": True},
        "/api/tags/{path}/write": {"value": 1.0},
    }
    tried = 0
    for path, operations in app.openapi()["paths"].items():
        for method in operations:
            for url, params in _fills(path, guesses):
                r = await client.request(
                    method.upper(), url, params={**params, **RANGE, "every": "1h"},
                    json=bodies.get(path), headers=acme.auth(Role.ADMIN),
                )  # fmt: skip
                tried += 1
                assert "987654" not in r.text, (method, url)  # no value of globex
                assert r.status_code < 500, (method, url, r.text)
                if r.status_code < 300:  # an error may echo the guess; an answer may not
                    assert "globex_secret" not in r.text, (method, url)
    assert tried > 30
    # nothing of globex changed: its keys, its user, its data
    assert (await client.get("/api/keys", headers=globex.auth(Role.ADMIN))).json() == keys_before
    assert services.users.get(user.id) == user
    raw = await client.get(
        "/api/history/raw", params={"tag": SECRET_TAG, **RANGE}, headers=globex.auth()
    )
    assert raw.json()["value"] == [SECRET_VALUE] * 3


def _fills(path: str, guesses: dict[str, list[str]]) -> list[tuple[str, dict[str, str]]]:
    """URLs of ``path`` with each guess in its path parameters, and the tag guesses as the
    ``tag`` query parameter for routes without path parameters."""
    import re

    names = re.findall(r"\{(\w+)\}", path)
    if not names:
        return [(path, {"tag": guess}) for guess in guesses["tag"]]
    fills = []
    for guess in guesses.get(names[0], ["1"]):
        fills.append((path.replace("{" + names[0] + "}", guess), {}))
    return fills
