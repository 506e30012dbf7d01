"""Schemathesis against the app's own OpenAPI description, in process (ASGI): requests for
every operation, generated from its schema (valid ones and invalid ones), sent without a
credential, with a viewer's key and with an admin's key of tenant acme.

What must hold, whatever the request:

- nobody gets a 5xx;
- without a credential (or with a made-up one), every operation but the public ones
  (``RULES``) answers 401. This is the auth-bypass check: the same cases succeed with a
  key;
- a valid key is never answered 401 or 429, and never gets a 2xx from an operation the
  access table reserves for a higher role (or for platform operators);
- answers match their documented schema, media type and headers.

Statuses the description does not list yet (401/403/404/…) are counted as notes, not
failures: they are documentation gaps for the routes' ``responses=``.

The cases are generated once per module (deterministic: ``derandomize``) and replayed with
each credential, each run against a fresh app (its own failed-credential limiter); the
counts go to ``security-counts/fuzz-*.json`` under pytest's base temporary directory (see
tests/support/tally.py).
"""

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis import Case, GenerationMode, Response
from schemathesis.checks import CheckFunction, not_a_server_error
from schemathesis.core.failures import Failure, FailureGroup
from schemathesis.specs.openapi import checks

from factoryos.api import Services, create_app
from factoryos.api.authz import PLATFORM, PUBLIC, RULES, Access
from factoryos.api.deps import CREDENTIAL_LIMIT, CREDENTIAL_WINDOW_S
from factoryos.api.ratelimit import FailureLimiter
from factoryos.store.catalog import Catalog, Role
from support.asgi import asgi_client
from support.tally import Tally
from support.tenants import Tenant, make_tenant, open_services

MAX_EXAMPLES = 10
"""Per operation and generation mode: 101 operations make about 2,000 cases, sent three times.
Ten of each kind still reach every operation with valid and invalid input; twenty doubled the
suite's slowest module (85 s on two cores, most of it generation and argon2 hashing)."""
GENERATION = settings(
    max_examples=MAX_EXAMPLES,
    derandomize=True,  # the same cases on every run: CI is deterministic
    database=None,
    deadline=None,
    phases=[Phase.generate],
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
STRICT: list[CheckFunction] = [
    not_a_server_error,
    checks.response_schema_conformance,
    checks.content_type_conformance,
    checks.response_headers_conformance,
]
NOTED: list[CheckFunction] = [
    checks.status_code_conformance,
    checks.positive_data_acceptance,
    checks.negative_data_rejection,
]
"""Counted, not failed: statuses the description omits; valid-looking requests the service
refuses on grounds a schema cannot say (a site file that is not a site); invalid ones it
accepts (a scalar query parameter sent twice: FastAPI takes one of them)."""


def access_by_label() -> dict[str, Access]:
    """RULES keyed like schemathesis' labels (``GET /api/tags/{path}``: no converter)."""
    return {m + " " + re.sub(r"\{(\w+):\w+\}", r"{\1}", p): a for (m, p), a in RULES.items()}


ACCESS = access_by_label()
Transport = dict[str, Any]
"""How a case was sent: ``headers`` (added to the case's own) and ``app``."""
Judge = Callable[[Case, Response, Transport], str | None]
"""What is wrong with the answer to a case sent that way, if anything."""


@dataclass
class Caller:
    """A key of ``tenant`` with ``role``, minted again when a fuzzed ``DELETE /api/keys/{id}``
    revoked it (the admin may revoke its own key), so a later 401 is always a failure."""

    catalog: Catalog
    tenant: str
    role: Role
    key: str
    renewed: int = 0

    def headers(self) -> dict[str, str]:
        if self.catalog.authenticate(self.key) is None:
            self.key = self.catalog.create_api_key(self.tenant, self.role, "fuzz")
            self.renewed += 1
        return {"Authorization": f"Bearer {self.key}"}


@dataclass(frozen=True)
class World:
    services: Services
    acme: Tenant
    cases: list[Case]
    operations: set[str]
    """Every operation of the OpenAPI description, as schemathesis labels them."""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    where = tmp_path_factory.mktemp("fuzz")
    with open_services(f"sqlite:///{where / 'catalog.sqlite'}", where) as services:
        acme = make_tenant(services.catalog, "acme")
        make_tenant(services.catalog, "globex")
        app = create_app(services)
        paths = app.openapi()["paths"]
        operations = {f"{method.upper()} {path}" for path, ops in paths.items() for method in ops}
        cases = generate(schemathesis.openapi.from_asgi("/openapi.json", app))
        yield World(services, acme, cases, operations)


def generate(schema: schemathesis.BaseSchema) -> list[Case]:
    """``MAX_EXAMPLES`` valid and as many invalid requests for every operation."""
    cases: list[Case] = []
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @GENERATION
            @given(case=operation.as_strategy(generation_mode=mode))
            def collect(case: Case) -> None:
                cases.append(case)

            collect()
    return cases


def refused_before_the_gate(response: Response) -> bool:
    """FastAPI reads a JSON body before any dependency runs, so a body that is not JSON at
    all is refused (400/422) before the credential is looked at. Nothing is disclosed but
    that the body is malformed; the handler never runs."""
    if response.status_code == 400:
        return "error parsing the body" in response.text
    return response.status_code == 422 and '"json_invalid"' in response.text


def unrouted(response: Response) -> bool:
    """Starlette's answer when no route matches the URL (a path converter refuses a newline,
    say): the same for every caller, so no route is reached without a credential."""
    return response.status_code == 404 and response.text == '{"detail":"Not Found"}'


def replay(
    world: World, app: FastAPI, tally: Tally, headers: Callable[[], dict[str, str]], judge: Judge
) -> None:
    """Sends every case to ``app`` with ``headers()`` (over the case's own) and lets
    ``judge`` find what is wrong with each answer."""
    for case in world.cases:
        transport = {"headers": headers(), "app": app}
        response = case.call(**transport)
        tally.sent(case.operation.label, response.status_code)
        problem = judge(case, response, transport)
        if problem is not None:
            tally.fail(f"{problem}: {response.status_code} {response.text[:200]}\n  {_curl(case)}")


def _curl(case: Case) -> str:
    return case.as_curl_command()[:400]


def test_without_a_credential_only_public_operations_answer(
    world: World, tmp_path_factory: pytest.TempPathFactory
) -> None:
    tally = Tally("fuzz-anonymous")

    def judge(case: Case, response: Response, _transport: Transport) -> str | None:
        if response.status_code >= 500:
            return "server error"
        if ACCESS[case.operation.label] is PUBLIC or response.status_code == 401:
            return None
        if refused_before_the_gate(response):
            tally.notes["body refused before the credential check"] += 1
        elif unrouted(response):
            tally.notes["no route matches the URL (404)"] += 1
        else:
            return "not refused without a credential"
        return None

    app = create_app(world.services)
    # every made-up credential must meet the gate, not the per-address limiter in front of
    # it (tests/api/test_users.py tests the limiter)
    app.state.credential_limiter = FailureLimiter(10**6, CREDENTIAL_WINDOW_S)
    replay(world, app, tally, dict, judge)
    tally.report(tmp_path_factory)
    assert tally.operations == world.operations
    assert not tally.failures, tally.verdict()


def validate(case: Case, response: Response, transport: Transport, tally: Tally) -> None:
    """Schemathesis' own checks: STRICT ones fail the test, NOTED ones are counted."""
    for check in STRICT + NOTED:
        failure = _check(case, response, transport, check)
        if failure is None:
            continue
        if check in NOTED:
            tally.notes[f"{failure.title}: {case.operation.label} -> {response.status_code}"] += 1
        else:
            tally.fail(f"{failure.title}: {failure.message[:300]}\n  {_curl(case)}")


def _check(
    case: Case, response: Response, transport: Transport, check: CheckFunction
) -> Failure | None:
    try:
        case.validate_response(response, checks=[check], transport_kwargs=transport)
    except FailureGroup as group:
        return group.exceptions[0]
    return None


def _role_judge(caller: Caller, tally: Tally) -> Judge:
    def judge(case: Case, response: Response, transport: Transport) -> str | None:
        validate(case, response, transport, tally)
        access = ACCESS[case.operation.label]
        if response.status_code >= 500:
            return "server error"
        if response.status_code in (401, 429) and access is not PUBLIC:
            return f"a valid {caller.role.label} key refused"
        above = access is PLATFORM or (isinstance(access, Role) and access > caller.role)
        if above and response.status_code < 300:
            needed = access.label if isinstance(access, Role) else access.value
            return f"a {caller.role.label} got through to a {needed} operation"
        return None

    return judge


@pytest.mark.parametrize("role", [Role.VIEWER, Role.ADMIN])
def test_with_a_key_no_server_error_no_escalation_answers_as_documented(
    world: World, tmp_path_factory: pytest.TempPathFactory, role: Role
) -> None:
    caller = Caller(world.services.catalog, "acme", role, world.acme.key(role))
    tally = Tally(f"fuzz-{role.label}")
    replay(world, create_app(world.services), tally, caller.headers, _role_judge(caller, tally))
    tally.notes["keys minted again after a fuzzed revocation"] = caller.renewed
    tally.report(tmp_path_factory)
    assert tally.operations == world.operations
    assert not tally.failures, tally.verdict()


async def test_bad_credentials_from_an_address_do_not_lock_out_its_valid_keys(
    world: World,
) -> None:
    async with asgi_client(create_app(world.services)) as c:
        for _ in range(CREDENTIAL_LIMIT):
            revoked = await c.get("/api/me", headers={"X-API-Key": "fos_revoked"})
            assert revoked.status_code == 401
        assert (await c.get("/api/me", headers={"X-API-Key": "fos_revoked"})).status_code == 429
        fresh = world.services.catalog.create_api_key("acme", Role.VIEWER, "lockout-check")
        valid = await c.get("/api/me", headers={"X-API-Key": fresh})  # the fuzz may revoke keys
    assert valid.status_code == 200, valid.text
