"""The identifier registry and resolver through the real app: allocation by a platform
operator, claims and registration by a tenant's engineers, resolution by any tenant, bad
input answered 4xx naming the field; and two real nodes (uvicorn on loopback, each with its
own SQLite catalog) forwarding, caching, and failing cleanly when the parent is down.
"""

import asyncio
import dataclasses
import json
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI

from factoryos.api import Services, create_app
from factoryos.store.catalog import Role
from factoryos.twin.config import ResolverConfig
from factoryos.twin.node import IdentifierNode
from factoryos.twin.parent import HOPS_HEADER
from support.asgi import asgi_client
from support.ports import bound_socket
from support.tenants import Tenant, acme, app, client, globex, open_services

__all__ = ["acme", "app", "client", "globex", "services"]  # fixtures, used by name

PASSWORD = "correct horse battery"
HANDLE = "88.123.4567/SN-000042"
EPC = "urn:epc:id:sgtin:9506000.134352.42"
PUMP: dict[str, Any] = {
    "type": "product",
    "name": "Centrifugal pump CP-40",
    "data": {"gtin": "09506000134352", "rated_kw": 7.5},
    "twin": "plant1/assembly/line2/cell1/cp40",
    "epcs": [EPC],
}


async def operator_auth(client: httpx.AsyncClient, services: Services) -> dict[str, str]:
    """A platform operator's bearer token."""
    services.users.create("olga", PASSWORD, tenant=None)
    r = await client.post("/api/auth/login", json={"username": "olga", "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


async def allocate(
    client: httpx.AsyncClient, olga: dict[str, str], prefix: str, tenant: str
) -> httpx.Response:
    body = {"prefix": prefix, "tenant": tenant, "description": f"{tenant}'s prefix"}
    return await client.post("/api/identifiers/allocations", json=body, headers=olga)


@pytest.fixture
async def olga(client: httpx.AsyncClient, services: Services, acme: Tenant) -> dict[str, str]:
    auth = await operator_auth(client, services)
    assert (await allocate(client, auth, "88.123", "acme")).status_code == 201
    return auth


async def test_register_under_an_allocated_prefix_and_any_tenant_resolves(
    client: httpx.AsyncClient,
    services: Services,
    acme: Tenant,
    globex: Tenant,
    olga: dict[str, str],
) -> None:
    eng = acme.auth(Role.ENGINEER)
    again = await allocate(client, olga, "88.123", "acme")
    assert (again.status_code, again.json()["tenant"]) == (200, "acme")
    r = await client.post(
        "/api/identifiers/prefixes", json={"prefix": "88.123.4567", "description": "pumps"},
        headers=eng,
    )  # fmt: skip
    assert r.status_code == 201, r.text
    assert (r.json()["prefix"], r.json()["created_by"]) == ("88.123.4567", "engineer-key")

    r = await client.put(f"/api/identifiers/{HANDLE}", json=PUMP, headers=eng)
    assert r.status_code == 201, r.text
    assert (r.json()["version"], r.json()["record"]["name"]) == (1, PUMP["name"])
    r = await client.put(f"/api/identifiers/{HANDLE}", json={**PUMP, "name": "CP-40 rev B"},
                         headers=eng)  # fmt: skip
    assert (r.status_code, r.json()["version"]) == (200, 2)

    first = await client.get(f"/api/resolve/{HANDLE}", headers=globex.auth())  # another tenant
    second = await client.get(f"/api/resolve/{HANDLE}", headers=globex.auth())
    assert first.status_code == 200, first.text
    answer = first.json()
    assert answer["record"] == {**PUMP, "name": "CP-40 rev B"}
    assert (answer["handle"], answer["prefix"], answer["version"]) == (HANDLE, "88.123.4567", 2)
    assert (answer["node"], answer["hops"], answer["cached"]) == ("test-node", 0, False)
    assert answer["history"] == [
        {
            "epc": EPC,
            "events": "/api/epcis/events?MATCH_anyEPC=urn%3Aepc%3Aid%3Asgtin%3A9506000.134352.42",
        }
    ]
    assert second.json()["cached"] is True
    assert first.headers["X-FactoryOS-Resolver-Node"] == "test-node"
    assert "acme" not in first.text  # the owner tenant is not part of what is published

    mine = (await client.get("/api/identifiers", headers=acme.auth())).json()
    assert [i["handle"] for i in mine["identifiers"]] == [HANDLE] and mine["next_after"] is None
    theirs = (await client.get("/api/identifiers", headers=globex.auth())).json()
    assert theirs["identifiers"] == []
    prefixes = (await client.get("/api/identifiers/prefixes", headers=acme.auth())).json()
    assert [p["prefix"] for p in prefixes] == ["88.123", "88.123.4567"]
    tenant_id = services.catalog.tenant_id("acme")
    actions = [(e.action, e.target) for e in services.catalog.audit.entries(tenant_id)]
    assert ("identifier_registered", HANDLE) in actions
    assert ("identifier_prefix_claimed", "88.123.4567") in actions
    platform = [(e.action, e.target) for e in services.catalog.audit.entries(None)]
    assert ("identifier_prefix_allocated", "88.123") in platform


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    """The shared test services, with a node named for the assertions."""
    with open_services(f"sqlite:///{tmp_path / 'catalog.sqlite'}", tmp_path) as base:
        node = IdentifierNode.open(base.catalog, ResolverConfig(node="test-node"))
        yield dataclasses.replace(base, identifiers=node)


async def test_a_new_record_is_resolved_at_once_not_from_the_cache(
    client: httpx.AsyncClient, acme: Tenant, olga: dict[str, str]
) -> None:
    eng = acme.auth(Role.ENGINEER)
    await client.put(f"/api/identifiers/{HANDLE}", json=PUMP, headers=eng)
    await client.get(f"/api/resolve/{HANDLE}", headers=eng)
    assert (await client.get(f"/api/resolve/{HANDLE}", headers=eng)).json()["cached"]

    await client.put(f"/api/identifiers/{HANDLE}", json={**PUMP, "name": "new"}, headers=eng)
    answer = (await client.get(f"/api/resolve/{HANDLE}", headers=eng)).json()

    assert (answer["cached"], answer["version"], answer["record"]["name"]) == (False, 2, "new")


async def test_who_may_do_what(
    client: httpx.AsyncClient, acme: Tenant, globex: Tenant, olga: dict[str, str]
) -> None:
    url = f"/api/identifiers/{HANDLE}"
    assert (await client.put(url, json=PUMP, headers=acme.auth(Role.OPERATOR))).status_code == 403
    assert (await client.put(url, json=PUMP, headers=olga)).status_code == 403  # no tenant
    refused = await allocate(client, acme.auth(Role.ADMIN), "99.1", "acme")
    assert refused.status_code == 403  # only platform operators allocate
    r = await client.put(url, json=PUMP, headers=globex.auth(Role.ENGINEER))
    assert r.status_code == 403 and "belongs to another tenant" in r.json()["detail"]

    await client.put(url, json=PUMP, headers=acme.auth(Role.ENGINEER))
    assert (await client.get(f"/api/resolve/{HANDLE}")).status_code == 401
    bad_key = {"Authorization": "Bearer fos_not_a_key"}
    assert (await client.get(f"/api/resolve/{HANDLE}", headers=bad_key)).status_code == 401
    assert (await client.get(f"/api/resolve/{HANDLE}", headers=olga)).status_code == 200


@pytest.mark.parametrize(
    ("method", "url", "body", "status", "names"),
    [
        ("GET", "/api/resolve/88.123", None, 400, "handle: '88.123': no '/'"),
        ("GET", "/api/resolve/88..1/x", None, 400, "prefix segment 2 is empty"),
        ("GET", "/api/resolve/88.1/a%20b", None, 400, "suffix character 2 is ' '"),
        ("GET", "/api/resolve/88.1/a/%2E%2E/b", None, 400, "part 2 is '..'"),
        ("PUT", "/api/identifiers/88.123/a%3Fb", PUMP, 400, "suffix character 2 is '?'"),
        ("PUT", "/api/identifiers/77.1/x", PUMP, 403, "prefix '77.1' is not allocated"),
        ("PUT", f"/api/identifiers/{HANDLE}", {**PUMP, "type": "Pump!"}, 422, "type"),
        ("PUT", f"/api/identifiers/{HANDLE}", {**PUMP, "extra": 1}, 422, "extra"),
        ("PUT", f"/api/identifiers/{HANDLE}", {**PUMP, "data": {"x": "y" * 1001}}, 422,
         "1,001 characters"),
        ("PUT", f"/api/identifiers/{HANDLE}",
         {**PUMP, "data": {f"f{n}": "x" * 900 for n in range(30)}}, 422, "bytes as JSON"),
        ("POST", "/api/identifiers/prefixes", {"prefix": "99.1"}, 403, "not below a prefix"),
        ("POST", "/api/identifiers/prefixes", {"prefix": "88.123.a-b"}, 400,
         "segment 3 has '-'"),
        ("POST", "/api/identifiers/prefixes", {"prefix": "x" * 500}, 422, "prefix"),
        ("GET", "/api/identifiers?prefix=%25", None, 400, "prefix: '%'"),
        ("GET", "/api/identifiers?limit=0", None, 422, "limit"),
        ("GET", "/api/identifiers?limit=501", None, 422, "limit"),
    ],
)  # fmt: skip
async def test_bad_input_is_a_4xx_naming_the_field(
    client: httpx.AsyncClient,
    acme: Tenant,
    olga: dict[str, str],
    method: str,
    url: str,
    body: dict[str, Any] | None,
    status: int,
    names: str,
) -> None:
    r = await client.request(method, url, json=body, headers=acme.auth(Role.ENGINEER))

    assert r.status_code == status, r.text
    assert names in json.dumps(r.json()["detail"])


async def test_oversized_record_changes_nothing(
    client: httpx.AsyncClient, acme: Tenant, olga: dict[str, str]
) -> None:
    huge = {**PUMP, "data": {f"f{n}": "x" * 900 for n in range(30)}}
    r = await client.put(f"/api/identifiers/{HANDLE}", json=huge, headers=acme.auth(Role.ENGINEER))

    assert r.status_code == 422
    listed = (await client.get("/api/identifiers", headers=acme.auth())).json()
    assert listed["identifiers"] == []


async def test_platform_allocation_refusals(
    client: httpx.AsyncClient, acme: Tenant, globex: Tenant, olga: dict[str, str]
) -> None:
    overlap = await allocate(client, olga, "88.123.9", "globex")
    unknown = await allocate(client, olga, "77.1", "initech")

    assert overlap.status_code == 409 and "'88.123'" in overlap.json()["detail"]
    assert unknown.status_code == 404 and "tenant: no tenant 'initech'" in unknown.text
    assert (await allocate(client, olga, "77.1", "globex")).status_code == 201


async def test_not_found_is_a_clean_404_naming_the_node(
    client: httpx.AsyncClient, acme: Tenant, olga: dict[str, str]
) -> None:
    missing = await client.get("/api/resolve/88.123/none", headers=acme.auth())
    unserved = await client.get("/api/resolve/77.1/none", headers=acme.auth())

    assert missing.status_code == 404
    assert missing.json()["node"] == "test-node"
    assert missing.json()["reason"] == "no such identifier"
    assert "88.123/none" in missing.json()["detail"]
    assert unserved.json()["reason"] == "no node serves its prefix"


async def test_a_batch_answers_each_handle_in_order(
    client: httpx.AsyncClient, acme: Tenant, globex: Tenant, olga: dict[str, str]
) -> None:
    await client.put(f"/api/identifiers/{HANDLE}", json=PUMP, headers=acme.auth(Role.ENGINEER))
    asked = [HANDLE, "88.123/none", "not a handle", HANDLE, "77.1/x"]

    r = await client.post("/api/resolve", json={"handles": asked}, headers=globex.auth())

    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [i["handle"] for i in results] == asked
    assert [i["status"] for i in results] == [200, 404, 400, 200, 404]
    assert results[0]["answer"]["record"] == PUMP
    assert results[1]["node"] == "test-node" and "no such identifier" in results[1]["detail"]
    assert "no '/'" in results[2]["detail"] and results[2]["answer"] is None
    too_many = await client.post(
        "/api/resolve", json={"handles": [HANDLE] * 101}, headers=globex.auth()
    )
    empty = await client.post("/api/resolve", json={"handles": []}, headers=globex.auth())
    assert too_many.status_code == 422 and empty.status_code == 422
    assert "handles" in json.dumps(too_many.json()["detail"])


async def test_paging_through_the_tenants_identifiers(
    client: httpx.AsyncClient, acme: Tenant, olga: dict[str, str]
) -> None:
    eng = acme.auth(Role.ENGINEER)
    for n in range(5):
        r = await client.put(f"/api/identifiers/88.123.{n % 2}/S{n}", json=PUMP, headers=eng)
        assert r.status_code == 201
    seen, after = [], None
    while True:
        params: dict[str, Any] = {"limit": 2, **({"after": after} if after is not None else {})}
        page = (await client.get("/api/identifiers", params=params, headers=eng)).json()
        seen += [i["handle"] for i in page["identifiers"]]
        after = page["next_after"]
        if after is None:
            break
    line = await client.get("/api/identifiers", params={"prefix": "88.123.1"}, headers=eng)

    assert seen == [f"88.123.{n % 2}/S{n}" for n in range(5)]
    most = await client.get("/api/identifiers", params={"limit": 500}, headers=eng)
    assert most.status_code == 200 and len(most.json()["identifiers"]) == 5
    assert [i["handle"] for i in line.json()["identifiers"]] == ["88.123.1/S1", "88.123.1/S3"]


async def test_without_a_configured_node_one_is_made_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with open_services(f"sqlite:///{tmp_path / 'c.sqlite'}", tmp_path) as plain:
        key = plain.catalog.create_api_key("acme", Role.VIEWER, "viewer")
        auth = {"Authorization": f"Bearer {key}"}
        monkeypatch.setenv("FACTORYOS_RESOLVER_NODE", "from-env")
        async with asgi_client(create_app(plain)) as c:
            r = await c.get("/api/resolve/88.1/x", headers=auth)
            again = await c.get("/api/resolve/88.1/x", headers=auth)
        assert r.status_code == 404 and r.json()["node"] == "from-env"
        assert again.status_code == 404
        monkeypatch.setenv("FACTORYOS_RESOLVER_TIMEOUT_S", "soon")
        async with asgi_client(create_app(plain)) as c:
            broken = await c.get("/api/resolve/88.1/x", headers=auth)
        assert broken.status_code == 503
        assert "FACTORYOS_RESOLVER_TIMEOUT_S: 'soon'" in broken.json()["detail"]


# -- two real nodes ---------------------------------------------------------------------

START_S = 5.0


@asynccontextmanager
async def serving_on(app: FastAPI, sock: socket.socket) -> AsyncIterator[None]:
    """uvicorn serving ``app`` on the bound ``sock`` (its port known before the app is
    made, so nodes can be configured with each other's URLs) until the block ends."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(int(START_S / 0.01)):
            if server.started:
                break
            await asyncio.sleep(0.01)
        else:
            raise AssertionError(f"uvicorn did not start within {START_S} s")
        yield
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, START_S)


@dataclasses.dataclass
class Node:
    services: Services
    node: IdentifierNode
    sock: socket.socket
    url: str
    key: str  # a viewer key of the node's tenant

    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}"}

    def app(self) -> FastAPI:
        return create_app(dataclasses.replace(self.services, identifiers=self.node))


@contextmanager
def node(where: Path, name: str, tenant: str, parent: "Node | None" = None,
         parent_key: str | None = None) -> Iterator[Node]:  # fmt: skip
    where.mkdir()
    sock = bound_socket()
    with open_services(f"sqlite:///{where / 'catalog.sqlite'}", where) as services:
        catalog = services.catalog
        key = catalog.create_api_key(tenant, Role.VIEWER, f"{tenant}-viewer")
        config = ResolverConfig(
            node=name,
            parent_url=None if parent is None else parent.url,
            parent_key=parent_key if parent_key is not None else (parent.key if parent else None),
            # a real round trip through the parent's API; 1 s proved too short on a loaded
            # 2-core CI machine (timeouts themselves are tested in tests/twin/test_parent.py)
            timeout_s=5.0,
        )
        try:
            made = IdentifierNode.open(catalog, config)
            yield Node(services, made, sock, f"http://127.0.0.1:{sock.getsockname()[1]}", key)
        finally:
            sock.close()


def register(n: Node, tenant: str, prefix: str, handles: dict[str, dict[str, Any]]) -> None:
    tenant_id = n.services.catalog.ensure_tenant(tenant)
    n.node.allocate(prefix, tenant_id, "user olga")
    for handle, record in handles.items():
        n.node.register(handle, record, tenant_id)


async def test_two_nodes_forward_cache_and_fail_cleanly(tmp_path: Path) -> None:
    with (
        node(tmp_path / "root", "root", "supplier") as root,
        node(tmp_path / "plant", "plant", "customer", parent=root) as plant,
    ):
        register(root, "supplier", "88.123", {HANDLE: PUMP})
        register(plant, "customer", "88.200", {"88.200/own-1": {"type": "asset"}})
        async with httpx.AsyncClient(timeout=10) as http:
            root_up = serving_on(root.app(), root.sock)
            await root_up.__aenter__()
            stopped = False
            try:
                async with serving_on(plant.app(), plant.sock):
                    await _forwarding_and_caching(http, root, plant)
                    stopped = True
                    await root_up.__aexit__(None, None, None)  # the parent goes down
                    await _parent_down(http, root, plant)
            finally:
                if not stopped:
                    await root_up.__aexit__(None, None, None)


async def _forwarding_and_caching(http: httpx.AsyncClient, root: Node, plant: Node) -> None:
    at_plant = f"{plant.url}/api/resolve"
    first = await http.get(f"{at_plant}/{HANDLE}", headers=plant.auth())
    second = await http.get(f"{at_plant}/{HANDLE}", headers=plant.auth())

    assert first.status_code == 200, first.text
    a, b = first.json(), second.json()
    assert a["record"] == PUMP
    assert (a["node"], a["hops"], a["cached"]) == ("root", 1, False)
    assert (b["node"], b["hops"], b["cached"]) == ("root", 1, True)
    assert a["history"][0]["events"].startswith(f"{root.url}/api/epcis/events?MATCH_anyEPC=")
    assert root.node.resolver.stats.resolutions == 1  # the second never left the plant
    assert first.headers["X-FactoryOS-Resolver-Node"] == "plant"

    own = (await http.get(f"{at_plant}/88.200/own-1", headers=plant.auth())).json()
    assert (own["node"], own["hops"]) == ("plant", 0)

    for url, auth in ((at_plant, plant.auth()), (f"{root.url}/api/resolve", root.auth())):
        missing = await http.get(f"{url}/88.123/none", headers=auth)
        unserved = await http.get(f"{url}/77.7/none", headers=auth)
        assert missing.status_code == 404, missing.text
        assert (missing.json()["node"], missing.json()["reason"]) == ("root", "no such identifier")
        assert unserved.status_code == 404
        assert unserved.json()["reason"] == "no node serves its prefix"
    batch = await http.post(
        f"{at_plant}", json={"handles": ["88.200/own-1", HANDLE, "88.123/none"]},
        headers=plant.auth(),
    )  # fmt: skip
    assert [(i["status"], i["node"] or i["answer"]["node"]) for i in batch.json()["results"]] == [
        (200, "plant"), (200, "root"), (404, "root"),
    ]  # fmt: skip
    forwarded_before = plant.node.resolver.stats.forwarded
    await http.get(f"{at_plant}/88.123/none", headers=plant.auth())
    assert plant.node.resolver.stats.forwarded == forwarded_before  # cached "not found"


async def _parent_down(http: httpx.AsyncClient, root: Node, plant: Node) -> None:
    at_plant = f"{plant.url}/api/resolve"
    cached = await http.get(f"{at_plant}/{HANDLE}", headers=plant.auth())
    down = await http.get(f"{at_plant}/88.123/other", headers=plant.auth())
    own = await http.get(f"{at_plant}/88.200/own-1", headers=plant.auth())

    assert cached.status_code == 200 and cached.json()["cached"]  # the cache outlives it
    assert down.status_code == 502, down.text
    assert f"parent node {root.url} is unreachable" in down.json()["detail"]
    assert own.status_code == 200  # the plant's own prefixes need no parent


async def test_a_wrong_parent_key_is_a_502_naming_the_setting(tmp_path: Path) -> None:
    with (
        node(tmp_path / "root", "root", "supplier") as root,
        node(tmp_path / "plant", "plant", "customer", parent=root, parent_key="fos_wrong") as plant,
    ):
        register(root, "supplier", "88.123", {HANDLE: PUMP})
        async with (
            serving_on(root.app(), root.sock),
            serving_on(plant.app(), plant.sock),
            httpx.AsyncClient(timeout=10) as http,
        ):
            r = await http.get(f"{plant.url}/api/resolve/{HANDLE}", headers=plant.auth())

    assert r.status_code == 502
    assert "refused this node's credential (401" in r.json()["detail"]
    assert "FACTORYOS_RESOLVER_PARENT_KEY" in r.json()["detail"]
    assert "fos_wrong" not in r.text


async def test_nodes_that_are_each_others_parent_stop_with_a_508(tmp_path: Path) -> None:
    with (
        node(tmp_path / "a", "a", "ta") as a,
        node(tmp_path / "b", "b", "tb", parent=a) as b,
    ):
        # a's parent is b: made after b exists, with b's key, as a misconfiguration would be
        a_config = ResolverConfig(node="a", parent_url=b.url, parent_key=b.key, timeout_s=5.0)
        a.node = IdentifierNode.open(a.services.catalog, a_config)
        async with (
            serving_on(a.app(), a.sock),
            serving_on(b.app(), b.sock),
            httpx.AsyncClient(timeout=30) as http,
        ):
            r = await http.get(f"{a.url}/api/resolve/55.5/x", headers=a.auth())
            hops = await http.get(
                f"{b.url}/api/resolve/55.5/y", headers={**b.auth(), HOPS_HEADER: "65"}
            )

    assert r.status_code == 508, r.text
    assert "point at each other" in r.json()["detail"]
    assert hops.status_code == 422  # a hop count no forwarding node sends
