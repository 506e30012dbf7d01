"""The ``notify:`` section of the apps file: a good file resolves, every bad one names the
field and its line."""

import pytest

from factoryos.apps.notify import NotifyConfigError, load_notify
from factoryos.apps.notify.config import NotifyConfig
from factoryos.apps.notify.settings import EmailTarget, MqttTarget, WebhookTarget, resolve
from factoryos.model.appsfile import parse_apps_file
from factoryos.model.errors import AppsFileError

GOOD = """\
notify:
  channels:
    ops-webhook: {kind: webhook, url: "https://ops.example/hooks/factoryos", secret_env: FACTORYOS_WEBHOOK_SECRET, timeout_s: 5}
    line-mqtt:   {kind: mqtt, broker: "mqtt://127.0.0.1:1883", topic: "factoryos/alarms/{equipment}", qos: 1}
    maintenance: {kind: email, smtp: "smtp://mail.plant.local:25", sender: "factoryos@plant.local", to: ["maint@plant.local"], starttls: false, username: null, password_env: null}
  routes:
    - match: {source: alarm, priority_min: high, equipment: "demo/machining/*"}
      channels: [ops-webhook, maintenance]
      dedupe_s: 600
"""  # noqa: E501 (the example of the brief, as users write it)
ENV = {"FACTORYOS_WEBHOOK_SECRET": "hunter2"}


def load(text: str, env: dict[str, str] | None = None) -> object:
    return load_notify(parse_apps_file(text, "apps.yaml"), ENV if env is None else env)


def problem(text: str, env: dict[str, str] | None = None) -> str:
    with pytest.raises(AppsFileError) as info:
        load(text, env)
    return str(info.value)


def test_good_file_resolves_every_channel_and_route() -> None:
    s = load_notify(parse_apps_file(GOOD, "apps.yaml"), ENV)
    assert s is not None
    hook, mqtt, mail = (s.targets[n] for n in ("ops-webhook", "line-mqtt", "maintenance"))
    assert isinstance(hook, WebhookTarget)
    assert (hook.url, hook.secret, hook.timeout_s) == (
        "https://ops.example/hooks/factoryos",
        b"hunter2",
        5.0,
    )
    assert isinstance(mqtt, MqttTarget)
    assert (mqtt.broker.host, mqtt.broker.port, mqtt.broker.tls, mqtt.qos) == (
        "127.0.0.1",
        1883,
        False,
        1,
    )
    assert isinstance(mail, EmailTarget)
    assert (mail.host, mail.port, mail.implicit_tls, mail.to) == (
        "mail.plant.local",
        25,
        False,
        ("maint@plant.local",),
    )
    (route,) = s.routes
    assert route.match.priority_min == 3
    assert route.match.labels == {"equipment": "demo/machining/*"}
    assert (route.channels, route.dedupe_s) == (["ops-webhook", "maintenance"], 600.0)


def test_file_without_the_section_gives_none() -> None:
    assert load("alarms: {}\n") is None


def test_missing_secret_names_channel_variable_and_line() -> None:
    message = problem(GOOD, env={})
    assert "apps.yaml:3: notify.channels.ops-webhook.secret_env" in message
    assert "FACTORYOS_WEBHOOK_SECRET" in message


def test_route_naming_an_unknown_channel_names_route_and_line() -> None:
    message = problem(GOOD.replace("[ops-webhook, maintenance]", "[ops-webhook, maintenence]"))
    assert "apps.yaml:8: notify.routes[0].channels[1]" in message
    assert "unknown channel 'maintenence'" in message


@pytest.mark.parametrize(
    ("old", "new", "where", "says"),
    [
        ("timeout_s: 5}", "timeout_s: 5, verify: no}", "3: notify.channels.ops-webhook.verify",
         "unknown field"),
        ("priority_min: high", "priority_min: severe", "7: notify.routes[0].match.priority_min",
         "priority must be"),
        ("dedupe_s: 600", "dedupe_s: -1", "9: notify.routes[0].dedupe_s", "greater than"),
        ("qos: 1", "qos: 3", "4: notify.channels.line-mqtt.qos", "Input should be"),
        ("{equipment}", "{equipment!r}", "4: notify.channels.line-mqtt.topic", "bare label"),
        ("alarms/{equipment}", "alarms/+/{equipment}", "4: notify.channels.line-mqtt.topic",
         "wildcards"),
        ("{equipment}", "{equipment", "4: notify.channels.line-mqtt.topic", "topic template"),
        ("kind: mqtt", "kind: sms", "4: notify.channels.line-mqtt", "tag"),
        ('to: ["maint@plant.local"]', "to: []", "5: notify.channels.maintenance.to",
         "at least 1"),
        ('to: ["maint@plant.local"]', 'to: ["maint@plant.local\\r\\nBcc: x@y"]',
         "5: notify.channels.maintenance.to[0]", "pattern"),
        ("username: null", "username: bot", "5: notify.channels.maintenance", "both username"),
        ("https://ops.example", "ftp://ops.example", "3: notify.channels.ops-webhook.url",
         "pattern"),
    ],
)  # fmt: skip
def test_bad_values_name_field_and_line(old: str, new: str, where: str, says: str) -> None:
    assert old in GOOD
    message = problem(GOOD.replace(old, new))
    assert f"apps.yaml:{where}" in message
    assert says in message


def test_bad_broker_url_is_reported_at_the_broker_line() -> None:
    message = problem(GOOD.replace("mqtt://127.0.0.1:1883", "tcp://127.0.0.1:1883"))
    assert "apps.yaml:4: notify.channels.line-mqtt.broker" in message
    assert "mqtt://host:port" in message


def test_smtp_login_without_tls_is_refused() -> None:
    text = GOOD.replace("username: null, password_env: null", "username: bot, password_env: PW")
    message = problem(text, env={**ENV, "PW": "pw"})
    assert "apps.yaml:5: notify.channels.maintenance.password_env" in message
    assert "starttls" in message


def test_smtp_login_with_starttls_reads_the_password() -> None:
    text = GOOD.replace("username: null, password_env: null", "username: bot, password_env: PW")
    s = load_notify(
        parse_apps_file(text.replace("starttls: false", "starttls: true")), {**ENV, "PW": "pw"}
    )
    assert s is not None
    mail = s.targets["maintenance"]
    assert isinstance(mail, EmailTarget)
    assert (mail.username, mail.password, mail.starttls) == ("bot", "pw", True)


def test_smtps_defaults_to_port_465_and_mqtts_to_8883() -> None:
    text = GOOD.replace("smtp://mail.plant.local:25", "smtps://mail.plant.local").replace(
        "mqtt://127.0.0.1:1883", "mqtts://broker.plant.local"
    )
    s = load_notify(parse_apps_file(text), ENV)
    assert s is not None
    mail, mqtt = s.targets["maintenance"], s.targets["line-mqtt"]
    assert isinstance(mail, EmailTarget)
    assert isinstance(mqtt, MqttTarget)
    assert (mail.port, mail.implicit_tls, mqtt.broker.port, mqtt.broker.tls) == (
        465,
        True,
        8883,
        True,
    )


def test_resolve_without_a_file_raises_the_package_error_with_its_path() -> None:
    config = NotifyConfig.model_validate(
        {"channels": {"a": {"kind": "webhook", "url": "http://x/", "secret_env": "NOPE"}}}
    )
    with pytest.raises(NotifyConfigError) as info:
        resolve(config, {})
    assert info.value.path == ("channels", "a", "secret_env")
    assert "channel a" in str(info.value)
