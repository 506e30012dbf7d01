"""Device identity: a local CA for TLS and the broker's users, passwords and access rules.

Imports only ``model`` and ``errors`` (layer 1): the CLI feeds it gateway names and groups.
"""

from factoryos.security.broker import BrokerConfig, BrokerFiles, site_notes, write_config
from factoryos.security.errors import BrokerConfigError, PkiError, SecurityError
from factoryos.security.mosquitto import Listener
from factoryos.security.users import (
    BrokerUser,
    Role,
    SparkplugNode,
    broker_users,
    gateway_node,
)

__all__ = [
    "BrokerConfig",
    "BrokerConfigError",
    "BrokerFiles",
    "BrokerUser",
    "Listener",
    "PkiError",
    "Role",
    "SecurityError",
    "SparkplugNode",
    "broker_users",
    "gateway_node",
    "site_notes",
    "write_config",
]
