"""Sparkplug B 3.0 host application STATE messages.

``spBv1.0/STATE/{host_id}``, retained, QoS 1, payload JSON ``{"online": bool, "timestamp":
ms}``. The host's will (offline) carries the same timestamp as its online message, so an edge
node can tell a late will of an old session from the current state.
"""

import json
from dataclasses import dataclass

from factoryos.connect.sparkplug_b.errors import SparkplugDecodeError

_MAX_STATE_BYTES = 4096


@dataclass(frozen=True, slots=True)
class HostState:
    online: bool
    timestamp_ms: int


def encode_state(online: bool, timestamp_ms: int) -> bytes:
    return json.dumps({"online": online, "timestamp": timestamp_ms}).encode()


def decode_state(data: bytes) -> HostState:
    """A STATE payload; :class:`SparkplugDecodeError` for anything that is not one."""
    if len(data) > _MAX_STATE_BYTES:
        raise SparkplugDecodeError(f"STATE payload of {len(data)} bytes is too long")
    try:
        doc = json.loads(data)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise SparkplugDecodeError(f"STATE payload is not JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SparkplugDecodeError("STATE payload is not a JSON object")
    online, ts = doc.get("online"), doc.get("timestamp")
    if not isinstance(online, bool):
        raise SparkplugDecodeError(f"STATE 'online' must be true or false, not {online!r}")
    if not isinstance(ts, int) or isinstance(ts, bool) or ts < 0:
        raise SparkplugDecodeError(f"STATE 'timestamp' must be epoch milliseconds, not {ts!r}")
    return HostState(online, ts)
