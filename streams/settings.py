"""One frozen settings object for the whole process (env prefix ``PATROLFLOW_``).

Everything that differs between a laptop, CI and a production cluster is here and nowhere else.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from schemas import topics

#: Exactly-once commit interval: every hop (input -> routing -> region stream -> outputs) waits
#: for its transaction to commit before the next one reads it. Measured (docs/benchmarks.md):
#: Faust's 2.8 s gave incident -> assignment p50 7.9 s; 0.1 s gave 1.1 s. 0.2 s keeps most of
#: that gain (at most ~0.1 s more per hop) with half the transaction commits on the brokers.
EXACTLY_ONCE_COMMIT_INTERVAL_S = 0.2
#: Faust's own default, kept under at_least_once (it bounds how much is redone after a crash).
FAUST_COMMIT_INTERVAL_S = 2.8


def _default_cache_dir() -> Path:
    return Path.home() / ".cache" / "patrolflow"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="PATROLFLOW_",
        frozen=True,
        extra="ignore",
        env_file=None,
        # A validation error must never echo its input: it holds the Kafka password.
        hide_input_in_errors=True,
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
    # --- Kafka security (streams/security.py turns these into client settings) ---------------
    kafka_security_protocol: Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"] = Field(
        default="PLAINTEXT", description="How every Kafka client connects."
    )
    kafka_sasl_mechanism: Literal["PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512"] | None = Field(
        default=None, description="SASL mechanism (with SASL_PLAINTEXT or SASL_SSL)."
    )
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = Field(
        default=None, description="SASL password; prefer ..._SASL_PASSWORD_FILE."
    )
    kafka_sasl_password_file: Path | None = Field(
        default=None, description="File holding the SASL password (trailing newline ignored)."
    )
    kafka_ssl_cafile: Path | None = Field(
        default=None,
        description="CA bundle (PEM) that signed the brokers' certificates; unset: the system "
        "trust store, or the local broker's own CA when it runs a SASL_SSL listener.",
    )
    kafka_ssl_certfile: Path | None = Field(
        default=None, description="Client certificate (PEM) for mutual TLS."
    )
    kafka_ssl_keyfile: Path | None = Field(
        default=None, description="Client private key (PEM); unset: inside the certfile."
    )
    kafka_ssl_key_password: SecretStr | None = None
    kafka_ssl_check_hostname: bool = Field(
        default=True, description="Verify that the broker certificate names the host dialled."
    )
    kafka_sasl_ssl_port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Local broker only: also listen with SASL_SSL on this port, accepting "
        "..._SASL_USERNAME / ..._SASL_PASSWORD with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512.",
    )

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
    rocksdb_write_buffer_mb: int = Field(
        default=4,
        ge=1,
        description="RocksDB memtable size per table partition (Faust's default is 64 MB, up "
        "to three of them: with a dozen tables that is most of a worker's memory).",
    )
    rocksdb_block_cache_mb: int = Field(
        default=16, ge=1, description="RocksDB read cache per table partition (Faust: 2 GB)."
    )
    processing_guarantee: Literal["at_least_once", "exactly_once"] = "at_least_once"
    commit_interval_s: float | None = Field(
        default=None,
        gt=0,
        description="How often the worker commits what it has processed; under exactly_once "
        "each commit ends a Kafka transaction, and read_committed consumers (our own next hop "
        "included) see output only then. Unset: 0.2 s under exactly_once, Faust's 2.8 s "
        "under at_least_once.",
    )
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

    def worker_env(self, base: Mapping[str, str]) -> dict[str, str]:
        """The environment of a worker subprocess running these settings: ``base`` without
        its PATROLFLOW_* variables, plus every field that is set (secrets in clear: a child
        process needs them; the password file is left out, it was read into the password)."""
        env = {k: v for k, v in base.items() if not k.startswith("PATROLFLOW_")}
        values = self.model_dump(exclude_none=True, exclude={"kafka_sasl_password_file"})
        for name, value in values.items():
            secret = value.get_secret_value() if isinstance(value, SecretStr) else value
            env[f"PATROLFLOW_{name.upper()}"] = str(secret)
        return env

    @field_validator("kafka_bootstrap")
    @classmethod
    def _blank_is_unset(cls, value: str | None) -> str | None:
        return value.strip() or None if value is not None else None

    @model_validator(mode="before")
    @classmethod
    def _password_from_file(cls, data: Any) -> Any:
        """A secret file (Kubernetes/Docker secret mount) fills the password; never both."""
        if not isinstance(data, dict) or not data.get("kafka_sasl_password_file"):
            return data
        if data.get("kafka_sasl_password"):
            raise ValueError(
                "set PATROLFLOW_KAFKA_SASL_PASSWORD or ..._SASL_PASSWORD_FILE, not both"
            )
        path = Path(data["kafka_sasl_password_file"])
        try:
            secret = path.read_text(encoding="utf-8").rstrip("\r\n")
        except OSError as exc:  # the message names the file, never its content
            raise ValueError(
                f"PATROLFLOW_KAFKA_SASL_PASSWORD_FILE {path}: {exc.strerror}"
            ) from None
        return {**data, "kafka_sasl_password": secret}

    @model_validator(mode="after")
    def _security_is_consistent(self) -> Settings:
        problems = _security_problems(self)
        if problems:
            raise ValueError("Kafka security settings: " + "; ".join(problems))
        return self

    @property
    def effective_commit_interval_s(self) -> float:
        """Faust's ``broker_commit_interval``: the setting, else the default for the guarantee."""
        if self.commit_interval_s is not None:
            return self.commit_interval_s
        exactly_once = self.processing_guarantee == "exactly_once"
        return EXACTLY_ONCE_COMMIT_INTERVAL_S if exactly_once else FAUST_COMMIT_INTERVAL_S

    @property
    def uses_local_broker(self) -> bool:
        return self.kafka_bootstrap is None

    @property
    def bootstrap(self) -> str:
        """Plain ``host:port[,host:port]`` for clients (no ``kafka://`` scheme).

        The local broker is dialled on its SASL_SSL listener when clients are set to SASL_SSL.
        """
        if self.kafka_bootstrap:
            return self.kafka_bootstrap
        if self.kafka_sasl_ssl_port is not None and self.kafka_security_protocol == "SASL_SSL":
            return f"127.0.0.1:{self.kafka_sasl_ssl_port}"
        return f"127.0.0.1:{self.kafka_port}"

    @property
    def local_broker_dir(self) -> Path:
        """Where the local broker keeps its config, data, logs and TLS material."""
        return self.cache_dir / f"broker-{self.kafka_port}"

    def internal_topic(self, name: str) -> str:
        """An internal topic of this application (routing, region stream)."""
        return f"{self.topic_prefix}{self.app_id}-{name}"

    def topic(self, name: str) -> str:
        """The deployed name of a canonical topic (see ``schemas.topics``)."""
        return f"{self.topic_prefix}{name}"

    @property
    def dead_letter_topic(self) -> str:
        return self.topic(topics.DEAD_LETTERS)


_SASL = ("SASL_PLAINTEXT", "SASL_SSL")
_TLS = ("SSL", "SASL_SSL")


def _security_problems(s: Settings) -> list[str]:
    """Every inconsistency at once, in the words of the environment variables to fix."""
    problems: list[str] = []
    protocol = s.kafka_security_protocol
    sasl_values = {
        "PATROLFLOW_KAFKA_SASL_MECHANISM": s.kafka_sasl_mechanism,
        "PATROLFLOW_KAFKA_SASL_USERNAME": s.kafka_sasl_username,
        "PATROLFLOW_KAFKA_SASL_PASSWORD": s.kafka_sasl_password,
    }
    if protocol in _SASL:
        missing = [name for name, value in sasl_values.items() if not value]
        if missing:
            problems.append(
                f"PATROLFLOW_KAFKA_SECURITY_PROTOCOL={protocol} needs {', '.join(missing)}"
            )
    elif s.kafka_sasl_ssl_port is None and any(sasl_values.values()):
        given = ", ".join(name for name, value in sasl_values.items() if value)
        problems.append(
            f"{given} set but PATROLFLOW_KAFKA_SECURITY_PROTOCOL={protocol} does not use SASL "
            "(set it to SASL_SSL or SASL_PLAINTEXT)"
        )
    tls_files = {
        "PATROLFLOW_KAFKA_SSL_CAFILE": s.kafka_ssl_cafile,
        "PATROLFLOW_KAFKA_SSL_CERTFILE": s.kafka_ssl_certfile,
        "PATROLFLOW_KAFKA_SSL_KEYFILE": s.kafka_ssl_keyfile,
    }
    if protocol not in _TLS and any(tls_files.values()):
        given = ", ".join(name for name, value in tls_files.items() if value)
        problems.append(
            f"{given} set but PATROLFLOW_KAFKA_SECURITY_PROTOCOL={protocol} does not use TLS "
            "(set it to SSL or SASL_SSL)"
        )
    for name, path in tls_files.items():
        if path is not None and not path.is_file():
            problems.append(f"{name}={path} is not a readable file")
    if s.kafka_ssl_keyfile is not None and s.kafka_ssl_certfile is None:
        problems.append("PATROLFLOW_KAFKA_SSL_KEYFILE needs PATROLFLOW_KAFKA_SSL_CERTFILE")
    if s.kafka_sasl_ssl_port is not None:
        if not (s.kafka_sasl_username and s.kafka_sasl_password):
            problems.append(
                "PATROLFLOW_KAFKA_SASL_SSL_PORT needs PATROLFLOW_KAFKA_SASL_USERNAME and "
                "PATROLFLOW_KAFKA_SASL_PASSWORD: the local broker's SASL_SSL listener accepts them"
            )
        if s.kafka_sasl_ssl_port in (s.kafka_port, s.kafka_controller_port):
            problems.append(
                "PATROLFLOW_KAFKA_SASL_SSL_PORT must differ from the broker and controller ports"
            )
    return problems


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
