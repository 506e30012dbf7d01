"""Deployment settings, read from ``FACTORYOS_…`` environment variables."""

from pathlib import Path

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from factoryos.model.timeparse import parse_duration_ns
from factoryos.runtime.feeds import Feeds


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
    retention_every: str = Field(
        default="1h", description="How often the site file's retention policy runs, e.g. 15m."
    )

    @field_validator("retention_every")
    @classmethod
    def _duration(cls, text: str) -> str:
        if parse_duration_ns(text, whole=True) <= 0:  # whole=True: never 0
            raise ValueError(f"{text!r} must be above 0")
        return text

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
        )
