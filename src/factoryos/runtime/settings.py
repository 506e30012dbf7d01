"""Deployment settings, read from ``FACTORYOS_…`` environment variables."""

from dataclasses import dataclass
from pathlib import Path
from typing import Self

from pydantic import Field, FilePath, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryos.model.timeparse import parse_duration_ns
from factoryos.runtime.feeds import Feeds
from factoryos.runtime.secret_key import demo_secret, server_secret


@dataclass(frozen=True)
class ServerTls:
    """The API's HTTPS certificate and private key (PEM files)."""

    certfile: Path
    keyfile: Path


class Settings(BaseSettings):
    """Where the embedded platform keeps its data and where it listens.

    Every field can be set as an environment variable, e.g. ``FACTORYOS_DATA_DIR=/var/lib/fos``.
    """

    model_config = SettingsConfigDict(env_prefix="FACTORYOS_", extra="ignore")

    data_dir: Path = Field(default=Path(".factoryos"), description="Catalog and time series.")
    store: str | None = Field(
        default=None,
        description="Time series in PostgreSQL: postgresql://user@host/db[?schema=…]; "
        "default DuckDB in data_dir.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    url: str = Field(default="http://127.0.0.1:8000", description="API used by `query`.")
    api_key: str | None = Field(default=None, description="Credential used by `query`.")
    nats_url: str | None = Field(default=None, description="Ingest edge gateways' NATS stream.")
    nats_stream: str = "FACTORYOS_INGEST"
    sparkplug_broker: str | None = Field(
        default=None, description="Ingest Sparkplug B gateways from this broker: mqtt://host:1883"
    )
    sparkplug_group: str | None = Field(default=None, description="Their Sparkplug group id.")
    uns_broker: str | None = Field(
        default=None, description="Publish every tag to its UNS topic: mqtt://host:1883"
    )
    uns_prefix: str = "factoryos/v1"
    mqtt_password: SecretStr | None = Field(
        default=None, description="Password of the user in the broker URLs: mqtts://user@host"
    )
    mqtt_ca_file: FilePath | None = Field(
        default=None, description="CA certificate (PEM) of the mqtts:// brokers' certificates."
    )
    retention_every: str = Field(
        default="1h", description="How often the site file's retention policy runs, e.g. 15m."
    )
    tls_cert: FilePath | None = Field(
        default=None, description="Serve the API over HTTPS with this certificate (PEM)."
    )
    tls_key: FilePath | None = Field(default=None, description="The certificate's key (PEM).")
    secret_key: SecretStr | None = Field(
        default=None, description="Signs users' access tokens: 32+ random bytes (serve needs it)."
    )
    secret_key_file: Path | None = Field(
        default=None, description="A file holding the secret key (a mounted secret)."
    )
    apps_file: FilePath | None = Field(
        default=None, description="The applications' configuration (alarms …), YAML."
    )

    @model_validator(mode="after")
    def _tls_pair(self) -> Self:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("FACTORYOS_TLS_CERT and FACTORYOS_TLS_KEY go together")
        return self

    @field_validator("retention_every")
    @classmethod
    def _duration(cls, text: str) -> str:
        if parse_duration_ns(text, whole=True) <= 0:  # whole=True: never 0
            raise ValueError(f"{text!r} must be above 0")
        return text

    def token_secret(self, *, server: bool) -> str:
        """The token secret: a server's must be configured and strong (SecretKeyError);
        the demo makes one in its data directory."""
        value = self.secret_key.get_secret_value() if self.secret_key else None
        if server or value is not None or self.secret_key_file is not None:
            return server_secret(value, self.secret_key_file)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return demo_secret(self.data_dir)

    def server_tls(self) -> ServerTls | None:
        """HTTPS for the API, when both files are set."""
        if self.tls_cert is None or self.tls_key is None:
            return None
        return ServerTls(self.tls_cert, self.tls_key)

    @property
    def retention_every_s(self) -> float:
        return parse_duration_ns(self.retention_every, whole=True) / 1e9

    def feeds(self) -> Feeds:
        return Feeds(
            nats_url=self.nats_url,
            nats_stream=self.nats_stream,
            sparkplug_broker=self.sparkplug_broker,
            sparkplug_group=self.sparkplug_group,
            uns_broker=self.uns_broker,
            uns_prefix=self.uns_prefix,
            mqtt_password=self.mqtt_password.get_secret_value() if self.mqtt_password else None,
            mqtt_ca_file=self.mqtt_ca_file,
        )
