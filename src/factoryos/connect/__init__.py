"""Device drivers: poll machines and turn their raw values into quality-stamped samples.

Modbus TCP today; every driver publishes :class:`~factoryos.model.SampleBatch` batches.
"""

from factoryos.connect.errors import (
    CodecError,
    ConfigError,
    ConnectError,
    DeviceError,
    DriverError,
    DriverTimeout,
    ProtocolError,
)
from factoryos.connect.modbus import (
    ModbusPoller,
    PollerStats,
    RequestRecord,
    build_pollers,
    run_pollers,
)
from factoryos.connect.modbus_plan import ModbusPoint
from factoryos.connect.mqtt import build_mqtt_drivers as build_mqtt_drivers
from factoryos.connect.opcua import build_opcua_drivers as build_opcua_drivers
from factoryos.connect.s7 import S7Poller as S7Poller
from factoryos.connect.s7 import build_s7_drivers as build_s7_drivers
from factoryos.connect.sparkplug import build_sparkplug_drivers as build_sparkplug_drivers

__all__ = [
    "CodecError",
    "ConfigError",
    "ConnectError",
    "DeviceError",
    "DriverError",
    "DriverTimeout",
    "ModbusPoint",
    "ModbusPoller",
    "PollerStats",
    "ProtocolError",
    "RequestRecord",
    "build_pollers",
    "run_pollers",
]
