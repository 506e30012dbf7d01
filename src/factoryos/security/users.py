"""Who may log in to the broker and what each may do, from a site file and its Sparkplug edge
nodes. Pure: no files, no broker.

- **platform** (FactoryOS): reads everything; publishes the Unified Namespace
  (``factoryos/v1/#``), Sparkplug host STATE and node/device commands.
- **MQTT device** (a site file device of protocol ``mqtt``, user = device name): publishes its
  own tags' topics only, and reads nothing.
- **Sparkplug edge node** (a FactoryOS gateway or a site device of protocol ``sparkplug_b``;
  user = its edge node id unless its config names another): publishes its own node's
  ``NBIRTH/NDATA/NDEATH`` and its devices' ``DBIRTH/DDATA/DDEATH``, and reads its own
  ``NCMD/DCMD`` and the host applications' STATE.

Everything else is denied: Mosquitto grants only what the ACL file lists.
"""

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from enum import StrEnum

from factoryos.model.devices import MqttDevice, SparkplugDevice
from factoryos.model.site import SiteFile
from factoryos.security.errors import BrokerConfigError

SPARKPLUG = "spBv1.0"
NODE_MESSAGES = ("NBIRTH", "NDATA", "NDEATH")
DEVICE_MESSAGES = ("DBIRTH", "DDATA", "DDEATH")
STATE_FILTER = f"{SPARKPLUG}/STATE/+"
PLATFORM_USER = "factoryos"
UNS_PREFIX = "factoryos/v1"

USER_RE = re.compile(r"^[^\s:\x00-\x1f\x7f]{1,64}$")
"""A broker user name: the password file splits its lines at the first ':', and the ACL file
reads a name up to the end of its line."""
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")


class Role(StrEnum):
    PLATFORM = "platform"
    MQTT_DEVICE = "mqtt device"
    SPARKPLUG_NODE = "sparkplug node"


@dataclass(frozen=True)
class BrokerUser:
    """One login of the broker and the topic filters it may publish to and read."""

    name: str
    role: Role
    publish: tuple[str, ...]
    subscribe: tuple[str, ...]
    source: str
    """Where it comes from (``devices[2] (sensors)``, ``gateway line1-gw``), for errors."""


@dataclass(frozen=True)
class SparkplugNode:
    """A Sparkplug B edge node that logs in to the broker as ``user``."""

    user: str
    group_id: str
    edge_node_id: str
    source: str

    @property
    def key(self) -> tuple[str, str]:
        return self.group_id, self.edge_node_id


def gateway_node(
    gateway: str, group_id: str, *, user: str | None = None, edge_node_id: str | None = None
) -> SparkplugNode:
    """A FactoryOS gateway's node: its edge node id and user default to its name."""
    return SparkplugNode(
        user or gateway, group_id, edge_node_id or gateway, source=f"gateway {gateway}"
    )


def _checked_user(name: str, source: str) -> str:
    if not USER_RE.match(name):
        raise BrokerConfigError(
            f"{source}: {name!r} cannot be a broker user name "
            "(1-64 characters, no spaces, control characters or ':')"
        )
    return name


def _checked_topic(topic: str, source: str) -> str:
    if _CONTROL_RE.search(topic) or topic != topic.strip() or topic.startswith("$"):
        raise BrokerConfigError(
            f"{source}: topic {topic!r} cannot go into an ACL file "
            "(no control characters, no leading or trailing spaces, no leading '$')"
        )
    return topic


def platform_user(name: str = PLATFORM_USER, uns_prefix: str = UNS_PREFIX) -> BrokerUser:
    source = "the FactoryOS platform"
    wildcard = any(c in uns_prefix for c in "+#")
    if wildcard or not uns_prefix.strip("/") or uns_prefix != uns_prefix.strip("/"):
        raise BrokerConfigError(f"--uns-prefix {uns_prefix!r}: levels like factoryos/v1")
    publish = (
        f"{_checked_topic(uns_prefix, source)}/#",
        STATE_FILTER,
        f"{SPARKPLUG}/+/NCMD/+",
        f"{SPARKPLUG}/+/DCMD/+/+",
    )
    return BrokerUser(_checked_user(name, source), Role.PLATFORM, publish, ("#",), source)


def _mqtt_device_users(site: SiteFile) -> Iterator[BrokerUser]:
    topics: dict[str, list[str]] = {}
    for ref in site.tags():
        if ref.tag.mqtt is not None and ref.tag.mqtt.topic is not None and ref.equipment.device:
            source = f"{ref.path} (mqtt.topic)"
            topic = _checked_topic(ref.tag.mqtt.topic, source)
            topics.setdefault(ref.equipment.device, []).append(topic)
    for i, device in enumerate(site.devices):
        if isinstance(device, MqttDevice):
            source = f"devices[{i}] ({device.name})"
            mine = tuple(dict.fromkeys(topics.get(device.name, [])))  # file order, no repeats
            yield BrokerUser(_checked_user(device.name, source), Role.MQTT_DEVICE, mine, (), source)


def site_nodes(site: SiteFile) -> list[SparkplugNode]:
    """The Sparkplug edge nodes the site file reads; each logs in as its edge node id."""
    return [
        SparkplugNode(d.edge_node_id, d.group_id, d.edge_node_id, f"devices[{i}] ({d.name})")
        for i, d in enumerate(site.devices)
        if isinstance(d, SparkplugDevice)
    ]


def node_user(node: SparkplugNode) -> BrokerUser:
    base = f"{SPARKPLUG}/{node.group_id}"
    publish = (
        *(f"{base}/{kind}/{node.edge_node_id}" for kind in NODE_MESSAGES),
        *(f"{base}/{kind}/{node.edge_node_id}/+" for kind in DEVICE_MESSAGES),
    )
    subscribe = (f"{base}/NCMD/{node.edge_node_id}", f"{base}/DCMD/{node.edge_node_id}/+")
    name = _checked_user(node.user, node.source)
    for part in (node.group_id, node.edge_node_id):
        _checked_topic(part, node.source)
        if any(c in part for c in "/+#"):
            raise BrokerConfigError(f"{node.source}: Sparkplug id {part!r} has '/', '+' or '#'")
    return BrokerUser(name, Role.SPARKPLUG_NODE, publish, (*subscribe, STATE_FILTER), node.source)


def _unique_nodes(nodes: Sequence[SparkplugNode]) -> list[SparkplugNode]:
    """One entry per edge node; the same node named twice by one user is one login."""
    by_key: dict[tuple[str, str], SparkplugNode] = {}
    for node in nodes:
        seen = by_key.setdefault(node.key, node)
        if seen.user != node.user:
            group, edge = node.key
            raise BrokerConfigError(
                f"edge node {group}/{edge} would log in as {seen.user!r} ({seen.source}) and "
                f"as {node.user!r} ({node.source}): one node, one broker user"
            )
    return list(by_key.values())


def broker_users(
    site: SiteFile,
    nodes: Sequence[SparkplugNode] = (),
    *,
    platform: str = PLATFORM_USER,
    uns_prefix: str = UNS_PREFIX,
) -> list[BrokerUser]:
    """The platform, the site's MQTT devices and every Sparkplug edge node (the site's and
    ``nodes``), each once; raises :class:`BrokerConfigError` when two need the same name."""
    users = [
        platform_user(platform, uns_prefix),
        *_mqtt_device_users(site),
        *(node_user(n) for n in _unique_nodes([*site_nodes(site), *nodes])),
    ]
    seen: dict[str, BrokerUser] = {}
    for user in users:
        other = seen.setdefault(user.name, user)
        if other is not user:
            raise BrokerConfigError(
                f"broker user {user.name!r} is both {other.source} and {user.source}: "
                "rename one of them"
            )
    return users
