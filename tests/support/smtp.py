"""A real SMTP server for tests: aiosmtpd on a free 127.0.0.1 port, keeping what it gets."""

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from support.mqtt import HOST
from support.ports import free_port


class Inbox:
    def __init__(self) -> None:
        self.envelopes: list[Envelope] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 (aiosmtpd's hook name)
        self.envelopes.append(envelope)
        return "250 OK"


@asynccontextmanager
async def smtp_server() -> AsyncIterator[tuple[Inbox, int]]:
    """The inbox and port of an SMTP server running until the block ends."""
    inbox = Inbox()
    controller = Controller(inbox, hostname=HOST, port=free_port())
    await asyncio.to_thread(controller.start)
    try:
        yield inbox, controller.port
    finally:
        await asyncio.to_thread(controller.stop)


def email_channel(port: int, **extra: Any) -> dict[str, Any]:
    """A notify e-mail channel to the test server."""
    return {
        "kind": "email",
        "smtp": f"smtp://{HOST}:{port}",
        "sender": "factoryos@plant.local",
        "to": ["maint@plant.local", "ops@plant.local"],
        **extra,
    }
