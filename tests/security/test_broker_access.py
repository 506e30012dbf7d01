"""The generated passwd + ACL on a real Mosquitto: each device publishes under its own topics
only, and nobody gets in without the right password.

A denied publish is dropped silently under MQTT 3.1.1 (the broker still acks it), so each
denial test publishes the forbidden message and then an allowed one on the same connection:
the broker handles one client's messages in order, so when the allowed message arrives at the
platform's subscriber, the forbidden one would have arrived before it. Under MQTT 5 Mosquitto
says so itself: PUBACK reason code 135, "Not authorized".
"""

import asyncio
import threading

import aiomqtt
import paho.mqtt.client as paho
import pytest

from support.mqtt import HOST
from support.secure_broker import (
    A_TOPIC,
    B_TOPIC,
    GATEWAY,
    GROUP,
    SITE_NODE,
    SecuredBroker,
    tls,
)

NOT_AUTHORIZED = 135
ACCEPTED = (0, 16)  # success, and success with "no matching subscribers"


async def _first(client: aiomqtt.Client) -> tuple[str, bytes]:
    async with asyncio.timeout(5):
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            return str(message.topic), message.payload
    raise AssertionError("the subscription ended")


async def _publish_as(secured: SecuredBroker, user: str, messages: list[tuple[str, bytes]]) -> None:
    async with secured.client(user) as client:
        for topic, payload in messages:
            await client.publish(topic, payload, qos=1)


async def test_a_device_publishes_its_own_topic_and_not_another_devices(
    secured: SecuredBroker,
) -> None:
    async with secured.client("factoryos") as platform:
        await platform.subscribe("#", qos=1)
        await _publish_as(secured, "sensors-a", [(B_TOPIC, b"forged"), (A_TOPIC, b"mine")])
        assert await _first(platform) == (A_TOPIC, b"mine")


def _publish_v5(secured: SecuredBroker, user: str, topic: str) -> int:
    """The PUBACK reason code of one QoS 1 publish under MQTT 5 (paho, blocking)."""
    client = paho.Client(paho.CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.username_pw_set(user, secured.password(user))
    client.tls_set_context(tls(secured.pki))
    codes: list[int] = []
    acked = threading.Event()

    def on_publish(*args: object) -> None:
        codes.append(int(args[3].value))  # type: ignore[attr-defined]
        acked.set()

    client.on_publish = on_publish
    client.connect(HOST, secured.port, keepalive=10)
    client.loop_start()
    try:
        client.publish(topic, b"x", qos=1)
        assert acked.wait(5), "no PUBACK"
    finally:
        client.disconnect()
        client.loop_stop()
    return codes[0]


async def test_mqtt5_says_not_authorized_for_another_devices_topic(
    secured: SecuredBroker,
) -> None:
    assert await asyncio.to_thread(_publish_v5, secured, "sensors-a", B_TOPIC) == NOT_AUTHORIZED
    assert await asyncio.to_thread(_publish_v5, secured, "sensors-a", A_TOPIC) in ACCEPTED


@pytest.mark.parametrize(
    ("user", "password"), [("sensors-a", "wrong-password"), ("nobody", "x"), (None, None)]
)
async def test_a_wrong_password_an_unknown_user_and_anonymous_are_refused(
    secured: SecuredBroker, user: str | None, password: str | None
) -> None:
    with pytest.raises(aiomqtt.MqttCodeError, match=r"[Nn]ot authori[sz]ed") as caught:
        async with secured.client(user, password or ""):
            pass
    assert caught.value.rc is not None


async def test_a_gateway_publishes_its_own_ndata_and_not_another_nodes(
    secured: SecuredBroker,
) -> None:
    own = f"spBv1.0/{GROUP}/NDATA/{GATEWAY}"
    other = f"spBv1.0/{GROUP}/NDATA/{SITE_NODE}"
    async with secured.client("factoryos") as platform:
        await platform.subscribe("spBv1.0/#", qos=1)
        await _publish_as(secured, GATEWAY, [(other, b"forged"), (own, b"mine")])
        assert await _first(platform) == (own, b"mine")


async def test_a_gateway_reads_its_own_commands_only(secured: SecuredBroker) -> None:
    own = f"spBv1.0/{GROUP}/NCMD/{GATEWAY}"
    other = f"spBv1.0/{GROUP}/NCMD/{SITE_NODE}"
    async with secured.client(GATEWAY) as gateway:
        await gateway.subscribe(f"spBv1.0/{GROUP}/NCMD/+", qos=1)  # wider than its rights
        await _publish_as(secured, "factoryos", [(other, b"theirs"), (own, b"mine")])
        assert await _first(gateway) == (own, b"mine")
