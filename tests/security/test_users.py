"""Broker users and their rights, derived from a site file and its gateways (no broker)."""

import pytest

from factoryos.model.site import SiteFile, parse_site
from factoryos.security import BrokerConfigError, Role, broker_users, gateway_node
from factoryos.security.users import SparkplugNode
from support.secure_broker import A_TOPIC, B_TOPIC, GATEWAY, GROUP, SITE_NODE, secured_site
from support.sites import Cell, Equipment, site_yaml


def _by_name(
    nodes: list[SparkplugNode] | None = None,
) -> dict[str, tuple[Role, set[str], set[str]]]:
    users = broker_users(secured_site(), nodes or [gateway_node(GATEWAY, GROUP)])
    return {u.name: (u.role, set(u.publish), set(u.subscribe)) for u in users}


def test_each_mqtt_device_publishes_its_own_tags_topics_and_reads_nothing() -> None:
    users = _by_name()
    assert users["sensors-a"] == (Role.MQTT_DEVICE, {A_TOPIC}, set())
    assert users["sensors-b"] == (Role.MQTT_DEVICE, {B_TOPIC}, set())


def test_each_sparkplug_node_publishes_its_own_node_and_reads_its_commands() -> None:
    role, publish, read = _by_name()[GATEWAY]
    base = f"spBv1.0/{GROUP}"
    assert role is Role.SPARKPLUG_NODE
    assert publish == {
        *(f"{base}/{k}/{GATEWAY}" for k in ("NBIRTH", "NDATA", "NDEATH")),
        *(f"{base}/{k}/{GATEWAY}/+" for k in ("DBIRTH", "DDATA", "DDEATH")),
    }
    assert read == {f"{base}/NCMD/{GATEWAY}", f"{base}/DCMD/{GATEWAY}/+", "spBv1.0/STATE/+"}


def test_the_site_node_logs_in_as_its_edge_node_id() -> None:
    assert f"spBv1.0/{GROUP}/NDATA/{SITE_NODE}" in _by_name()[SITE_NODE][1]


def test_the_platform_reads_everything_and_publishes_the_uns_state_and_commands() -> None:
    role, publish, read = _by_name()["factoryos"]
    assert role is Role.PLATFORM
    assert read == {"#"}
    assert "factoryos/v1/#" in publish
    assert "spBv1.0/STATE/+" in publish
    assert not any(p.startswith("plant1/") or "NDATA" in p for p in publish)


def test_a_node_named_twice_by_its_own_user_is_one_login() -> None:
    twice = [gateway_node(GATEWAY, GROUP), gateway_node(GATEWAY, GROUP)]
    users = broker_users(secured_site(), twice)
    assert [u.name for u in users].count(GATEWAY) == 1


def test_one_node_under_two_users_is_refused() -> None:
    other_user = gateway_node("line2-gw", GROUP, edge_node_id=SITE_NODE)
    with pytest.raises(BrokerConfigError, match=f"edge node {GROUP}/{SITE_NODE} would log in"):
        broker_users(secured_site(), [other_user])


def test_one_name_for_two_logins_is_refused() -> None:
    with pytest.raises(BrokerConfigError, match="'sensors-a' is both devices\\[0\\]"):
        broker_users(secured_site(), [gateway_node("sensors-a", GROUP)])
    with pytest.raises(BrokerConfigError, match="'factoryos' is both the FactoryOS platform"):
        broker_users(secured_site(), [gateway_node("factoryos", GROUP)])


def _one_device_site(tag: str, device: str) -> SiteFile:
    cell = Cell("area", "line", "cell", (Equipment("eq", (tag,), device="dev"),))
    return parse_site(site_yaml(cells=(cell,), devices=(device,)))


def test_a_topic_that_cannot_go_into_an_acl_is_refused_naming_the_tag() -> None:
    site = _one_device_site("{name: t, mqtt: {topic: ' lead'}}", "{name: dev, protocol: mqtt}")
    with pytest.raises(BrokerConfigError, match=r"plant1/area/line/cell/eq/t .*cannot go into"):
        broker_users(site)


def test_an_edge_node_id_that_cannot_be_a_user_name_is_refused() -> None:
    device = "{name: dev, protocol: sparkplug_b, group_id: g, edge_node_id: 'node:1'}"
    site = _one_device_site("{name: t, sparkplug: {metric: m}}", device)
    with pytest.raises(BrokerConfigError, match=r"devices\[0\] \(dev\): 'node:1' cannot be"):
        broker_users(site)


@pytest.mark.parametrize("prefix", ["", "/factoryos", "factoryos/", "factoryos/#", "a/+/b"])
def test_a_uns_prefix_that_is_no_topic_level_is_refused(prefix: str) -> None:
    with pytest.raises(BrokerConfigError, match="--uns-prefix"):
        broker_users(secured_site(), uns_prefix=prefix)
