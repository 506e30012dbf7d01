"""The gateway config file (YAML, validated by pydantic).

::

    gateway: line1-gw              # unique per site: it names the gateway's messages
    site_file: site.yaml           # relative paths are relative to this file
    outbox:
      path: /var/lib/factoryos/line1-gw.outbox
      max_mb: 256
      policy: drop_oldest          # or reject
    uplink:
      kind: nats
      url: nats://platform:4222
      stream: FACTORYOS_INGEST
    inference:                     # optional: platform-trained models scored here
      - model: models/cnc-01.onnx
        score_tag: demo/machining/line1/cell1/cnc-01/anomaly_score

or, for MQTT Sparkplug B::

    uplink:
      kind: sparkplug
      host: broker.example
      port: 8883
      tls: true
      username: line1-gw
      password_env: FACTORYOS_MQTT_PASSWORD
      group_id: plant1
"""

import re
from pathlib import Path
from typing import Annotated, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from factoryos.edge.errors import GatewayConfigError
from factoryos.edge.outbox import Policy
from factoryos.model.yamlfile import dotted, line_of, load_with_lines

GatewayName = Annotated[str, Field(pattern=r"^[a-z0-9_-]{1,64}$")]
StreamName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_-]{1,64}$")]
SparkplugId = Annotated[str, Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")]
"""A Sparkplug group, edge node or host id: no ``/ + #`` (the topic's separators and
wildcards), and kept to characters every broker and host application accepts."""
EnvName = Annotated[str, Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class OutboxConfig(_Strict):
    path: Path
    max_mb: float = Field(default=256.0, gt=0, le=1_000_000)
    policy: Policy = Policy.DROP_OLDEST

    @property
    def max_bytes(self) -> int:
        return int(self.max_mb * 2**20)


class NatsUplinkConfig(_Strict):
    kind: Literal["nats"] = "nats"
    url: str = "nats://127.0.0.1:4222"
    stream: StreamName = "FACTORYOS_INGEST"
    timeout_s: float = Field(default=5.0, gt=0, le=300)
    """How long to wait for a connection or a PubAck."""
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600)
    stream_max_age_s: float = Field(default=7 * 86400, gt=0)
    """Retention of the stream when the gateway creates it."""
    duplicate_window_s: float = Field(default=600, gt=0)
    """JetStream de-duplication window of the stream when the gateway creates it."""


class SparkplugUplinkConfig(_Strict):
    """MQTT Sparkplug B: the gateway is one edge node of ``group_id`` on the broker."""

    kind: Literal["sparkplug"]
    host: str = Field(default="127.0.0.1", min_length=1)
    port: int = Field(default=1883, ge=1, le=65535)
    tls: bool = False
    ca_file: Path | None = None
    """CA bundle to check the broker's certificate with (TLS); the system's when absent."""
    username: str | None = None
    password_env: EnvName | None = None
    """The environment variable holding the password (never the password itself)."""
    group_id: SparkplugId
    edge_node_id: SparkplugId | None = None
    """Defaults to the gateway's name."""
    primary_host_id: SparkplugId | None = "factoryos-platform"
    """Publish only while this host application's STATE is online (Sparkplug 3.0 primary
    host); ``null`` publishes whenever the broker is reachable."""
    bdseq_path: Path | None = None
    """Where the bdSeq counter survives restarts; defaults to the outbox path + ``.bdseq``."""
    timeout_s: float = Field(default=5.0, gt=0, le=300)
    """How long to wait for a connection or a PUBACK."""
    keepalive_s: int = Field(default=30, ge=5, le=3600)
    max_backoff_s: float = Field(default=30.0, gt=0, le=3600)
    max_metrics_per_payload: int = Field(default=5000, ge=1, le=100_000)


class InferenceConfig(_Strict):
    """A platform-trained model the gateway runs (docs/edge.md, "Inference at the edge")."""

    model: Path
    """An ONNX file exported from the platform's model registry."""
    score_tag: str = Field(min_length=1, max_length=400)
    """The UNS path of the site tag (without an address) the scores are published to."""


UplinkConfig = Annotated[NatsUplinkConfig | SparkplugUplinkConfig, Field(discriminator="kind")]


class GatewayConfig(_Strict):
    gateway: GatewayName
    site_file: Path
    outbox: OutboxConfig
    uplink: UplinkConfig
    max_batches_per_send: int = Field(default=64, ge=1, le=10_000)
    """Most outbox records read per round of the sender."""
    drain_timeout_s: float = Field(default=5.0, ge=0, le=600)
    """On stop, how long the sender keeps delivering before leaving the rest on disk."""
    inference: list[InferenceConfig] = Field(default_factory=list, max_length=1000)
    """Models scored on the gateway's own samples; their scores travel like samples."""


def load_gateway_config(path: str | Path) -> GatewayConfig:
    """Read and validate a gateway config; relative paths in it are made relative to it.

    Raises :class:`GatewayConfigError` naming the file, line and field.
    """
    p = Path(path)
    try:
        data, lines = load_with_lines(p.read_text(encoding="utf-8"))
    except OSError as exc:
        raise GatewayConfigError(f"{p}: cannot read: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise GatewayConfigError(f"{p}: not YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise GatewayConfigError(f"{p}: expected a mapping with 'gateway:'")
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        raise GatewayConfigError(_describe(p, exc, lines)) from exc
    base = p.resolve().parent
    outbox = config.outbox.model_copy(update={"path": base / config.outbox.path})
    update: dict[str, object] = {"site_file": base / config.site_file, "outbox": outbox}
    update["inference"] = [m.model_copy(update={"model": base / m.model}) for m in config.inference]
    uplink = config.uplink
    if isinstance(uplink, SparkplugUplinkConfig):
        update["uplink"] = uplink.model_copy(update=_relative_paths(uplink, base))
    return config.model_copy(update=update)


def _relative_paths(uplink: SparkplugUplinkConfig, base: Path) -> dict[str, Path]:
    return {
        name: base / value
        for name, value in (("ca_file", uplink.ca_file), ("bdseq_path", uplink.bdseq_path))
        if value is not None
    }


def _describe(path: Path, exc: ValidationError, lines: dict[tuple[str | int, ...], int]) -> str:
    problems = []
    for e in exc.errors():
        loc = tuple(e["loc"])
        if loc[:1] == ("uplink",) and loc[1:2] in (("nats",), ("sparkplug",)):
            loc = loc[:1] + loc[2:]  # pydantic names the union member: not a field of the file
        line = line_of(lines, loc)
        where = f"{path}:{line}" if line is not None else str(path)
        message = re.sub(r"^Value error, ", "", e["msg"])
        if e["type"] == "extra_forbidden":
            message = "unknown field (check the spelling)"
        problems.append(f"{where}: {dotted(loc)}: {message}")
    return "\n".join(problems)
