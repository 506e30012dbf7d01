"""MQTT delivery through the shared Mosquitto and e-mail through a local aiosmtpd server."""

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from email import message_from_bytes, policy
from email.message import EmailMessage

import aiomqtt
import pytest

from factoryos.apps.notify import Attachment, ChannelCounters, Notifier
from support.mqtt import HOST, reachable
from support.ports import free_port
from support.smtp import Inbox, email_channel, smtp_server

from .helpers import WAIT_S, note, settings, started, until

MQTT_PORT = 1883


@pytest.fixture
def broker() -> int:
    if not reachable(MQTT_PORT):
        pytest.skip(f"no MQTT broker at {HOST}:{MQTT_PORT} (start Mosquitto)")
    return MQTT_PORT


async def test_mqtt_json_on_the_topic_filled_from_labels(broker: int) -> None:
    prefix = f"factoryos-test/{uuid.uuid4().hex[:12]}"
    channel = {
        "kind": "mqtt",
        "broker": f"mqtt://{HOST}:{broker}",
        "qos": 1,
        "topic": prefix + "/{equipment}/{alarm}/{missing}",
    }
    notifier = Notifier(settings({"line": channel}))
    async with aiomqtt.Client(HOST, broker, timeout=5) as sub:
        await sub.subscribe(f"{prefix}/#", qos=1)
        async with started(notifier):
            notifier.submit(note(labels={"equipment": "demo/machining/oven-01", "alarm": "T+#"}))
            async with asyncio.timeout(WAIT_S):
                message = await anext(aiter(sub.messages))
    assert str(message.topic) == f"{prefix}/demo/machining/oven-01/T__/_"
    assert isinstance(message.payload, bytes)
    document = json.loads(message.payload)
    assert (document["key"], document["subject"], document["priority"]) == (
        "oven-hh/activated",
        "Oven T HH",
        4,
    )
    assert notifier.stats().channels["line"] == ChannelCounters(sent=1)


async def test_mqtt_broker_down_counts_a_failure_naming_the_channel() -> None:
    channel = {
        "kind": "mqtt",
        "broker": f"mqtt://{HOST}:{free_port()}",
        "topic": "x/{a}",
        "timeout_s": 1,
    }
    notifier = Notifier(settings({"line": channel}))
    async with started(notifier):
        notifier.submit(note())
        await until(lambda: notifier.stats().channels["line"].failed == 1)


@pytest.fixture
async def smtp() -> AsyncIterator[tuple[Inbox, int]]:
    async with smtp_server() as server:
        yield server


async def test_email_with_recipients_subject_body_and_attachment(
    smtp: tuple[Inbox, int],
) -> None:
    inbox, port = smtp
    pdf = b"%PDF-1.7\n" + bytes(range(256)) * 4
    report = note(
        key="oee/daily/2026-11-24",
        source="report",
        subject="Daily OEE\r\nBcc: intruder@example.com",
        body="OEE line 1: 71.3 %\nSee the attachment.",
        attachments=(Attachment("oee-2026-11-24.pdf", pdf, "application/pdf"),),
    )
    notifier = Notifier(settings({"mail": email_channel(port)}))
    async with started(notifier):
        notifier.submit(report)
        await until(lambda: len(inbox.envelopes) == 1)
    (envelope,) = inbox.envelopes
    assert envelope.mail_from == "factoryos@plant.local"
    assert envelope.rcpt_tos == ["maint@plant.local", "ops@plant.local"]
    assert isinstance(envelope.content, bytes)
    msg = message_from_bytes(envelope.content, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == "Daily OEE Bcc: intruder@example.com", "no header injection"
    assert msg["Bcc"] is None
    text = msg.get_body(("plain",))
    assert text is not None
    body = text.get_content().replace("\r\n", "\n").strip()  # SMTP sends CRLF lines
    assert body == "OEE line 1: 71.3 %\nSee the attachment."
    (attached,) = msg.iter_attachments()
    assert attached.get_filename() == "oee-2026-11-24.pdf"
    assert attached.get_content_type() == "application/pdf"
    assert attached.get_content() == pdf
    assert notifier.stats().channels["mail"] == ChannelCounters(sent=1)


async def test_smtp_server_down_fails_after_the_cap() -> None:
    notifier = Notifier(settings({"mail": email_channel(free_port(), timeout_s=1)}))
    async with started(notifier):
        notifier.submit(note())
        await until(lambda: notifier.stats().channels["mail"].failed == 1)
