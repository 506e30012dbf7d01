"""Device connections of a site file, one model per protocol, told apart by ``protocol``.

A device is one connection: a PLC, a meter, an OPC UA server, an MQTT or Sparkplug B source.
Secrets never sit in the site file: a password is named by the environment variable that
holds it (``password_env``).
"""

from pathlib import Path
from typing import Annotated, Any, Literal, Self

from pydantic import Discriminator, Field, field_validator, model_validator
from pydantic import Tag as UnionTag

from factoryos.model.tags import Name, Strict, WordOrder

Port = Annotated[int, Field(ge=1, le=65535)]
Timeout = Annotated[float, Field(gt=0, le=60, description="Seconds before a request fails.")]
Interval = Annotated[float, Field(gt=0, le=3600)]


class ModbusTcpDevice(Strict):
    """A Modbus TCP server (PLC, meter, gateway); polled by one poller."""

    name: Name
    description: str = ""
    protocol: Literal["modbus_tcp"] = "modbus_tcp"
    host: str = "127.0.0.1"
    port: Port = 502
    unit_id: int = Field(default=1, ge=0, le=255)
    poll_interval_s: Interval = 1.0
    timeout_s: Timeout = 1.0
    word_order: WordOrder = WordOrder.BIG
    max_block: int = Field(
        default=120, ge=1, le=125, description="Most registers read in one request."
    )

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"


class S7Device(Strict):
    """A Siemens S7 PLC over ISO-on-TCP; polled by one poller."""

    name: Name
    description: str = ""
    protocol: Literal["s7"]
    host: str = "127.0.0.1"
    port: Port = 102
    rack: int = Field(default=0, ge=0, le=7)
    slot: int = Field(default=1, ge=0, le=31)
    poll_interval_s: Interval = 1.0
    timeout_s: Timeout = 1.0

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port} rack {self.rack} slot {self.slot}"


class OpcUaDevice(Strict):
    """An OPC UA server; tags are monitored items of one subscription."""

    name: Name
    description: str = ""
    protocol: Literal["opcua"]
    endpoint: str = Field(pattern=r"^opc\.tcp://", description="opc.tcp://host:port/path")
    security_policy: Literal["None", "Basic256Sha256"] = "None"
    security_mode: Literal["None", "Sign", "SignAndEncrypt"] = "None"
    certificate: Path | None = Field(default=None, description="Client certificate (DER/PEM).")
    private_key: Path | None = Field(default=None, description="Client private key (PEM).")
    server_certificate: Path | None = Field(
        default=None, description="Trusted server certificate; required with security."
    )
    username: str | None = None
    password_env: str | None = Field(default=None, description="Variable holding the password.")
    sampling_interval_s: float = Field(default=1.0, ge=0, le=3600)
    publishing_interval_s: Interval = 1.0
    timeout_s: Timeout = 4.0

    @property
    def address(self) -> str:
        return self.endpoint

    @model_validator(mode="after")
    def _security_is_complete(self) -> Self:
        secured = self.security_policy != "None"
        if secured != (self.security_mode != "None"):
            raise ValueError("security_policy and security_mode must both be set or both None")
        missing = [
            f
            for f in ("certificate", "private_key", "server_certificate")
            if secured and getattr(self, f) is None
        ]
        if missing:
            raise ValueError(f"security {self.security_policy} needs {', '.join(missing)}")
        if (self.username is None) != (self.password_env is None):
            raise ValueError("username and password_env go together")
        return self


class _Broker(Strict):
    """Connection settings shared by MQTT and Sparkplug B sources."""

    host: str = "127.0.0.1"
    port: Port = 1883
    username: str | None = None
    password_env: str | None = Field(default=None, description="Variable holding the password.")
    tls: bool = False
    ca_file: Path | None = Field(default=None, description="CA certificate for TLS.")
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    timeout_s: Timeout = 5.0
    max_payload_bytes: int = Field(default=262_144, ge=256, le=268_435_455)

    @property
    def address(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"


TOPIC_FIELDS = ("site", "area", "line", "cell", "equipment", "tag", "path")


class MqttDevice(_Broker):
    """Plain MQTT with JSON payloads; each tag names its topic and JSON paths."""

    name: Name
    description: str = ""
    protocol: Literal["mqtt"]
    client_id: str | None = None
    qos: Literal[0, 1, 2] = 1
    persistent_session: bool = Field(
        default=False,
        description="Ask the broker to keep the subscriptions and queue QoS 1/2 messages while "
        "FactoryOS is away (a restart, an outage): nothing published meanwhile is lost. "
        "Needs a client_id unique on the broker.",
    )
    topic_template: str | None = Field(
        default=None,
        max_length=1024,
        description="Topic of every tag without its own, from its place in the asset tree: "
        "fields {site} {area} {line} {cell} {equipment} {tag} {path}, e.g. "
        "'plant1/{area}/{equipment}/{tag}'.",
    )

    @model_validator(mode="after")
    def _session_has_an_id(self) -> "MqttDevice":
        if self.persistent_session and not self.client_id:
            raise ValueError(
                "persistent_session needs a client_id (the broker keeps the session under it)"
            )
        return self

    @field_validator("topic_template")
    @classmethod
    def _known_fields(cls, template: str | None) -> str | None:
        if template is None:
            return None
        if "+" in template or "#" in template:
            raise ValueError("a topic template names exact topics: no + or # wildcards")
        try:
            template.format(**dict.fromkeys(TOPIC_FIELDS, "x"))
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(
                f"unknown or malformed field {exc}; use {', '.join(TOPIC_FIELDS)}"
            ) from exc
        return template


class SparkplugDevice(_Broker):
    """A Sparkplug B 3.0 edge node (optionally one of its devices), read as host application."""

    name: Name
    description: str = ""
    protocol: Literal["sparkplug_b"]
    group_id: str = Field(pattern=r"^[^/+#]+$")
    edge_node_id: str = Field(pattern=r"^[^/+#]+$")
    device_id: str | None = Field(default=None, pattern=r"^[^/+#]+$")
    host_id: str = Field(default="factoryos", pattern=r"^[^/+#]+$")


PROTOCOLS = ("modbus_tcp", "s7", "opcua", "mqtt", "sparkplug_b")


def _protocol(value: Any) -> str | None:
    # ``protocol`` may be left out for Modbus TCP, the first driver, so older files stay valid.
    if isinstance(value, dict):
        return str(value.get("protocol", "modbus_tcp"))
    return getattr(value, "protocol", None)


Device = Annotated[
    Annotated[ModbusTcpDevice, UnionTag("modbus_tcp")]
    | Annotated[S7Device, UnionTag("s7")]
    | Annotated[OpcUaDevice, UnionTag("opcua")]
    | Annotated[MqttDevice, UnionTag("mqtt")]
    | Annotated[SparkplugDevice, UnionTag("sparkplug_b")],
    Discriminator(_protocol),
]
AnyDevice = ModbusTcpDevice | S7Device | OpcUaDevice | MqttDevice | SparkplugDevice
