"""A private Mosquitto running exactly what `factoryos broker config` generates for a test
site (two MQTT devices and a Sparkplug node) and a gateway, with a local CA for its TLS."""

import asyncio
import contextlib
import os
import pwd
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiomqtt
import pytest

from factoryos.model.site import SiteFile, parse_site
from factoryos.security import BrokerConfig, Listener, broker_users, gateway_node, write_config
from factoryos.security.credentials import load as load_secrets
from factoryos.security.pki import PkiDir, create_ca, issue_client, issue_server, save
from support.mqtt import HOST, MOSQUITTO_FOUND, Mosquitto, reachable
from support.ports import free_ports
from support.sites import Cell, Equipment, site_yaml

GROUP = "plant1"
A_TOPIC = "plant1/cnc-01/power_kw"  # sensors-a's, from its topic template
B_TOPIC = "vendor/b/temp"  # sensors-b's, the tag's own topic
SITE_NODE = "press-node"  # the site's Sparkplug edge node
GATEWAY = "line1-gw"

CELL = Cell(
    "machining",
    "line1",
    "cell1",
    (
        Equipment("cnc-01", ("{name: power_kw, mqtt: {}}",), device="sensors-a"),
        Equipment("cnc-02", (f"{{name: temp_c, mqtt: {{topic: {B_TOPIC}}}}}",), device="sensors-b"),
        Equipment("press-01", ("{name: force_kn, sparkplug: {metric: force}}",), device="press"),
    ),
)
DEVICES = (
    "{name: sensors-a, protocol: mqtt, topic_template: 'plant1/{equipment}/{tag}'}",
    "{name: sensors-b, protocol: mqtt}",
    f"{{name: press, protocol: sparkplug_b, group_id: {GROUP}, edge_node_id: {SITE_NODE}}}",
)


def secured_site() -> SiteFile:
    return parse_site(site_yaml("acme", cells=(CELL,), devices=DEVICES))


def make_pki(directory: Path) -> PkiDir:
    """A CA, a server certificate for 127.0.0.1 and localhost, and client certificates for
    sensors-a and for a stranger, a name the site does not have."""
    where = PkiDir(directory)
    ca = create_ca()
    save(ca, where.ca)
    save(issue_server(ca, "broker", ["localhost"], ["127.0.0.1"]), where.files("broker"))
    for name in ("sensors-a", "stranger"):
        save(issue_client(ca, name), where.files(name))
    return where


def tls(pki: PkiDir, client: str | None = None) -> ssl.SSLContext:
    """Trusts the local CA; presents ``client``'s certificate when given."""
    context = ssl.create_default_context(cafile=pki.ca[0])
    if client is not None:
        context.load_cert_chain(*pki.files(client))
    return context


@dataclass
class SecuredBroker:
    broker: Mosquitto
    config: BrokerConfig
    pki: PkiDir
    mtls_port: int | None = None

    @property
    def port(self) -> int:
        return self.broker.port

    def password(self, user: str) -> str:
        return load_secrets(self.config.files.secrets)[user]

    def client(
        self,
        user: str | None,
        password: str | None = None,
        context: ssl.SSLContext | None = None,
        port: int | None = None,
    ) -> aiomqtt.Client:
        """A client of ``user`` with its generated password (unless one is given), trusting
        the local CA (unless another ``context`` is given)."""
        if password is None and user is not None:
            password = self.password(user)
        return aiomqtt.Client(
            HOST,
            port or self.port,
            username=user,
            password=password,
            tls_context=context or tls(self.pki),
            timeout=5,
        )


@contextlib.asynccontextmanager
async def started_broker(
    tmp_path: Path, pki: PkiDir, *, mtls: bool = False
) -> AsyncIterator[SecuredBroker]:
    """Generate the config of the test site and gateway into ``tmp_path/broker``, and run a
    Mosquitto on it: its TLS listener (and with ``mtls`` its mTLS listener) on free ports of
    127.0.0.1."""
    if not MOSQUITTO_FOUND:
        pytest.skip("Mosquitto is not installed (/usr/sbin/mosquitto)")
    port, mtls_port = free_ports(2)
    certfile, keyfile = pki.files("broker")
    listener = Listener(
        pki.ca[0], certfile, keyfile, port=port, mtls_port=mtls_port if mtls else None, bind=HOST
    )
    users = broker_users(secured_site(), [gateway_node(GATEWAY, GROUP)])
    config = write_config(users, tmp_path / "broker", listener, origin="site.yaml")
    # Started as root, Mosquitto would drop to user mosquitto before it reads the password
    # file (0640, ours): keep it the user running the tests, as `chgrp mosquitto` would.
    me = pwd.getpwuid(os.geteuid()).pw_name
    conf = f"{config.files.conf.read_text()}user {me}\n"
    broker = Mosquitto(tmp_path, conf=conf, port=port)
    try:
        await broker.start()
        async with asyncio.timeout(5):
            while mtls and not reachable(mtls_port):  # noqa: ASYNC110 (a port to wait for)
                await asyncio.sleep(0.05)
        yield SecuredBroker(broker, config, pki, listener.mtls_port)
    finally:
        broker.stop()
