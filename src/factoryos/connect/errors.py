"""Errors of the device drivers.

::

    DriverError                 root of the connect package
    ├── ConfigError             points or device settings the driver cannot use
    ├── CodecError              registers or values that do not fit their wire type
    ├── ConnectError            cannot open (or lost) the connection to a device
    │   └── SecurityError       certificate, user or password refused (OPC UA)
    ├── DriverTimeout           the device did not answer in time
    ├── ProtocolError           an answer that makes no sense (wrong length, garbled)
    ├── DeviceError             the device answered with a Modbus exception response
    ├── BadStatusError          the server answered one operation with a bad StatusCode (OPC UA)
    ├── PayloadError            a message payload that cannot be read as samples (MQTT JSON)
    └── WriteError              a write the driver refuses (tag not writable, value out of range)

Library exceptions (pymodbus, python-snap7, asyncua, aiomqtt, OSError) are translated into
these at the driver boundary.
"""

from typing import Protocol

from factoryos.errors import FactoryOSError

_EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}


class DriverError(FactoryOSError):
    """Root of the connect package's errors."""


class ConfigError(DriverError):
    """Points or device settings the driver cannot use."""


class CodecError(DriverError, ValueError):
    """Registers or values that cannot be converted to or from their wire type."""


class ConnectError(DriverError):
    """Cannot open, or lost, the connection to a device."""


class DriverTimeout(DriverError):  # noqa: N818 (the name the design documents use)
    """The device did not answer within its timeout."""


class ProtocolError(DriverError):
    """The device's answer does not match the request."""


class DeviceError(DriverError):
    """The device answered a request with a Modbus exception response."""

    def __init__(
        self,
        device: str,
        function_code: int,
        exception_code: int,
        table: str,
        address: int,
        count: int,
    ) -> None:
        self.device = device
        self.function_code = function_code
        self.exception_code = exception_code
        self.table = table
        self.address = address
        self.count = count
        name = _EXCEPTION_NAMES.get(exception_code, "unknown exception")
        super().__init__(
            f"device {device}: Modbus exception {exception_code} ({name}) to function "
            f"0x{function_code:02X} reading {table} {address}..{address + count - 1}"
        )


class _Server(Protocol):
    """What :class:`BadStatusError` names of an OPC UA device."""

    @property
    def name(self) -> str: ...

    @property
    def endpoint(self) -> str: ...


class _StatusCode(Protocol):
    """What :class:`BadStatusError` reads of an OPC UA StatusCode (``asyncua.ua.StatusCode``)."""

    @property
    def value(self) -> int: ...

    @property
    def name(self) -> str: ...

    @property
    def doc(self) -> str: ...


class BadStatusError(DriverError):
    """The server answered one operation (e.g. a write) with a bad StatusCode, such as
    BadUserAccessDenied, BadNotWritable, BadTypeMismatch or BadOutOfRange: the OPC UA
    counterpart of a Modbus exception response (:class:`DeviceError`)."""

    def __init__(self, device: _Server, doing: str, status: _StatusCode) -> None:
        self.device = device.name
        self.status = int(status.value)
        self.status_name = status.name
        super().__init__(
            f"device {device.name} ({device.endpoint}): {doing} refused: "
            f"{status.name} ({status.doc})"
        )


class PayloadError(DriverError, ValueError):
    """A message payload that cannot be read as samples (not JSON, wrong shape or type).

    ``reason`` is a short machine-readable word (``not_json``, ``missing`` …) for counters.
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class SecurityError(ConnectError):
    """The server refused our certificate, user or password, or we refused its certificate."""


class WriteError(DriverError, ValueError):
    """A write the driver refuses before sending it: unknown or read-only tag, a value
    that is not finite or lies outside the tag's range. Nothing was written."""
