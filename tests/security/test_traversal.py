"""Path traversal against a real uvicorn: the static files (``/static/…``) and the tag routes
(``/api/tags/{path:path}``, ``…/write``) never serve a file outside the static directory,
whatever the spelling: ``../``, ``%2e%2e/``, encoded slashes and backslashes, double
encoding, overlong UTF-8, absolute paths, a NUL byte.

The targets are files whose content we know: a secret file and the catalog next to the
test, this package's own source and pyproject.toml, /etc/passwd. Requests go over a raw
socket so the target reaches the server exactly as written (httpx would fold ``..``).
"""

import os
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest
from fastapi import FastAPI

from factoryos.api import Services
from factoryos.store.catalog import Role
from factoryos.web.pages import WEB_DIR
from support.serving import Answer, send_raw, serving
from support.tally import Tally
from support.tenants import Tenant, acme, app, services

__all__ = ["acme", "app", "services"]  # fixtures, used by name

STATIC = WEB_DIR / "static"
SOURCE = WEB_DIR / "pages.py"
PYPROJECT = WEB_DIR.parents[2] / "pyproject.toml"  # the checkout the tests run from


@dataclass(frozen=True)
class Target:
    path: Path
    marker: bytes
    """Bytes of the file that no answer may contain."""


@pytest.fixture
def targets(tmp_path: Path, services: Services) -> list[Target]:
    secret = tmp_path / "secret.txt"
    secret.write_text("traversal-canary-7f3a\n")
    catalog = Path(services.catalog.url.removeprefix("sqlite:///"))
    found = [
        Target(secret, b"traversal-canary-7f3a"),
        Target(catalog, b"SQLite format 3"),
        Target(SOURCE, b"def mount_web"),
        Target(PYPROJECT, b'name = "factoryos"'),
        Target(Path("/etc/passwd"), b"root:"),
    ]
    for t in found:
        assert t.marker in t.path.read_bytes(), t.path  # else the test would prove nothing
    return found


def spellings(target: Path) -> list[str]:
    """Ways to write ``target`` relative to the static directory (and absolutely)."""
    up = os.path.relpath(target, STATIC)  # ../../x
    root = "../" * len(STATIC.parts) + str(target).lstrip("/")  # ../../../../../etc/x
    absolute = str(target)
    found = []
    for rel in (up, root):
        found += [
            rel,
            rel.replace("..", "%2e%2e"),
            rel.replace("../", "..%2f"),
            rel.replace("../", "%2e%2e%2f"),
            rel.replace("../", "%252e%252e%252f"),  # double encoding
            rel.replace("../", "..\\"),
            rel.replace("../", "..%5c"),
            rel.replace("../", "....//"),
            rel.replace("../", "..;/"),
            rel.replace("../", "%c0%ae%c0%ae/"),  # overlong UTF-8 dots
            rel + "%00.css",
        ]
    return [*found, absolute, "/" + absolute, quote(absolute, safe=""), "." + absolute]


@pytest.fixture
async def port(app: FastAPI) -> AsyncIterator[int]:
    async with serving(app) as port:
        yield port


async def test_static_files_are_served_but_nothing_outside_them(
    port: int, targets: list[Target], tmp_path_factory: pytest.TempPathFactory
) -> None:
    # dot segments reach the file resolver, which keeps them inside the static directory
    for inside in ("/static/app.css", "/static/vendor/../app.css", "/static/vendor/%2e%2e/app.css"):
        assert (await send_raw(port, "GET", inside)).status == 200, inside
    tally = Tally("traversal-static")
    for target in targets:
        for spelled in spellings(target.path):
            answer = await send_raw(port, "GET", "/static/" + spelled)
            _judge(tally, "GET /static", spelled, answer, targets)
    tally.report(tmp_path_factory)
    assert not tally.failures, tally.verdict()
    assert tally.requests > 100


async def test_tag_routes_resolve_no_file_and_no_other_route(
    port: int, acme: Tenant, targets: list[Target], tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A tag path is a name in the catalog: ``..`` in it reaches neither a file nor another
    route (``/api/tags/../keys`` is not the admin's key list)."""
    tally = Tally("traversal-tags")
    engineer = acme.auth(Role.ENGINEER)
    write = {"Content-Type": "application/json"} | engineer
    for spelled in [s for t in targets for s in spellings(t.path)] + ["../keys", "..%2fkeys"]:
        answer = await send_raw(port, "GET", "/api/tags/" + spelled, engineer)
        _judge(tally, "GET /api/tags/{path}", spelled, answer, targets)
        answer = await send_raw(port, "POST", f"/api/tags/{spelled}/write", write, b'{"value": 1}')
        _judge(tally, "POST /api/tags/{path}/write", spelled, answer, targets)
    tally.report(tmp_path_factory)
    assert not tally.failures, tally.verdict()


def _judge(tally: Tally, label: str, spelled: str, answer: Answer, targets: list[Target]) -> None:
    tally.sent(label, answer.status)
    leaked = [t.path.name for t in targets if t.marker in answer.raw]
    if leaked or answer.status < 300 or answer.status >= 500:
        tally.fail(f"{label} {spelled!r}: {answer.status}, leaked {leaked}: {answer.raw[:200]!r}")
