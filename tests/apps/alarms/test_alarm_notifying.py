"""Alarm events become notifications routed on their labels, e-mailed to a real SMTP."""

from email import message_from_bytes, policy

from apps.notify.helpers import settings, started, until
from factoryos.apps.alarms.config import AlarmInfo
from factoryos.apps.alarms.events import AlarmEvent, EventKind, Priority
from factoryos.apps.alarms.notifying import notification, notify_alarms
from factoryos.apps.alarms.processor import AlarmNotice
from factoryos.apps.notify import Notifier
from support.smtp import email_channel, smtp_server

TAG = "demo/machining/line1/cell1/cnc-01/spindle_temp_c"
INFO = AlarmInfo("CNC-01 spindle temp HH", TAG, "demo/machining/line1/cell1/cnc-01", True, "")
T = 1_736_150_400 * 10**9  # 2025-01-06T08:00:00Z


def notice(kind: EventKind = EventKind.ACTIVATED, **info: object) -> AlarmNotice:
    event = AlarmEvent(T, INFO.name, kind, Priority.HIGH, value=87.25)
    return AlarmNotice(event, AlarmInfo(**{**INFO.__dict__, **info}))  # type: ignore[arg-type]


def test_an_event_becomes_a_labelled_notification() -> None:
    found = notification(notice())
    assert found is not None
    assert found.subject == "[HIGH] CNC-01 spindle temp HH activated"
    assert found.labels == {
        "alarm": INFO.name,
        "equipment": INFO.equipment,
        "tag": TAG,
        "kind": "activated",
    }
    assert found.priority == 3 and found.ts_ns == T
    assert "value: 87.25" in found.body and "2025-01-06T08:00:00" in found.body
    assert found.key == f"{INFO.name}/activated"  # a chattering alarm shares one key
    assert notification(notice(notify=False)) is None


async def test_routed_high_priority_alarms_arrive_by_mail() -> None:
    async with smtp_server() as (inbox, port):
        routes = [{"match": {"source": "alarm", "priority_min": "high"}, "channels": ["mail"]}]
        notifier = Notifier(settings({"mail": email_channel(port)}, routes))
        on_event = notify_alarms(notifier)
        async with started(notifier):
            await on_event(notice())
            low = AlarmNotice(AlarmEvent(T, "x", EventKind.ACTIVATED, Priority.LOW), INFO)
            await on_event(low)  # below the route's priority: not sent
            await until(lambda: len(inbox.envelopes) == 1)
    message = message_from_bytes(inbox.envelopes[0].content, policy=policy.default)  # type: ignore[arg-type]
    assert message["Subject"] == "[HIGH] CNC-01 spindle temp HH activated"
    assert notifier.stats().unrouted == 1
