"""`write_config`: the files it writes, what a re-run keeps, rotates and drops."""

import json
from pathlib import Path

import pytest

from factoryos.security import (
    BrokerConfigError,
    BrokerUser,
    Listener,
    broker_users,
    gateway_node,
    passwd,
)
from factoryos.security import write_config as write
from factoryos.security.credentials import Status
from support.secure_broker import GATEWAY, GROUP, secured_site

LISTENER = Listener(Path("/pki/ca.pem"), Path("/pki/broker.pem"), Path("/pki/broker.key"))


def _users(with_gateway: bool = True) -> list[BrokerUser]:
    return broker_users(secured_site(), [gateway_node(GATEWAY, GROUP)] if with_gateway else [])


def _secrets(out: Path) -> dict[str, str]:
    users: dict[str, str] = json.loads((out / "secrets.json").read_text())["users"]
    return users


def test_files_modes_and_the_conf_snippet(tmp_path: Path) -> None:
    result = write(_users(), tmp_path, LISTENER, origin="site.yaml")
    modes = {p.name: p.stat().st_mode & 0o777 for p in tmp_path.iterdir()}
    assert modes == {"secrets.json": 0o600, "passwd": 0o640, "acl": 0o640, "factoryos.conf": 0o644}
    conf = result.files.conf.read_text().splitlines()
    assert "listener 8883" in conf
    assert "allow_anonymous false" in conf
    assert f"password_file {tmp_path / 'passwd'}" in conf
    assert "cafile /pki/ca.pem" in conf
    assert "require_certificate true" not in conf
    assert {c.status for c in result.credentials} == {Status.NEW}


def test_an_mtls_port_adds_a_listener_where_the_certificate_is_the_login(
    tmp_path: Path,
) -> None:
    mtls = Listener(LISTENER.cafile, LISTENER.certfile, LISTENER.keyfile, mtls_port=8884)
    conf = write(_users(), tmp_path, mtls, origin="s").files.conf.read_text()
    password_listener, cert_listener = conf.split("listener ")[1:]
    assert password_listener.startswith("8883\n")
    assert "require_certificate" not in password_listener
    assert cert_listener.startswith("8884\n")
    assert "require_certificate true\nuse_identity_as_username true\n" in cert_listener


def test_a_rerun_keeps_every_secret_and_byte_and_rotate_replaces_one(tmp_path: Path) -> None:
    write(_users(), tmp_path, LISTENER, origin="site.yaml")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    again = write(_users(), tmp_path, LISTENER, origin="site.yaml")
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before
    assert {c.status for c in again.credentials} == {Status.KEPT}
    old = _secrets(tmp_path)
    rotated = write(_users(), tmp_path, LISTENER, origin="site.yaml", rotate=["sensors-a"])
    new = _secrets(tmp_path)
    assert new["sensors-a"] != old["sensors-a"]
    assert {u: p for u, p in new.items() if u != "sensors-a"} == {
        u: p for u, p in old.items() if u != "sensors-a"
    }
    statuses = {c.user: c.status for c in rotated.credentials}
    assert statuses["sensors-a"] is Status.ROTATED
    assert statuses[GATEWAY] is Status.KEPT


def test_a_user_the_site_no_longer_has_is_dropped_everywhere(tmp_path: Path) -> None:
    write(_users(), tmp_path, LISTENER, origin="site.yaml")
    result = write(_users(with_gateway=False), tmp_path, LISTENER, origin="site.yaml")
    assert result.removed == [GATEWAY]
    assert GATEWAY not in _secrets(tmp_path)
    assert GATEWAY not in passwd.parse((tmp_path / "passwd").read_text())
    assert f"user {GATEWAY}\n" not in (tmp_path / "acl").read_text()


def test_rotating_an_unknown_user_changes_nothing(tmp_path: Path) -> None:
    write(_users(), tmp_path, LISTENER, origin="site.yaml")
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}
    with pytest.raises(BrokerConfigError, match="--rotate nobody: no broker user"):
        write(_users(), tmp_path, LISTENER, origin="site.yaml", rotate=["nobody"])
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir()} == before


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{not json", "not JSON"),
        ('{"users": {}}', "not a secrets file of format factoryos-broker-secrets/1"),
        (
            '{"format": "factoryos-broker-secrets/1", "users": {"a": 1}}',
            "users.a: the password must be a non-empty string",
        ),
    ],
)
def test_a_broken_secrets_file_is_refused_naming_it(
    tmp_path: Path, content: str, message: str
) -> None:
    (tmp_path / "secrets.json").write_text(content)
    with pytest.raises(BrokerConfigError, match=f"secrets.json: {message}"):
        write(_users(), tmp_path, LISTENER, origin="site.yaml")
    assert not (tmp_path / "passwd").exists()
