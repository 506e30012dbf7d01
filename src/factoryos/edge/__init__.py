"""The edge gateway: drivers next to the machines, a durable outbox, and an uplink."""

from factoryos.edge.config import GatewayConfig, NatsUplinkConfig, OutboxConfig, load_gateway_config
from factoryos.edge.errors import (
    EdgeError,
    GatewayConfigError,
    OutboxError,
    OutboxFullError,
    UplinkError,
)
from factoryos.edge.gateway import (
    Gateway,
    GatewayStats,
    Uplink,
    edge_tag_ids,
    gap_marker,
    main,
    run_gateway,
)
from factoryos.edge.outbox import Outbox, OutboxStats, Policy
from factoryos.edge.uplink_nats import NatsUplink

__all__ = [
    "EdgeError",
    "Gateway",
    "GatewayConfig",
    "GatewayConfigError",
    "GatewayStats",
    "NatsUplink",
    "NatsUplinkConfig",
    "Outbox",
    "OutboxConfig",
    "OutboxError",
    "OutboxFullError",
    "OutboxStats",
    "Policy",
    "Uplink",
    "UplinkError",
    "edge_tag_ids",
    "gap_marker",
    "load_gateway_config",
    "main",
    "run_gateway",
]
