"""Opening an OPC UA session for a device: security policy, certificates, user, timeouts.

Every asyncua or socket exception on the way is translated into a
:class:`~factoryos.connect.errors.DriverError` that names the endpoint: refused
certificates, users and passwords become :class:`SecurityError`, files and variables the
settings point at that are missing become :class:`ConfigError`. A bad StatusCode the
server answers for one operation (a write it refuses) is a
:class:`~factoryos.connect.errors.BadStatusError`.
"""

import asyncio
import contextlib
import hashlib
import logging
import os
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

from asyncua import ua
from asyncua.client.client import Client
from asyncua.crypto import security_policies, uacrypto
from asyncua.ua.status_codes import StatusCodes
from asyncua.ua.uaerrors._base import UaError, UaStatusCodeError
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from factoryos.connect.errors import BadStatusError as BadStatusError  # its former home
from factoryos.connect.errors import (
    ConfigError,
    ConnectError,
    DriverError,
    DriverTimeout,
    ProtocolError,
    SecurityError,
)
from factoryos.model.devices import OpcUaDevice

log = logging.getLogger(__name__)

LostCallback = Callable[[Exception], Coroutine[Any, Any, None]]
"""Awaited once when the client finds its connection gone."""

_MODES = {
    "Sign": ua.MessageSecurityMode.Sign,
    "SignAndEncrypt": ua.MessageSecurityMode.SignAndEncrypt,
}
_SECURITY_CODES = {
    StatusCodes.BadSecurityChecksFailed,
    StatusCodes.BadCertificateUntrusted,
    StatusCodes.BadCertificateInvalid,
    StatusCodes.BadCertificateRevoked,
    StatusCodes.BadCertificateTimeInvalid,
    StatusCodes.BadCertificateUriInvalid,
    StatusCodes.BadCertificateUseNotAllowed,
    StatusCodes.BadSecurityPolicyRejected,
    StatusCodes.BadUserAccessDenied,
    StatusCodes.BadIdentityTokenInvalid,
    StatusCodes.BadIdentityTokenRejected,
}


def password_of(device: OpcUaDevice) -> str | None:
    """The device's password from the environment variable its ``password_env`` names."""
    if device.password_env is None:
        return None
    password = os.environ.get(device.password_env)
    if password is None:
        raise ConfigError(
            f"device {device.name}: environment variable {device.password_env} "
            f"(the password of user {device.username!r}) is not set"
        )
    return password


def _existing(device: OpcUaDevice, field: str) -> Path:
    path: Path | None = getattr(device, field)
    if path is None or not path.is_file():
        raise ConfigError(f"device {device.name}: {field} {path} is not a readable file")
    return path


async def _application_uri(device: OpcUaDevice, certificate: Path) -> str | None:
    """The URI in the certificate's subject alternative names: servers check that it
    matches the application URI the client announces."""
    try:
        cert = await uacrypto.load_certificate(certificate)
    except (OSError, ValueError) as exc:
        raise ConfigError(
            f"device {device.name}: cannot read certificate {certificate}: {exc}"
        ) from exc
    with contextlib.suppress(x509.ExtensionNotFound):
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        uris = san.value.get_values_for_type(x509.UniformResourceIdentifier)
        if uris:
            return str(uris[0])
    return None


async def configure(client: Client, device: OpcUaDevice) -> None:
    """Apply the device's security policy, certificates and user to a new client."""
    if device.username is not None:
        client.set_user(device.username)
        password = password_of(device)
        if password is not None:
            client.set_password(password)
    if device.security_policy == "None":
        return
    cert = _existing(device, "certificate")
    key = _existing(device, "private_key")
    server_cert = _existing(device, "server_certificate")
    uri = await _application_uri(device, cert)
    if uri is not None:
        client.application_uri = uri
    await _check_server_certificate(client, device, server_cert)
    try:
        await client.set_security(
            security_policies.SecurityPolicyBasic256Sha256,
            certificate=str(cert),
            private_key=str(key),
            server_certificate=str(server_cert),
            mode=_MODES[device.security_mode],
        )
    except (OSError, ValueError, TypeError) as exc:
        raise ConfigError(
            f"device {device.name}: cannot load certificate {cert} or key {key}: {exc}"
        ) from exc


async def _check_server_certificate(client: Client, device: OpcUaDevice, pinned: Path) -> None:
    """Refuse a server whose endpoint does not offer our policy and mode, or presents a
    certificate other than the trusted one: otherwise it just drops our messages, which
    would look like a timeout."""
    trusted = (await uacrypto.load_certificate(pinned)).public_bytes(Encoding.DER)
    endpoints = await client.connect_and_get_server_endpoints()
    mode = _MODES[device.security_mode]
    uri = security_policies.SecurityPolicyBasic256Sha256.URI
    offered = [e for e in endpoints if e.SecurityPolicyUri == uri and e.SecurityMode == mode]
    if not offered:
        kinds = sorted(
            {f"{e.SecurityPolicyUri.rsplit('#', 1)[-1]} {e.SecurityMode.name}" for e in endpoints}
        )
        raise SecurityError(
            f"device {device.name} ({device.endpoint}): the server offers no Basic256Sha256 "
            f"{device.security_mode} endpoint, only: {', '.join(kinds)}"
        )
    presented = offered[0].ServerCertificate or b""
    if not presented.startswith(trusted):
        raise SecurityError(
            f"device {device.name} ({device.endpoint}): the server's certificate is not "
            f"server_certificate {pinned} (sha256 {_thumbprint(presented)}, trusted "
            f"{_thumbprint(trusted)})"
        )


def _thumbprint(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()[:16] if der else "none"


def translate(exc: BaseException, device: OpcUaDevice, doing: str) -> DriverError:
    """The driver error for a failure of ``doing`` (e.g. "connect") at the device."""
    where = f"device {device.name} ({device.endpoint}): {doing}"
    if isinstance(exc, DriverError):
        return exc
    if isinstance(exc, TimeoutError):
        return DriverTimeout(f"{where}: no answer within {device.timeout_s} s")
    if isinstance(exc, UaStatusCodeError):
        status = ua.StatusCode(ua.UInt32(exc.code))
        text = f"{where} refused: {status.name} ({status.doc})"
        if exc.code in _SECURITY_CODES:
            return SecurityError(text)
        return ProtocolError(text)
    if isinstance(exc, UaError) and "certificate" in str(exc).lower():
        # asyncua's "Server certificate mismatch": not the certificate we trust
        return SecurityError(f"{where}: {exc}; is server_certificate the server's certificate?")
    if isinstance(exc, OSError | ConnectionError):
        return ConnectError(f"{where}: {exc.strerror or exc}")
    return ConnectError(f"{where}: {type(exc).__name__}: {exc}")


async def open_client(
    device: OpcUaDevice, *, watchdog_s: float = 1.0, on_lost: LostCallback | None = None
) -> Client:
    """A connected client with an active session; raises a :class:`DriverError`.

    The client does not reconnect by itself: ``on_lost`` is awaited once when its watchdog
    or the socket reports the connection gone, and the caller opens a new client.
    """
    client = Client(device.endpoint, timeout=device.timeout_s, watchdog_intervall=watchdog_s)
    client.name = client.description = f"FactoryOS {device.name}"
    client.connection_lost_callback = on_lost
    try:
        await asyncio.wait_for(configure(client, device), device.timeout_s)
        await asyncio.wait_for(client.connect(auto_reconnect=False), device.timeout_s)
    except (Exception, TimeoutError) as exc:
        client.disconnect_socket()
        raise translate(exc, device, "connect") from exc
    return client


async def close_client(client: Client, timeout_s: float) -> None:
    """Close the session and socket, giving up after ``timeout_s`` (a dead server)."""
    try:
        await asyncio.wait_for(client.disconnect(), timeout_s)
    except (Exception, TimeoutError) as exc:
        log.debug("closing OPC UA client: %s", exc)
    finally:
        client.disconnect_socket()
