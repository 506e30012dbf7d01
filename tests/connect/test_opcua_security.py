"""Basic256Sha256 Sign / SignAndEncrypt, trust lists and passwords against the simulator."""

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import pytest_asyncio
from asyncua.crypto.cert_gen import (
    dump_private_key_as_pem,
    generate_private_key,
    generate_self_signed_app_certificate,
)
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import ExtendedKeyUsageOID

from factoryos.connect.errors import SecurityError
from factoryos.connect.opcua import OpcUaDriver
from factoryos.connect.opcua_session import open_client
from factoryos.connect.points import Point
from factoryos.model.devices import OpcUaDevice
from factoryos.model.quality import Quality
from factoryos.model.samples import SampleBatch
from factoryos.model.site import SiteFile
from factoryos.model.tags import Tag
from factoryos.sim import VirtualFactory, load_demo_site
from factoryos.sim.opcua import OpcUaFactoryServer, ServerSecurity, node_id
from support.ports import free_port

POWER = "demo/machining/line1/cell1/cnc-01/power_kw"
PASSWORD_ENV = "FACTORYOS_TEST_OPCUA_PASSWORD"

SHARED = pytest.mark.asyncio(loop_scope="module")  # tests on the module's server


async def _eventually(check: Callable[[], bool], timeout_s: float = 5.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not true within {timeout_s} s")
        await asyncio.sleep(0.02)


@dataclass(frozen=True)
class Pair:
    certificate: Path
    key: Path


def _pair(directory: Path, name: str, uri: str, usage: x509.ObjectIdentifier) -> Pair:
    key = generate_private_key()
    names: list[x509.GeneralName] = [
        x509.UniformResourceIdentifier(uri),
        x509.DNSName(socket.gethostname()),
    ]
    cert = generate_self_signed_app_certificate(key, name, {}, names, [usage], days=2)
    private = directory.parent / "private"  # keys never sit in a trust list directory
    directory.mkdir(parents=True, exist_ok=True)
    private.mkdir(exist_ok=True)
    pair = Pair(directory / f"{name}.der", private / f"{name}.pem")
    pair.certificate.write_bytes(cert.public_bytes(Encoding.DER))
    pair.key.write_bytes(dump_private_key_as_pem(key))
    return pair


@dataclass(frozen=True)
class Pki:
    server: Pair
    trusted_client: Pair
    stranger: Pair  # a client certificate the server does not trust


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("pki")
    server = _pair(root / "own", "server", "urn:factoryos:sim", ExtendedKeyUsageOID.SERVER_AUTH)
    client_auth = ExtendedKeyUsageOID.CLIENT_AUTH
    trusted = _pair(root / "trusted", "client", "urn:factoryos:client", client_auth)
    stranger = _pair(root / "other", "stranger", "urn:factoryos:stranger", client_auth)
    return Pki(server, trusted, stranger)


@pytest.fixture(scope="module")
def demo() -> SiteFile:
    return load_demo_site()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def secure_server(pki: Pki, demo: SiteFile) -> AsyncIterator[OpcUaFactoryServer]:
    security = ServerSecurity(
        pki.server.certificate, pki.server.key, trusted=pki.trusted_client.certificate.parent
    )
    server = OpcUaFactoryServer(
        VirtualFactory(demo, seed=2),
        f"opc.tcp://127.0.0.1:{free_port()}/",
        security=security,
        users={"operator": "s3cret"},
    )
    async with server:
        yield server


def _device(
    server: OpcUaFactoryServer, pki: Pki, client: Pair, mode: str = "SignAndEncrypt"
) -> OpcUaDevice:
    return OpcUaDevice(
        name="secure",
        protocol="opcua",
        endpoint=server.endpoint,
        security_policy="Basic256Sha256",
        security_mode=mode,  # type: ignore[arg-type]
        certificate=client.certificate,
        private_key=client.key,
        server_certificate=pki.server.certificate,
        username="operator",
        password_env=PASSWORD_ENV,
        publishing_interval_s=0.05,
        sampling_interval_s=0.05,
    )


@pytest.mark.parametrize("mode", ["Sign", "SignAndEncrypt"])
@SHARED
async def test_a_trusted_client_with_the_right_password_gets_data(
    secure_server: OpcUaFactoryServer, pki: Pki, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    device = _device(secure_server, pki, pki.trusted_client, mode)
    driver = OpcUaDriver(device, [Point(1, Tag(name="power", opcua={"node_id": node_id(POWER)}))])
    batches: list[SampleBatch] = []

    async def publish(batch: SampleBatch) -> None:
        batches.append(batch)

    stop = asyncio.Event()
    task = asyncio.create_task(driver.run(publish, stop))
    await _eventually(lambda: bool(batches))
    stop.set()
    await asyncio.wait_for(task, 5)
    got = SampleBatch.concat(batches)
    assert got.values.tolist() == [secure_server.factory.value(POWER)]
    assert got.quality.tolist() == [Quality.GOOD]


@SHARED
async def test_a_wrong_password_is_refused(
    secure_server: OpcUaFactoryServer, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "guess")
    with pytest.raises(SecurityError, match=r"BadUserAccessDenied|BadIdentityToken"):
        await open_client(_device(secure_server, pki, pki.trusted_client))


@SHARED
async def test_an_untrusted_client_certificate_is_refused(
    secure_server: OpcUaFactoryServer, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    with pytest.raises(SecurityError, match="BadCertificateUntrusted"):
        await open_client(_device(secure_server, pki, pki.stranger))


@SHARED
async def test_a_server_with_another_certificate_is_refused(
    secure_server: OpcUaFactoryServer, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    pinned = _device(secure_server, pki, pki.trusted_client).model_copy(
        update={"server_certificate": pki.stranger.certificate}
    )
    with pytest.raises(SecurityError, match="certificate is not server_certificate"):
        await open_client(pinned)


async def test_a_mode_the_server_does_not_offer_is_named(
    demo: SiteFile, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "s3cret")
    security = ServerSecurity(
        pki.server.certificate,
        pki.server.key,
        trusted=pki.trusted_client.certificate.parent,
        modes=("SignAndEncrypt",),
    )
    endpoint = f"opc.tcp://127.0.0.1:{free_port()}/"
    async with OpcUaFactoryServer(VirtualFactory(demo), endpoint, security=security) as server:
        with pytest.raises(SecurityError, match="no Basic256Sha256 Sign endpoint"):
            await open_client(_device(server, pki, pki.trusted_client, "Sign"))


@SHARED
async def test_the_driver_keeps_retrying_and_reports_bad_when_refused(
    secure_server: OpcUaFactoryServer, pki: Pki, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(PASSWORD_ENV, "guess")
    device = _device(secure_server, pki, pki.trusted_client)
    driver = OpcUaDriver(
        device, [Point(1, Tag(name="power", opcua={"node_id": node_id(POWER)}))], max_backoff_s=0.1
    )
    batches: list[SampleBatch] = []

    async def publish(batch: SampleBatch) -> None:
        batches.append(batch)

    stop = asyncio.Event()
    task = asyncio.create_task(driver.run(publish, stop))
    await _eventually(lambda: driver.stats.failed_attempts >= 2)
    stop.set()
    await asyncio.wait_for(task, 5)
    assert len(batches) == 1 and batches[0].quality.tolist() == [Quality.BAD]  # once
    assert driver.stats.last_error is not None and "operator" not in driver.stats.last_error
    assert "refused" in driver.stats.last_error
