"""Devices of every protocol in a site file, and tags whose address must match their device."""

import pytest

from factoryos.model import SiteFileError, parse_site
from factoryos.model.devices import MqttDevice, OpcUaDevice, S7Device, SparkplugDevice

SITE = """\
site:
  name: plant
  areas:
    - name: a
      lines:
        - name: l
          cells:
            - name: c
              equipment:
                - name: press
                  device: ua
                  tags:
                    - name: force
                      opcua: {node_id: "ns=2;s=Press.Force"}
                - name: oven
                  device: s7
                  tags:
                    - name: temp
                      type: int16
                      s7: {db: 10, offset: 4}
                    - name: door_open
                      type: bool
                      s7: {area: M, offset: 0, bit: 3}
                - name: sensor
                  device: broker
                  tags:
                    - name: humidity
                      mqtt: {topic: plant/a/sensor/humidity, value: $.v, timestamp: $.t}
                - name: robot
                  device: edge
                  tags:
                    - name: speed
                      sparkplug: {metric: Axis/1/Speed}
devices:
  - name: ua
    protocol: opcua
    endpoint: opc.tcp://10.0.0.9:4840/server
  - name: s7
    protocol: s7
    host: 10.0.0.10
  - name: broker
    protocol: mqtt
  - name: edge
    protocol: sparkplug_b
    group_id: plant
    edge_node_id: robot-cell
"""


def test_every_protocol_loads_with_its_own_model() -> None:
    site = parse_site(SITE, "plant.yaml")
    kinds = [type(d) for d in site.devices]
    assert kinds == [OpcUaDevice, S7Device, MqttDevice, SparkplugDevice]
    assert [ref.tag.protocol for ref in site.tags()] == [
        "opcua", "s7", "s7", "mqtt", "sparkplug_b"
    ]  # fmt: skip
    assert site.device("s7").address == "10.0.0.10:102 rack 0 slot 1"


def _problems(text: str) -> list[tuple[int | None, str, str]]:
    with pytest.raises(SiteFileError) as info:
        parse_site(text, "plant.yaml")
    return [(p.line, p.field, p.message) for p in info.value.problems]


def test_an_address_for_another_protocol_is_refused() -> None:
    text = SITE.replace(
        'opcua: {node_id: "ns=2;s=Press.Force"}', "modbus: {table: holding, address: 0}"
    )
    ((line, field, message),) = _problems(text)
    assert line == 14
    assert field.endswith("tags[0].modbus")
    assert message == "a modbus_tcp address, but device ua speaks opcua"


def test_device_errors_name_the_field_without_the_protocol_tag() -> None:
    ((line, field, message),) = _problems(SITE.replace("endpoint: opc.tcp://", "endpoint: http://"))
    assert (line, field) == (37, "devices[0].endpoint")
    assert "opc" in message


def test_unknown_protocol_is_named() -> None:
    ((line, field, message),) = _problems(SITE.replace("protocol: mqtt", "protocol: amqp"))
    assert (line, field) == (41, "devices[2]")
    assert "amqp" in message


def test_incomplete_security_is_refused() -> None:
    text = SITE.replace(
        "endpoint: opc.tcp://10.0.0.9:4840/server",
        "endpoint: opc.tcp://10.0.0.9:4840/server\n    security_policy: Basic256Sha256\n"
        "    security_mode: Sign",
    )
    ((_, field, message),) = _problems(text)
    assert field == "devices[0]"
    assert "needs certificate, private_key, server_certificate" in message


def test_s7_bool_needs_a_bit() -> None:
    ((_, field, message),) = _problems(SITE.replace(", bit: 3}", "}"))
    assert field.endswith("tags[1]")
    assert "needs s7.bit" in message


def test_one_address_per_tag() -> None:
    text = SITE.replace(
        "s7: {db: 10, offset: 4}",
        's7: {db: 10, offset: 4}\n                      opcua: {node_id: "ns=1;i=5"}',
    )
    assert any("one address per tag" in m for _, _, m in _problems(text))


def test_writable_needs_a_writable_table() -> None:
    assert parse_site(GOOD_MODBUS, "x.yaml").device("plc").protocol == "modbus_tcp"
    found = _problems(GOOD_MODBUS.replace("table: holding", "table: input"))
    assert any("a Modbus input is read-only" in m for _, _, m in found), found


GOOD_MODBUS = (
    SITE.replace(
        'opcua: {node_id: "ns=2;s=Press.Force"}',
        "modbus: {table: holding, address: 0}\n                      writable: true",
    )
    .replace("device: ua", "device: plc")
    .replace("devices:\n", "devices:\n  - name: plc\n    port: 502\n")
)


TEMPLATED = SITE.replace(
    "      mqtt: {topic: plant/a/sensor/humidity, value: $.v, timestamp: $.t}",
    "      mqtt: {value: $.v}",
).replace("  - name: broker\n    protocol: mqtt\n", "  - name: broker\n    protocol: mqtt\n"
          "    topic_template: 'factory/{area}/{equipment}/{tag}'\n")  # fmt: skip


def test_a_topic_template_gives_tags_their_topics() -> None:
    assert "topic_template" in TEMPLATED
    site = parse_site(TEMPLATED, "plant.yaml")
    humidity = next(r.tag for r in site.tags() if r.tag.name == "humidity")
    assert humidity.mqtt is not None
    assert humidity.mqtt.topic == "factory/a/sensor/humidity"
    assert humidity.mqtt.value == "$.v"


def test_a_tag_without_topic_or_template_is_refused() -> None:
    text = TEMPLATED.replace("    topic_template: 'factory/{area}/{equipment}/{tag}'\n", "")
    assert any("no topic" in m for _, _, m in _problems(text))


def test_a_template_with_unknown_fields_or_wildcards_is_refused() -> None:
    for bad in ("'factory/{zone}/{tag}'", "'factory/+/{tag}'"):
        text = TEMPLATED.replace("'factory/{area}/{equipment}/{tag}'", bad)
        ((_, field, message),) = _problems(text)
        assert field == "devices[2].topic_template"
        assert "zone" in message or "wildcards" in message


def test_a_computed_tag_has_no_address() -> None:
    text = SITE.replace(
        "s7: {db: 10, offset: 4}", "s7: {db: 10, offset: 4}\n                      computed: true"
    )
    assert any("a computed tag has no address, found s7" in m for _, _, m in _problems(text))
