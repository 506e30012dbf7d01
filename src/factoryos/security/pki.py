"""A local certificate authority: TLS for the broker and the API, client certificates for
devices and gateways (mutual TLS).

Keys are EC P-256 (small, fast, accepted by OpenSSL, Mosquitto, uvicorn and every MQTT
client library). The CA is valid 10 years and may only sign end certificates (path length
0); server and client certificates 2 years by default, at most 825 days (the longest that
Apple platforms accept from any CA). Certificates follow RFC 5280 closely enough for
OpenSSL's strict verification: key usage, extended key usage and both key identifiers.

The functions that make certificates are pure (given ``now``); the file functions below them
write PEM files, keys readable by their owner only, and refuse to overwrite unless asked.
"""

import errno
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from factoryos.security.errors import PkiError
from factoryos.security.files import PRIVATE, PUBLIC, write_file

CA_DAYS = 3650
LEAF_DAYS = 730
MAX_LEAF_DAYS = 825
_SKEW = timedelta(minutes=5)  # not_before in the past: clocks of peers are never exact

NAME_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,63}$")
"""A certificate's name: its common name and the stem of its files."""
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_RE = re.compile(rf"^(?:\*\.)?{_LABEL}(?:\.{_LABEL})*$")

Key = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


@dataclass(frozen=True)
class Issued:
    """A certificate and its private key."""

    cert: x509.Certificate
    key: Key

    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)

    def key_pem(self) -> bytes:
        return self.key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    @property
    def common_name(self) -> str:
        names = self.cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return str(names[0].value) if names else ""


def _check_name(name: str) -> str:
    if not NAME_RE.match(name):
        raise PkiError(
            f"name {name!r}: use 1-64 letters, digits, '_', '.', ':' or '-' "
            "(not starting with '.', ':' or '-')"
        )
    return name


def _now(now: datetime | None) -> datetime:
    return now if now is not None else datetime.now(UTC)


def _builder(
    subject: str, issuer: x509.Name, key: Key, start: datetime, days: int
) -> x509.CertificateBuilder:
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - _SKEW)
        .not_valid_after(start + timedelta(days=days))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )


def _usage(*, sign_certs: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=sign_certs,
        crl_sign=sign_certs,
        encipher_only=False,
        decipher_only=False,
    )


def create_ca(
    name: str = "FactoryOS local CA", *, days: int = CA_DAYS, now: datetime | None = None
) -> Issued:
    """A new self-signed CA that may sign end certificates only."""
    if not 1 <= days <= 100 * 365:
        raise PkiError(f"CA validity of {days} days: use 1 to 36500")
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        _builder(name, subject, key, _now(now), days)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_usage(sign_certs=True), critical=True)
        .sign(key, hashes.SHA256())
    )
    return Issued(cert, key)


def _sans(dns: Sequence[str], ips: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in dns:
        if len(host) > 253 or not _DNS_RE.match(host):
            raise PkiError(f"--dns {host!r}: not a DNS name")
        names.append(x509.DNSName(host))
    for text in ips:
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(text)))
        except ValueError as exc:
            raise PkiError(f"--ip {text!r}: not an IP address") from exc
    if not names:
        raise PkiError("a server certificate needs at least one --dns name or --ip address")
    return names


def _issue(
    ca: Issued,
    name: str,
    usage: x509.ObjectIdentifier,
    sans: list[x509.GeneralName],
    days: int,
    now: datetime | None,
) -> Issued:
    _check_name(name)
    if not 1 <= days <= MAX_LEAF_DAYS:
        raise PkiError(f"validity of {days} days: use 1 to {MAX_LEAF_DAYS}")
    start = _now(now)
    if start + timedelta(days=days) > ca.cert.not_valid_after_utc:
        raise PkiError(
            f"the CA expires on {ca.cert.not_valid_after_utc:%Y-%m-%d}, before a certificate "
            f"of {days} days would: create a new CA or ask for fewer days"
        )
    key = ec.generate_private_key(ec.SECP256R1())
    ca_ski = ca.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    builder = (
        _builder(name, ca.cert.subject, key, start, days)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_usage(sign_certs=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ca_ski),
            critical=False,
        )
    )
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    return Issued(builder.sign(ca.key, hashes.SHA256()), key)


def issue_server(
    ca: Issued,
    name: str,
    dns: Sequence[str] = (),
    ips: Sequence[str] = (),
    *,
    days: int = LEAF_DAYS,
    now: datetime | None = None,
) -> Issued:
    """A TLS server certificate for the names clients connect to (DNS names and IPs)."""
    return _issue(ca, name, ExtendedKeyUsageOID.SERVER_AUTH, _sans(dns, ips), days, now)


def issue_client(
    ca: Issued, name: str, *, days: int = LEAF_DAYS, now: datetime | None = None
) -> Issued:
    """A TLS client certificate whose common name is ``name``: a broker with
    ``use_identity_as_username`` logs the client in as that user."""
    return _issue(ca, name, ExtendedKeyUsageOID.CLIENT_AUTH, [], days, now)


# --- files -----------------------------------------------------------------------------


@dataclass(frozen=True)
class PkiDir:
    """Where a CA and the certificates it issued live: ``ca.pem``/``ca.key`` and
    ``<name>.pem``/``<name>.key``."""

    path: Path

    @property
    def ca(self) -> tuple[Path, Path]:
        return self.files("ca")

    def files(self, name: str) -> tuple[Path, Path]:
        """(certificate, key) of ``name``."""
        return self.path / f"{_check_name(name)}.pem", self.path / f"{name}.key"


def save(issued: Issued, files: tuple[Path, Path], *, overwrite: bool = False) -> None:
    """Write the certificate (0644) and key (0600); refuse if either exists, unless
    ``overwrite``."""
    if not overwrite:
        taken = [str(p) for p in files if p.exists()]
        if taken:
            raise PkiError(f"will not replace {', '.join(taken)}: pass --force to replace")
    cert_path, key_path = files
    try:
        cert_path.parent.mkdir(parents=True, exist_ok=True)
        write_file(key_path, issued.key_pem(), PRIVATE, overwrite=overwrite)
        write_file(cert_path, issued.cert_pem(), PUBLIC, overwrite=overwrite)
    except OSError as exc:
        raise PkiError(f"cannot write {exc.filename or cert_path}: {exc.strerror}") from exc


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        hint = " (create one with `factoryos pki init`)" if exc.errno == errno.ENOENT else ""
        raise PkiError(f"cannot read {path}: {exc.strerror}{hint}") from exc


def load(files: tuple[Path, Path]) -> Issued:
    """A certificate and its key from PEM files; checks that they belong together."""
    cert_path, key_path = files
    try:
        cert = x509.load_pem_x509_certificate(_read(cert_path))
    except ValueError as exc:
        raise PkiError(f"{cert_path}: not a PEM certificate ({exc})") from exc
    try:
        key = serialization.load_pem_private_key(_read(key_path), password=None)
    except (ValueError, TypeError, UnsupportedAlgorithm) as exc:
        raise PkiError(f"{key_path}: not an unencrypted PEM private key ({exc})") from exc
    if not isinstance(key, Key) or key.public_key() != cert.public_key():
        raise PkiError(f"{key_path} is not the private key of {cert_path}")
    return Issued(cert, key)
