"""Broker settings, credentials from the environment, back-off and the bounded receive queue."""

import pytest

from factoryos.connect.errors import ConfigError
from factoryos.connect.mqtt_client import Backoff, BrokerSettings, _dropping_queue
from factoryos.model.devices import MqttDevice


def test_settings_of_a_device_read_the_password_from_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    device = MqttDevice.model_validate(
        {
            "name": "b",
            "protocol": "mqtt",
            "host": "broker.local",
            "port": 8883,
            "username": "edge",
            "password_env": "FACTORYOS_TEST_MQTT_PW",
            "tls": True,
        }
    )
    monkeypatch.delenv("FACTORYOS_TEST_MQTT_PW", raising=False)
    with pytest.raises(ConfigError, match=r"FACTORYOS_TEST_MQTT_PW .* is not set"):
        BrokerSettings.of(device)
    monkeypatch.setenv("FACTORYOS_TEST_MQTT_PW", "s3cret")
    settings = BrokerSettings.of(device, "fos-1")
    assert (settings.username, settings.password, settings.client_id) == ("edge", "s3cret", "fos-1")
    assert settings.address == "mqtts://broker.local:8883"


@pytest.mark.parametrize(
    ("url", "host", "port", "tls", "user"),
    [
        ("mqtt://127.0.0.1", "127.0.0.1", 1883, False, None),
        ("mqtt://broker:1884", "broker", 1884, False, None),
        ("mqtts://ops@broker", "broker", 8883, True, "ops"),
    ],
)
def test_from_url(url: str, host: str, port: int, tls: bool, user: str | None) -> None:
    s = BrokerSettings.from_url(url)
    assert (s.host, s.port, s.tls, s.username, s.password) == (host, port, tls, user, None)


@pytest.mark.parametrize(
    ("url", "problem"),
    [
        ("http://broker", "use mqtt://"),
        ("mqtt://", "use mqtt://"),
        ("mqtt://u:pw@broker", "environment variable"),
        ("mqtt://broker:99999", "out of range"),
    ],
)
def test_from_url_refuses(url: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        BrokerSettings.from_url(url)


def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    b = Backoff(0.5, 3.0)
    assert [b.failed() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    b.reset()
    assert b.failed() == 0.5
    with pytest.raises(ConfigError):
        Backoff(2.0, 1.0)


async def test_full_receive_queue_drops_the_oldest_and_counts() -> None:
    dropped: list[int] = []
    queue = _dropping_queue(lambda: dropped.append(1))(maxsize=2)
    for item in ("a", "b", "c", "d"):
        queue.put_nowait(item)  # type: ignore[arg-type]
    assert [queue.get_nowait(), queue.get_nowait()] == ["c", "d"]
    assert len(dropped) == 2
