"""E-mail channel: stdlib smtplib in a worker thread, with a socket timeout."""

import asyncio
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import formatdate, make_msgid

from factoryos.apps.notify.errors import DeliveryError
from factoryos.apps.notify.notification import Notification
from factoryos.apps.notify.settings import EmailTarget
from factoryos.apps.notify.signing import EVENT_ID_HEADER


def build_message(target: EmailTarget, notification: Notification, event_id: str) -> EmailMessage:
    """The e-mail for ``notification`` (pure)."""
    msg = EmailMessage()
    # A header cannot span lines: a multi-line subject would be refused or, worse, inject.
    msg["Subject"] = " ".join(notification.subject.split())
    msg["From"] = target.sender
    msg["To"] = ", ".join(target.to)
    msg["Date"] = formatdate(notification.ts_ns / 1e9, usegmt=True)
    msg["Message-ID"] = make_msgid(domain=target.sender.rpartition("@")[2])
    msg[EVENT_ID_HEADER] = event_id
    msg.set_content(notification.body)
    for a in notification.attachments:
        maintype, subtype = a.mime_type.split("/")
        msg.add_attachment(a.content, maintype=maintype, subtype=subtype, filename=a.filename)
    return msg


def _deliver(target: EmailTarget, msg: EmailMessage) -> dict[str, tuple[int, bytes]]:
    context = ssl.create_default_context()
    smtp = (
        smtplib.SMTP_SSL(target.host, target.port, timeout=target.timeout_s, context=context)
        if target.implicit_tls
        else smtplib.SMTP(target.host, target.port, timeout=target.timeout_s)
    )
    with smtp:
        if target.starttls:
            smtp.starttls(context=context)
        if target.username is not None and target.password is not None:
            smtp.login(target.username, target.password)
        return smtp.send_message(msg, from_addr=target.sender, to_addrs=list(target.to))


def _permanent(exc: smtplib.SMTPException) -> bool:
    """5xx answers and refused logins do not change on retry."""
    if isinstance(exc, smtplib.SMTPAuthenticationError | smtplib.SMTPRecipientsRefused):
        return True
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and 500 <= code < 600


class EmailTransport:
    def __init__(self, target: EmailTarget) -> None:
        self.target = target

    async def send(self, notification: Notification, event_id: str) -> None:
        t = self.target
        msg = build_message(t, notification, event_id)
        try:
            refused = await asyncio.to_thread(_deliver, t, msg)
        except smtplib.SMTPException as exc:
            raise DeliveryError(
                t.name, f"SMTP {t.host}:{t.port}: {exc}", retryable=not _permanent(exc)
            ) from exc
        except (OSError, ssl.SSLError) as exc:
            raise DeliveryError(t.name, f"SMTP {t.host}:{t.port}: {exc}") from exc
        if refused:
            # The others have it: a retry would send them a second copy.
            raise DeliveryError(
                t.name, f"SMTP {t.host}:{t.port} refused {sorted(refused)}", retryable=False
            )

    async def aclose(self) -> None:
        """Each send opens and closes its own SMTP session: nothing stays open."""
