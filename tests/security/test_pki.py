"""The local CA: what it signs, what it refuses, and how its files are written."""

import ipaddress
import re
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from factoryos.security.errors import PkiError
from factoryos.security.pki import (
    PkiDir,
    create_ca,
    issue_client,
    issue_server,
    load,
    save,
)

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _openssl_verify(ca: Path, cert: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", "verify", "-x509_strict", "-CAfile", str(ca), str(cert)],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )


def test_a_server_certificate_names_its_hosts_and_verifies_strictly(tmp_path: Path) -> None:
    ca = create_ca(now=NOW)
    server = issue_server(ca, "broker", ["broker.example", "localhost"], ["10.0.0.5"], now=NOW)
    sans = server.cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["broker.example", "localhost"]
    assert sans.get_values_for_type(x509.IPAddress) == [ipaddress.ip_address("10.0.0.5")]
    usage = server.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert server.cert.not_valid_after_utc == NOW + timedelta(days=730)
    where = PkiDir(tmp_path)
    save(ca, where.ca)
    save(server, where.files("broker"))
    result = _openssl_verify(where.ca[0], where.files("broker")[0])
    assert result.returncode == 0, result.stderr


def test_a_client_certificate_carries_its_name_as_common_name() -> None:
    client = issue_client(create_ca(), "line1-gw")
    assert client.common_name == "line1-gw"
    usage = client.cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(usage) == [ExtendedKeyUsageOID.CLIENT_AUTH]


def test_the_ca_signs_end_certificates_only() -> None:
    ca = create_ca(now=NOW)
    basic = ca.cert.extensions.get_extension_for_class(x509.BasicConstraints).value
    assert (basic.ca, basic.path_length) == (True, 0)
    assert ca.cert.not_valid_after_utc == NOW + timedelta(days=3650)


@pytest.mark.parametrize(
    ("dns", "ips", "message"),
    [
        ([], [], "at least one --dns name or --ip"),
        (["bad host"], [], "--dns 'bad host': not a DNS name"),
        ([], ["300.1.1.1"], "--ip '300.1.1.1': not an IP address"),
    ],
)
def test_bad_server_names_are_refused(dns: list[str], ips: list[str], message: str) -> None:
    with pytest.raises(PkiError, match=message):
        issue_server(create_ca(), "broker", dns, ips)


def test_no_certificate_outlives_its_ca() -> None:
    ca = create_ca(days=30, now=NOW)
    with pytest.raises(PkiError, match="the CA expires on 2026-01-31"):
        issue_client(ca, "gw", days=60, now=NOW)


def test_names_that_are_no_file_stems_are_refused() -> None:
    with pytest.raises(PkiError, match=re.escape("name '../etc/x'")):
        issue_client(create_ca(), "../etc/x")


def test_keys_are_private_and_nothing_is_overwritten_unless_asked(tmp_path: Path) -> None:
    where = PkiDir(tmp_path / "pki")
    first = create_ca()
    save(first, where.ca)
    cert, key = where.ca
    assert key.stat().st_mode & 0o777 == 0o600
    assert cert.stat().st_mode & 0o777 == 0o644
    with pytest.raises(PkiError, match=r"will not replace .*ca\.pem.*pass --force"):
        save(create_ca(), where.ca)
    assert load(where.ca).cert == first.cert
    second = create_ca()
    save(second, where.ca, overwrite=True)
    assert load(where.ca).cert == second.cert


def test_a_key_of_another_certificate_is_refused(tmp_path: Path) -> None:
    where = PkiDir(tmp_path)
    ca, other = create_ca(), create_ca()
    save(ca, where.ca)
    save(other, where.files("other"))
    where.ca[1].write_bytes(where.files("other")[1].read_bytes())
    with pytest.raises(PkiError, match=r"ca\.key is not the private key of .*ca\.pem"):
        load(where.ca)


def test_a_missing_ca_says_how_to_make_one(tmp_path: Path) -> None:
    with pytest.raises(PkiError, match="factoryos pki init"):
        load(PkiDir(tmp_path).ca)
