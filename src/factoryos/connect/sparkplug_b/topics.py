"""Sparkplug B 3.0 topic names.

Edge node and device messages: ``spBv1.0/{group}/{type}/{edge_node}[/{device}]``, where a
device message (``D…``) has the device id and a node message (``N…``) has not. Host
application state: ``spBv1.0/STATE/{host_id}``.
"""

from dataclasses import dataclass
from enum import StrEnum

from factoryos.connect.sparkplug_b.errors import SparkplugDecodeError

NAMESPACE = "spBv1.0"
STATE = "STATE"
_FORBIDDEN = frozenset("+#/")
_MAX_TOPIC = 65_535  # the MQTT limit on a topic name's length in bytes


class MessageType(StrEnum):
    NBIRTH = "NBIRTH"
    NDEATH = "NDEATH"
    DBIRTH = "DBIRTH"
    DDEATH = "DDEATH"
    NDATA = "NDATA"
    DDATA = "DDATA"
    NCMD = "NCMD"
    DCMD = "DCMD"

    @property
    def is_device(self) -> bool:
        return self.value.startswith("D")


@dataclass(frozen=True, slots=True)
class EdgeTopic:
    """The topic of an edge node (``device_id`` None) or device message."""

    group_id: str
    type: MessageType
    edge_node_id: str
    device_id: str | None = None

    def __str__(self) -> str:
        return edge_topic(self.group_id, self.type, self.edge_node_id, self.device_id)


@dataclass(frozen=True, slots=True)
class StateTopic:
    """The topic of a host application's STATE message."""

    host_id: str

    def __str__(self) -> str:
        return state_topic(self.host_id)


def is_id(text: str) -> bool:
    """Whether ``text`` may be a group, edge node, device or host id: not empty, and no
    ``/``, ``+`` or ``#``."""
    return bool(text) and _FORBIDDEN.isdisjoint(text)


def edge_topic(
    group_id: str, type_: MessageType, edge_node_id: str, device_id: str | None = None
) -> str:
    """``spBv1.0/{group}/{type}/{edge_node}[/{device}]``; a device type needs a device id."""
    if type_.is_device != (device_id is not None):
        raise ValueError(f"{type_} {'needs' if type_.is_device else 'takes no'} device id")
    ids = (group_id, edge_node_id) + ((device_id,) if device_id is not None else ())
    if not all(is_id(i) for i in ids):
        raise ValueError(f"Sparkplug ids must be non-empty without / + #: {ids}")
    tail = f"/{device_id}" if device_id is not None else ""
    return f"{NAMESPACE}/{group_id}/{type_}/{edge_node_id}{tail}"


def state_topic(host_id: str) -> str:
    if not is_id(host_id):
        raise ValueError(f"host id {host_id!r} must be non-empty without / + #")
    return f"{NAMESPACE}/{STATE}/{host_id}"


def parse_topic(topic: str) -> EdgeTopic | StateTopic:
    """The parts of a Sparkplug B topic; raises :class:`SparkplugDecodeError` naming the topic
    for anything else."""
    if len(topic) > _MAX_TOPIC:
        raise SparkplugDecodeError(f"topic of {len(topic)} characters is too long")
    parts = topic.split("/")
    if parts[0] != NAMESPACE:
        raise SparkplugDecodeError(f"topic {topic!r} is not in the {NAMESPACE} namespace")
    if len(parts) == 3 and parts[1] == STATE:
        if not is_id(parts[2]):
            raise SparkplugDecodeError(f"topic {topic!r}: empty host id")
        return StateTopic(parts[2])
    if len(parts) not in (4, 5):
        raise SparkplugDecodeError(f"topic {topic!r} has {len(parts)} levels, not 4 or 5")
    try:
        type_ = MessageType(parts[2])
    except ValueError:
        raise SparkplugDecodeError(f"topic {topic!r}: unknown message type {parts[2]!r}") from None
    if type_.is_device != (len(parts) == 5):
        raise SparkplugDecodeError(
            f"topic {topic!r}: a {type_} topic has {5 if type_.is_device else 4} levels"
        )
    if not all(parts[1:2] + parts[3:]):
        raise SparkplugDecodeError(f"topic {topic!r} has an empty id")
    device = parts[4] if len(parts) == 5 else None
    return EdgeTopic(parts[1], type_, parts[3], device)
