"""One frozen settings object for the whole process (env prefix ``PATROLFLOW_``).

Everything that differs between a laptop, CI and a production cluster is here and nowhere else.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import topics


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "patrolflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PATROLFLOW_", frozen=True, extra="ignore", env_file=None
    )

    # --- Kafka -----------------------------------------------------------------------------
    kafka_bootstrap: str | None = Field(
        default=None,
        description="Existing cluster's bootstrap servers (host:port[,host:port]). "
        "Unset: use the local broker that `patrolflow kafka up` starts.",
    )
    kafka_port: int = Field(default=9092, ge=1, le=65535, description="Local broker port.")
    kafka_controller_port: int = Field(
        default=9093, ge=1, le=65535, description="Local KRaft controller port."
    )
    kafka_version: str = Field(
        default="4.1.1", description="Apache Kafka version for the local broker."
    )
    kafka_heap: str = Field(default="-Xms256m -Xmx768m", description="Local broker JVM heap flags.")
    cache_dir: Path = Field(
        default_factory=_default_cache_dir,
        description="Outside the repo: Kafka jars, broker data and pid files.",
    )
    # Reserved for clusters that need them; not wired yet (plaintext only today).
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = "PLAINTEXT"
    kafka_sasl_mechanism: str | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    # --- Topics ----------------------------------------------------------------------------
    topic_prefix: str = Field(default="", description="Prepended to every topic name.")
    topic_partitions: int = Field(default=4, ge=1, description="Partitions of the input topics.")
    output_partitions: int = Field(default=4, ge=1, description="Partitions of the output topics.")
    topic_replication: int = Field(default=1, ge=1)

    # --- The worker ------------------------------------------------------------------------
    app_id: str = Field(
        default="patrolflow", description="Consumer group and internal-topic prefix."
    )
    data_dir: Path = Field(default=Path("data"), description="Table state (RocksDB) directory.")
    web_host: str = Field(default="127.0.0.1", description="Worker web server bind address.")
    web_port: int = Field(default=6066, ge=1, le=65535)
    store: Literal["rocksdb", "memory"] = Field(
        default="rocksdb", description="Table store; tests may use memory."
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    log_level: str = "info"

    # --- Region core and dispatch ------------------------------------------------------------
    internal_partitions: int = Field(
        default=4, ge=1, description="Partitions of the internal routing and region topics."
    )
    allowed_lateness_s: float = Field(
        default=5.0, ge=0, description="Event-time clock: watermark = latest event time - this."
    )
    live_window_s: float = Field(
        default=180.0,
        gt=0,
        description="Ticks follow the wall clock while event time is this close.",
    )
    tick_interval_s: float = Field(default=1.0, gt=0, description="Wall-clock tick period.")
    dispatch_policy: Path | None = Field(
        default=None, description="Dispatch policy JSON (run cards, speeds); unset: built-in."
    )

    response_config: Path | None = Field(
        default=None, description="Response-time config JSON (circles, ladder); unset: built-in."
    )
    clearance_snapshot_interval_s: float = Field(
        default=60.0, gt=0, description="How often metrics.clearance snapshots are published."
    )

    # --- The city --------------------------------------------------------------------------
    city: Path | None = Field(
        default=None, description="City GeoJSON file; unset: the built-in demo city."
    )

    @field_validator("kafka_bootstrap")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @property
    def uses_local_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def bootstrap(self) -> str:
        """Plain ``host:port[,host:port]`` for clients (no ``kafka://`` scheme)."""
        return self.kafka_bootstrap or f"127.0.0.1:{self.kafka_port}"

    def internal_topic(self, name: str) -> str:
        """An internal topic of this application (routing, region stream)."""
        return f"{self.topic_prefix}{self.app_id}-{name}"

    def topic(self, name: str) -> str:
        """The deployed name of a canonical topic (see ``schemas.topics``)."""
        return f"{self.topic_prefix}{name}"

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(topics.DEAD_LETTERS)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
