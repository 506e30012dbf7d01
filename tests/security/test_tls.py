"""TLS with the local CA: the broker's generated listener (with and without mutual TLS) and
the API served by the platform with a certificate from the CA."""

import asyncio
import ssl
from pathlib import Path

import aiomqtt
import httpx
import pytest

from factoryos.runtime.platform import Platform
from factoryos.runtime.settings import ServerTls, Settings
from factoryos.security.pki import PkiDir, issue_server, load, save
from factoryos.sim import load_demo_site, with_ports
from support.mqtt import HOST
from support.ports import free_ports
from support.secure_broker import A_TOPIC, B_TOPIC, SecuredBroker, tls


async def test_a_client_trusting_the_local_ca_connects(secured: SecuredBroker) -> None:
    async with secured.client("factoryos") as client:
        await client.publish("factoryos/v1/plant1/x", b"1", qos=1)


async def test_a_client_without_the_local_ca_is_refused(secured: SecuredBroker) -> None:
    # At the TLS layer: paho leaks the socket of a failed handshake (an unraisable warning).
    system_trust = ssl.create_default_context()
    with pytest.raises(ssl.SSLCertVerificationError):
        await asyncio.open_connection(HOST, secured.port, ssl=system_trust)


async def test_under_mtls_a_client_certificate_is_the_login(
    secured_mtls: SecuredBroker,
) -> None:
    broker = secured_mtls
    platform = broker.client("factoryos")  # with its password, on the TLS listener

    def by_certificate(name: str) -> aiomqtt.Client:
        return broker.client(None, context=tls(broker.pki, name), port=broker.mtls_port)

    async with platform:
        await platform.subscribe("#", qos=1)
        async with by_certificate("stranger") as stranger:  # in the CA, not in the ACL
            await stranger.publish(A_TOPIC, b"stranger", qos=1)
        async with by_certificate("sensors-a") as device:  # logged in as its CN
            await device.publish(B_TOPIC, b"forged", qos=1)
            await device.publish(A_TOPIC, b"mine", qos=1)
        async with asyncio.timeout(5):
            message = await anext(aiter(platform.messages))
    assert (str(message.topic), message.payload) == (A_TOPIC, b"mine")


async def test_under_mtls_a_client_without_a_certificate_is_refused(
    secured_mtls: SecuredBroker,
) -> None:
    # TLS 1.3: the client's side of the handshake ends before the broker has judged its
    # (missing) certificate; the broker's verdict is the first thing the client reads.
    reader, writer = await asyncio.open_connection(
        HOST, secured_mtls.mtls_port, ssl=tls(secured_mtls.pki)
    )
    try:
        with pytest.raises(ssl.SSLError, match="CERTIFICATE_REQUIRED"):
            async with asyncio.timeout(5):
                await reader.read(1)
    finally:
        writer.close()


def _api_certificate(pki: PkiDir) -> ServerTls:
    issued = issue_server(load(pki.ca), "api", ["localhost"], [HOST])
    save(issued, pki.files("api"))
    return ServerTls(*pki.files("api"))


async def test_the_api_serves_https_with_a_certificate_of_the_local_ca(
    tmp_path: Path, pki: PkiDir
) -> None:
    server_tls = _api_certificate(pki)
    site = load_demo_site()  # its devices are absent: their drivers keep retrying meanwhile
    *device_ports, port = free_ports(len(site.devices) + 1)
    names = [d.name for d in site.devices]
    site = with_ports(site, dict(zip(names, device_ports, strict=True)))
    platform = Platform(site, tmp_path)
    ready, stop = asyncio.Event(), asyncio.Event()
    running = asyncio.create_task(platform.run(HOST, port, stop, ready.set, tls=server_tls))
    url = f"https://{HOST}:{port}/api/health"
    try:
        async with asyncio.timeout(10):
            await ready.wait()
        async with httpx.AsyncClient(verify=tls(pki), timeout=5) as trusting:
            assert (await trusting.get(url)).status_code == 200
        async with httpx.AsyncClient(timeout=5) as system_trust:
            with pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY_FAILED"):
                await system_trust.get(url)
    finally:
        stop.set()
        await running
        platform.close()


def test_settings_take_the_api_certificate_from_the_environment(
    pki: PkiDir, monkeypatch: pytest.MonkeyPatch
) -> None:
    server_tls = _api_certificate(pki)
    monkeypatch.setenv("FACTORYOS_TLS_CERT", str(server_tls.certfile))
    monkeypatch.setenv("FACTORYOS_TLS_KEY", str(server_tls.keyfile))
    assert Settings().server_tls() == server_tls
    monkeypatch.delenv("FACTORYOS_TLS_KEY")
    with pytest.raises(ValueError, match="FACTORYOS_TLS_CERT and FACTORYOS_TLS_KEY go together"):
        Settings()
